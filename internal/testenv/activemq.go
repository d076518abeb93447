package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// ActiveMQJar is where Debian's activemq package puts the broker's launcher.
const ActiveMQJar = "/usr/share/activemq/bin/activemq.jar"

// ActiveMQConsumerPrefix is the virtual topic consumer prefix the test
// broker is set up with, the same shape as Red Hat's UMB: a consumer reads
// Consumer.<app>.queue.VirtualTopic.<topic>.
const ActiveMQConsumerPrefix = "Consumer.*.queue."

// ActiveMQAvailable reports whether Java and the ActiveMQ launcher are
// installed.
func ActiveMQAvailable() error {
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("java: %w", err)
	}
	if _, err := os.Stat(ActiveMQJar); err != nil {
		return err
	}
	if _, err := exec.LookPath("keytool"); err != nil {
		return fmt.Errorf("keytool: %w", err)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		return fmt.Errorf("openssl: %w", err)
	}
	return nil
}

// ActiveMQ is a broker of its own, started from Debian's package with a
// configuration in a directory of the caller's: a plain STOMP connector and
// a STOMP+SSL connector that requires a client certificate, both on free
// loopback ports.
type ActiveMQ struct {
	Dir string
	// STOMPAddr and STOMPSSLAddr are host:port.
	STOMPAddr, STOMPSSLAddr string
	// PKI signs the broker's certificate and a client certificate.
	PKI *PKI

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// StartActiveMQ writes a configuration under dir and starts the broker,
// returning once its STOMP ports accept connections.
func StartActiveMQ(ctx context.Context, dir string) (*ActiveMQ, error) {
	if err := ActiveMQAvailable(); err != nil {
		return nil, err
	}
	pki, err := NewPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	const storePass = "changeit"
	ks := filepath.Join(dir, "conf", "broker.ks")
	ts := filepath.Join(dir, "conf", "broker.ts")
	if err := os.MkdirAll(filepath.Dir(ks), 0o755); err != nil {
		return nil, err
	}
	p12 := filepath.Join(dir, "conf", "broker.p12")
	steps := [][]string{
		{"openssl", "pkcs12", "-export", "-in", pki.ServerCert, "-inkey", pki.ServerKey,
			"-certfile", pki.CACert, "-name", "broker", "-out", p12, "-passout", "pass:" + storePass},
		{"keytool", "-importkeystore", "-noprompt", "-srckeystore", p12, "-srcstoretype", "PKCS12",
			"-srcstorepass", storePass, "-destkeystore", ks, "-deststoretype", "JKS", "-deststorepass", storePass},
		{"keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", pki.CACert,
			"-keystore", ts, "-storetype", "JKS", "-storepass", storePass},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(s[:2], " "), err, out)
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	a := &ActiveMQ{
		Dir:          dir,
		STOMPAddr:    fmt.Sprintf("127.0.0.1:%d", ports[0]),
		STOMPSSLAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		PKI:          pki,
	}
	conf := map[string]string{
		"Data": filepath.Join(dir, "data"), "Stomp": a.STOMPAddr, "StompSSL": a.STOMPSSLAddr,
		"KeyStore": ks, "TrustStore": ts, "Pass": storePass, "Prefix": ActiveMQConsumerPrefix,
	}
	var xml bytes.Buffer
	if err := activemqXML.Execute(&xml, conf); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"activemq.xml":     xml.Bytes(),
		"log4j.properties": fmt.Appendf(nil, log4jProps, filepath.Join(dir, "activemq.log")),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, "conf", name), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := a.start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *ActiveMQ) start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		return errors.New("activemq: already running")
	}
	conf := filepath.Join(a.Dir, "conf")
	tmp := filepath.Join(a.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	// Not CommandContext: the broker outlives the start-up context.
	cmd := exec.Command("java", "-Xms64m", "-Xmx384m",
		"-Dactivemq.home=/usr/share/activemq",
		"-Dactivemq.base="+a.Dir,
		"-Dactivemq.conf="+conf,
		"-Dactivemq.data="+filepath.Join(a.Dir, "data"),
		"-Djava.io.tmpdir="+tmp,
		"-Dlog4j.configuration=file:"+filepath.Join(conf, "log4j.properties"),
		"-jar", ActiveMQJar, "start", "xbean:file:"+filepath.Join(conf, "activemq.xml"))
	cmd.Dir = a.Dir
	a.log = &bytes.Buffer{}
	cmd.Stdout = &lockedWriter{w: a.log}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("activemq: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.cmd, a.done = cmd, done
	for _, addr := range []string{a.STOMPAddr, a.STOMPSSLAddr} {
		if err := waitPort(ctx, addr, done); err != nil {
			a.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("activemq on %s: %w\n%s", addr, err, a.output())
		}
	}
	return nil
}

func (a *ActiveMQ) output() string {
	b, _ := os.ReadFile(filepath.Join(a.Dir, "activemq.log"))
	return a.log.String() + string(b)
}

// Stop shuts the broker down cleanly and waits for it to exit.
func (a *ActiveMQ) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked(syscall.SIGTERM)
}

// Kill ends the broker abruptly, as a crash would.
func (a *ActiveMQ) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked(syscall.SIGKILL)
}

func (a *ActiveMQ) stopLocked(sig syscall.Signal) {
	if a.cmd == nil {
		return
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, sig)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
	}
	a.cmd = nil
}

// Pause freezes the broker (SIGSTOP): connections stay open but nothing
// answers, as with a hung broker or a dead network path. Resume undoes it.
func (a *ActiveMQ) Pause() { a.signal(syscall.SIGSTOP) }

// Resume lets a paused broker run again.
func (a *ActiveMQ) Resume() { a.signal(syscall.SIGCONT) }

func (a *ActiveMQ) signal(sig syscall.Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		_ = syscall.Kill(-a.cmd.Process.Pid, sig)
	}
}

// Restart stops the broker and starts it again on the same ports with the
// same data directory, so persistent messages survive.
func (a *ActiveMQ) Restart(ctx context.Context) error {
	a.Stop()
	return a.Start(ctx)
}

// Start starts a stopped broker again.
func (a *ActiveMQ) Start(ctx context.Context) error {
	return a.start(ctx)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitPort waits until addr accepts a TCP connection, the process ends
// (exited) or ctx ends.
func waitPort(ctx context.Context, addr string, exited <-chan struct{}) error {
	for {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port never opened: %w", ctx.Err())
		case <-exited:
			return errors.New("process exited before its port opened")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
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

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// PKI is a test certificate authority with a server certificate for
// 127.0.0.1/localhost and a client certificate, as PEM files.
type PKI struct {
	CACert, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherClientCert and OtherClientKey are signed by an unrelated CA, for
	// tests of a certificate the broker must refuse.
	OtherClientCert, OtherClientKey string
}

// NewPKI creates the certificates under dir.
func NewPKI(dir string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{
		CACert:          filepath.Join(dir, "ca.pem"),
		ServerCert:      filepath.Join(dir, "server.pem"),
		ServerKey:       filepath.Join(dir, "server-key.pem"),
		ClientCert:      filepath.Join(dir, "client.pem"),
		ClientKey:       filepath.Join(dir, "client-key.pem"),
		OtherClientCert: filepath.Join(dir, "other-client.pem"),
		OtherClientKey:  filepath.Join(dir, "other-client-key.pem"),
	}
	ca, caKey, err := newCert(nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "mts test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, p.CACert, "")
	if err != nil {
		return nil, err
	}
	if _, _, err := newCert(ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, p.ServerCert, p.ServerKey); err != nil {
		return nil, err
	}
	clientTmpl := func() *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: "mts"},
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
	}
	if _, _, err := newCert(ca, caKey, clientTmpl(), p.ClientCert, p.ClientKey); err != nil {
		return nil, err
	}
	other, otherKey, err := newCert(nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "unrelated CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, filepath.Join(dir, "other-ca.pem"), "")
	if err != nil {
		return nil, err
	}
	if _, _, err := newCert(other, otherKey, clientTmpl(), p.OtherClientCert, p.OtherClientKey); err != nil {
		return nil, err
	}
	return p, nil
}

// newCert creates a key and a certificate from tmpl, signed by parent (self
// signed when parent is nil), and writes them as PEM.
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate, certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	if keyFile != "" {
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
			return nil, nil, err
		}
	}
	return cert, key, nil
}

const log4jProps = `log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.file=%s
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%%d %%-5p %%c - %%m%%n
`

var activemqXML = template.Must(template.New("activemq.xml").Parse(`<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="mts-test" useJmx="false"
          persistent="true" advisorySupport="false" dataDirectory="{{.Data}}">
    <destinationInterceptors>
      <virtualDestinationInterceptor>
        <virtualDestinations>
          <virtualTopic name="VirtualTopic.>" prefix="{{.Prefix}}" selectorAware="false"/>
        </virtualDestinations>
      </virtualDestinationInterceptor>
    </destinationInterceptors>
    <persistenceAdapter>
      <kahaDB directory="{{.Data}}/kahadb"/>
    </persistenceAdapter>
    <sslContext>
      <sslContext keyStore="file:{{.KeyStore}}" keyStorePassword="{{.Pass}}"
                  trustStore="file:{{.TrustStore}}" trustStorePassword="{{.Pass}}"/>
    </sslContext>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://{{.Stomp}}?transport.tcpNoDelay=true"/>
      <transportConnector name="stomp+ssl" uri="stomp+ssl://{{.StompSSL}}?needClientAuth=true&amp;transport.tcpNoDelay=true"/>
    </transportConnectors>
  </broker>
</beans>
`))
