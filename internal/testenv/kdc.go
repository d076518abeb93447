package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MIT Kerberos binaries as Debian installs them (krb5-kdc, krb5-admin-server).
const (
	krb5kdcBin    = "/usr/sbin/krb5kdc"
	kdb5UtilBin   = "/usr/sbin/kdb5_util"
	kadminLocal   = "/usr/sbin/kadmin.local"
	faketimeBin   = "/usr/bin/faketime"
	testRealm     = "MTS.TEST"
	kdcMasterPass = "master-password-for-tests"
)

// KDCOptions tweaks a KDC.
type KDCOptions struct {
	// ClockOffset runs the KDC with its clock moved by this much
	// (libfaketime syntax, e.g. "+1h"), to provoke clock-skew errors.
	ClockOffset string
}

// KDC is a running MIT krb5kdc with its own realm and database.
type KDC struct {
	Realm string
	// KRB5Config is a krb5.conf pointing at this KDC; Env sets it (and the
	// KDC profile) for child processes.
	KRB5Config string
	Env        []string
	Port       int
	dir        string
}

// StartKDC creates a realm in a temporary directory, starts krb5kdc on a
// free loopback port and stops it when the test ends. It calls Missing when
// the MIT KDC is not installed.
func StartKDC(tb testing.TB, o KDCOptions) *KDC {
	tb.Helper()
	need := []string{krb5kdcBin, kdb5UtilBin, kadminLocal}
	if o.ClockOffset != "" {
		need = append(need, faketimeBin)
	}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			Missing(tb, "Kerberos KDC: %s not found (Debian packages krb5-kdc, krb5-admin-server, faketime)", f)
		}
	}
	dir := tb.TempDir()
	ports, err := loopbackPorts(1)
	if err != nil {
		tb.Fatal(err)
	}
	k := &KDC{Realm: testRealm, Port: ports[0], dir: dir, KRB5Config: filepath.Join(dir, "krb5.conf")}
	kdcConf := filepath.Join(dir, "kdc.conf")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write(kdcConf, fmt.Sprintf(`[kdcdefaults]
	kdc_ports = %[2]d
	kdc_tcp_ports = %[2]d

[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
		kdc_ports = %[2]d
		kdc_tcp_ports = %[2]d
		max_life = 10h 0m 0s
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = FILE:%[3]s/kdc.log
`, k.Realm, k.Port, dir))
	write(k.KRB5Config, fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	udp_preference_limit = 1
	default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[2]d
	}

[domain_realm]
	localhost = %[1]s
	.localhost = %[1]s
`, k.Realm, k.Port))
	write(filepath.Join(dir, "kadm5.acl"), "*/admin@"+k.Realm+" *\n")
	k.Env = []string{"KRB5_CONFIG=" + k.KRB5Config, "KRB5_KDC_PROFILE=" + kdcConf}
	k.run(tb, kdb5UtilBin, "create", "-s", "-r", k.Realm, "-P", kdcMasterPass)

	args := []string{krb5kdcBin, "-n", "-r", k.Realm, "-P", filepath.Join(dir, "kdc.pid")}
	if o.ClockOffset != "" {
		args = append([]string{faketimeBin, "-f", o.ClockOffset}, args...)
	}
	var out bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), k.Env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start krb5kdc: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "kdc.log"))
			tb.Fatalf("krb5kdc exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("krb5kdc did not listen on %d: %s", k.Port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return k
}

func (k *KDC) run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), k.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// AddPrincipal creates principal (without realm: the KDC's is added) with a
// random key, or with password when it is not empty.
func (k *KDC) AddPrincipal(tb testing.TB, principal, password string) {
	tb.Helper()
	q := "addprinc -randkey " + k.full(principal)
	if password != "" {
		q = fmt.Sprintf("addprinc -pw %s %s", password, k.full(principal))
	}
	k.run(tb, kadminLocal, "-r", k.Realm, "-q", q)
}

// Keytab writes a new key for principal into a new keytab file and returns
// its path. Each call gives the principal a new key, which makes keytabs
// written earlier stale.
func (k *KDC) Keytab(tb testing.TB, principal string) string {
	tb.Helper()
	f := filepath.Join(k.dir, strings.NewReplacer("/", "_", "@", "_").Replace(principal)+fmt.Sprintf("-%d.keytab", time.Now().UnixNano()))
	k.run(tb, kadminLocal, "-r", k.Realm, "-q", fmt.Sprintf("ktadd -k %s %s", f, k.full(principal)))
	return f
}

// Principal returns principal with the realm.
func (k *KDC) Principal(name string) string { return k.full(name) }

func (k *KDC) full(p string) string {
	if strings.Contains(p, "@") {
		return p
	}
	return p + "@" + k.Realm
}
