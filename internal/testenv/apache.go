package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Apache binaries and modules as Debian installs them.
const (
	apacheBin     = "/usr/sbin/apache2"
	apacheModules = "/usr/lib/apache2/modules"
)

// HubProxyOptions describes an Apache httpd TLS reverse proxy in front of a
// stand-in Koji hub, set up as real hubs are.
type HubProxyOptions struct {
	// Backend is the hub's plain-HTTP listener, "http://127.0.0.1:port".
	Backend string
	// Path is the hub's path on the backend and on the proxy, "/kojihub"
	// when empty.
	Path string
	// ServerCert and ServerKey are the proxy's certificate for localhost.
	ServerCert, ServerKey string
	// ClientCA verifies client certificates.
	ClientCA string
	// Keytab, when set, holds HTTP/localhost@REALM and enables a third
	// virtual host doing Kerberos (mod_auth_gssapi) on /ssllogin.
	Keytab string
	// Env is added to Apache's environment (e.g. KRB5_CONFIG).
	Env []string
}

// HubProxy is a running Apache httpd. The URLs point at the hub path.
type HubProxy struct {
	// LocationURL asks for a client certificate only on <path>/ssllogin
	// (TLS renegotiation, so TLS 1.2 for that request).
	LocationURL string
	// WholeHostURL asks for a client certificate in every handshake.
	WholeHostURL string
	// GSSAPIURL does SPNEGO on <path>/ssllogin; empty without a keytab.
	GSSAPIURL string
	// ErrorLog is Apache's error log, for test failure messages.
	ErrorLog string
}

const apacheConf = `ServerRoot "{{.Dir}}"
ServerName localhost
PidFile "{{.Dir}}/httpd.pid"
DefaultRuntimeDir "{{.Dir}}"
Mutex file:{{.Dir}} default
ErrorLog "{{.Dir}}/error.log"
LogLevel warn ssl:warn
{{if .Root}}User nobody
Group nogroup
{{end}}
LoadModule mpm_event_module {{.Mods}}/mod_mpm_event.so
LoadModule authz_core_module {{.Mods}}/mod_authz_core.so
LoadModule authn_core_module {{.Mods}}/mod_authn_core.so
LoadModule authz_user_module {{.Mods}}/mod_authz_user.so
LoadModule ssl_module {{.Mods}}/mod_ssl.so
LoadModule socache_shmcb_module {{.Mods}}/mod_socache_shmcb.so
LoadModule proxy_module {{.Mods}}/mod_proxy.so
LoadModule proxy_http_module {{.Mods}}/mod_proxy_http.so
LoadModule headers_module {{.Mods}}/mod_headers.so
{{if .Keytab}}LoadModule auth_gssapi_module {{.Mods}}/mod_auth_gssapi.so
{{end}}
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
SSLSessionCache "shmcb:{{.Dir}}/ssl_scache(512000)"
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile "{{.Cert}}"
SSLCertificateKeyFile "{{.Key}}"
SSLCACertificateFile "{{.CA}}"

Listen 127.0.0.1:{{.LocPort}}
<VirtualHost 127.0.0.1:{{.LocPort}}>
	SSLEngine on
	SSLVerifyClient none
	RequestHeader unset X-Koji-Client-CN
	RequestHeader unset X-Koji-Remote-User
	ProxyPass {{.Path}} {{.Backend}}{{.Path}}
	<Location {{.Path}}/ssllogin>
		SSLVerifyClient require
		SSLVerifyDepth 2
		RequestHeader set X-Koji-Client-CN "%{SSL_CLIENT_S_DN_CN}s"
	</Location>
</VirtualHost>

Listen 127.0.0.1:{{.HostPort}}
<VirtualHost 127.0.0.1:{{.HostPort}}>
	SSLEngine on
	SSLVerifyClient require
	SSLVerifyDepth 2
	RequestHeader unset X-Koji-Remote-User
	RequestHeader set X-Koji-Client-CN "%{SSL_CLIENT_S_DN_CN}s"
	ProxyPass {{.Path}} {{.Backend}}{{.Path}}
</VirtualHost>
{{if .Keytab}}
Listen 127.0.0.1:{{.GSSPort}}
<VirtualHost 127.0.0.1:{{.GSSPort}}>
	SSLEngine on
	SSLVerifyClient none
	RequestHeader unset X-Koji-Client-CN
	RequestHeader unset X-Koji-Remote-User
	ProxyPass {{.Path}} {{.Backend}}{{.Path}}
	<Location {{.Path}}/ssllogin>
		AuthType GSSAPI
		AuthName "Koji"
		GssapiCredStore keytab:{{.Keytab}}
		GssapiAllowedMech krb5
		GssapiBasicAuth Off
		GssapiLocalName Off
		Require valid-user
		RequestHeader set X-Koji-Remote-User expr=%{REMOTE_USER}
	</Location>
</VirtualHost>
{{end}}
`

// StartHubProxy starts Apache httpd with its own configuration in a
// temporary directory and stops it when the test ends. It calls Missing
// when Apache or a module is not installed.
func StartHubProxy(tb testing.TB, o HubProxyOptions) *HubProxy {
	tb.Helper()
	need := []string{apacheBin, filepath.Join(apacheModules, "mod_ssl.so"), filepath.Join(apacheModules, "mod_proxy_http.so")}
	if o.Keytab != "" {
		need = append(need, filepath.Join(apacheModules, "mod_auth_gssapi.so"))
	}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			Missing(tb, "Apache httpd: %s not found (Debian packages apache2, libapache2-mod-auth-gssapi)", f)
		}
	}
	if o.Path == "" {
		o.Path = "/kojihub"
	}
	// Apache's workers run as nobody when started as root, and read the
	// keytab at request time: the directory must be reachable for them,
	// which t.TempDir (mode 0700 under a 0700 parent) is not.
	dir, err := os.MkdirTemp("", "mts-apache-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	keytab := ""
	if o.Keytab != "" {
		keytab = filepath.Join(dir, "http.keytab")
		data, err := os.ReadFile(o.Keytab)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(keytab, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// The same holds for krb5.conf, which mod_auth_gssapi reads in the
	// workers: give them a copy they can open.
	env := slices.Clone(o.Env)
	for i, e := range env {
		if path, ok := strings.CutPrefix(e, "KRB5_CONFIG="); ok {
			data, err := os.ReadFile(path)
			if err != nil {
				tb.Fatal(err)
			}
			cp := filepath.Join(dir, "krb5.conf")
			if err := os.WriteFile(cp, data, 0o644); err != nil {
				tb.Fatal(err)
			}
			env[i] = "KRB5_CONFIG=" + cp
		}
	}
	ports, err := loopbackPorts(3)
	if err != nil {
		tb.Fatal(err)
	}
	var conf bytes.Buffer
	err = template.Must(template.New("httpd").Parse(apacheConf)).Execute(&conf, map[string]any{
		"Dir": dir, "Mods": apacheModules, "Root": os.Geteuid() == 0, "Keytab": keytab,
		"Cert": o.ServerCert, "Key": o.ServerKey, "CA": o.ClientCA, "Backend": o.Backend, "Path": o.Path,
		"LocPort": ports[0], "HostPort": ports[1], "GSSPort": ports[2],
	})
	if err != nil {
		tb.Fatal(err)
	}
	confFile := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confFile, conf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	p := &HubProxy{
		LocationURL:  fmt.Sprintf("https://localhost:%d%s", ports[0], o.Path),
		WholeHostURL: fmt.Sprintf("https://localhost:%d%s", ports[1], o.Path),
		ErrorLog:     filepath.Join(dir, "error.log"),
	}
	if keytab != "" {
		p.GSSAPIURL = fmt.Sprintf("https://localhost:%d%s", ports[2], o.Path)
	}
	cmd := exec.Command(apacheBin, "-f", confFile, "-d", dir, "-DFOREGROUND")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &conf, &conf
	conf.Reset()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start apache: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	check := ports[:2]
	if keytab != "" {
		check = ports
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, port := range check {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-done:
				log, _ := os.ReadFile(p.ErrorLog)
				tb.Fatalf("apache exited: %v\n%s\n%s", err, conf.String(), log)
			default:
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(p.ErrorLog)
				tb.Fatalf("apache did not listen on %d: %s\n%s", port, conf.String(), log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

// Log returns Apache's error log, for failure messages.
func (p *HubProxy) Log() string {
	b, _ := os.ReadFile(p.ErrorLog)
	return strings.TrimSpace(string(b))
}

// loopbackPorts returns n loopback TCP ports that were free a moment ago.
func loopbackPorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
