package stomp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProbe connects to ActiveMQ as `serve --check-config --connect` does:
// with the client certificate it gets in, with a certificate of another CA
// it is told the certificate was refused, and a broker that is not there is
// named in the error.
func TestProbe(t *testing.T) {
	a := needActiveMQ(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := Config{URIs: []string{"stomp+ssl://" + a.STOMPSSLAddr, "stomp://" + a.STOMPAddr},
		CertFile: a.PKI.ClientCert, KeyFile: a.PKI.ClientKey, CAFile: a.PKI.CACert}
	if err := Probe(ctx, good); err != nil {
		t.Fatalf("probe with the client certificate: %v", err)
	}
	other := good
	other.URIs = []string{"ssl://" + a.STOMPSSLAddr}
	other.CertFile, other.KeyFile = a.PKI.OtherClientCert, a.PKI.OtherClientKey
	if err := Probe(ctx, other); !errors.Is(err, ErrClientCertRefused) {
		t.Errorf("probe with a certificate of another CA: %v, want %v", err, ErrClientCertRefused)
	}
	gone := Config{URIs: []string{"stomp://127.0.0.1:1"}}
	if err := Probe(ctx, gone); err == nil || !strings.Contains(err.Error(), "broker 127.0.0.1:1: ") {
		t.Errorf("probe of a closed port: %v, want an error naming the broker", err)
	}
}
