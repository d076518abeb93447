package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"
)

func TestActiveMQStartRestart(t *testing.T) {
	if err := ActiveMQAvailable(); err != nil {
		Missing(t, "activemq: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := StartActiveMQ(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()

	caPEM, err := os.ReadFile(a.PKI.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(a.PKI.ClientCert, a.PKI.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	// A STOMP CONNECT over TLS with the client certificate must be answered.
	c, err := tls.Dial("tcp", a.STOMPSSLAddr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatalf("TLS with client certificate: %v", err)
	}
	if _, err := c.Write([]byte("CONNECT\naccept-version:1.2\nhost:localhost\n\n\x00")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "CONNECTED" {
		t.Fatalf("STOMP over TLS answered %q, %v", buf, err)
	}
	c.Close()

	if err := a.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", a.STOMPAddr)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	nc.Close()
}
