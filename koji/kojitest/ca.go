package kojitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made at test time. Its files live in a
// temporary directory removed when the test ends.
type CA struct {
	tb   testing.TB
	name string
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string

	mu     sync.Mutex
	serial int64
}

// NewCA creates a CA whose certificate is written to CA.File.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"mts tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := tb.TempDir()
	ca := &CA{tb: tb, name: name, dir: dir, cert: cert, key: key, serial: 1}
	ca.file = filepath.Join(dir, "ca.pem")
	writePEM(tb, ca.file, 0o644, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return ca
}

// File returns the path of the CA certificate (PEM), for serverca or
// SSLCACertificateFile.
func (ca *CA) File() string { return ca.file }

// ClientCertOpts tweaks an issued client certificate.
type ClientCertOpts struct {
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
}

// ClientCert issues a client certificate for cn and returns the path of one
// PEM file holding the certificate and its key, as koji's "cert" wants.
func (ca *CA) ClientCert(cn string, o ClientCertOpts) string {
	ca.tb.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	certPEM, keyPEM := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   o.NotBefore,
		NotAfter:    o.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	f := filepath.Join(ca.dir, "client-"+safeName(cn)+"-"+o.NotAfter.Format("20060102150405")+".pem")
	if err := os.WriteFile(f, append(certPEM, keyPEM...), 0o600); err != nil {
		ca.tb.Fatal(err)
	}
	return f
}

// ServerCert issues a server certificate for hosts (names or IPs) and
// returns the certificate and key files.
func (ca *CA) ServerCert(hosts ...string) (certFile, keyFile string) {
	ca.tb.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	certPEM, keyPEM := ca.issue(tmpl)
	certFile = filepath.Join(ca.dir, "server-"+safeName(hosts[0])+".crt")
	keyFile = filepath.Join(ca.dir, "server-"+safeName(hosts[0])+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		ca.tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		ca.tb.Fatal(err)
	}
	return certFile, keyFile
}

func (ca *CA) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.tb.Fatal(err)
	}
	ca.mu.Lock()
	ca.serial++
	tmpl.SerialNumber = big.NewInt(ca.serial)
	ca.mu.Unlock()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func writePEM(tb testing.TB, path string, mode os.FileMode, b *pem.Block) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(b), mode); err != nil {
		tb.Fatal(err)
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
