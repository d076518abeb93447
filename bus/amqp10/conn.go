package amqp10

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"syscall"

	amqp "github.com/Azure/go-amqp"
)

// ErrClientCertRefused is wrapped by connection errors where the broker
// turned down the TLS client certificate (or its absence). Under TLS 1.3
// the handshake completes on the client's side and the refusal arrives at
// the first read, inside the AMQP protocol header exchange: both end up
// here.
var ErrClientCertRefused = errors.New("client certificate refused")

// ErrServerCertUntrusted is wrapped by connection errors where the
// broker's certificate does not verify against the CA bundle.
var ErrServerCertUntrusted = errors.New("broker certificate not trusted")

// ErrConnectionLost is returned by Ack when the connection the
// message came on is gone: the broker will deliver the message again.
var ErrConnectionLost = errors.New("amqp10: connection lost before settlement")

// ErrSettled is returned by a second Ack of the same delivery.
var ErrSettled = errors.New("amqp10: delivery already settled")

// TLS alert numbers (RFC 8446, section 6) with which servers refuse a
// client certificate.
const (
	alertHandshakeFailure    = 40
	alertBadCertificate      = 42
	alertUnsupportedCert     = 43
	alertCertificateRevoked  = 44
	alertCertificateExpired  = 45
	alertCertificateUnknown  = 46
	alertUnknownCA           = 48
	alertAccessDenied        = 49
	alertCertificateRequired = 116
)

// dial opens a connection to ep: TCP, TLS when the URI says amqps, SASL
// (PLAIN with a login; otherwise EXTERNAL or ANONYMOUS, whichever the
// broker lists first) and the AMQP open exchange.
func (r *resolved) dial(ctx context.Context, ep Endpoint) (*amqp.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", ep.Addr, err)
	}
	// Set when the connection is TLS 1.3, where the broker checks the
	// client's certificate only after the client's side of the handshake
	// is done: its refusal comes with the first AMQP bytes.
	tls13 := false
	if ep.TLS {
		conf := r.tls.Clone()
		if conf.ServerName == "" {
			conf.ServerName = ep.Host
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, r.describe(ep, err, false)
		}
		tls13 = tc.ConnectionState().Version == tls.VersionTLS13
		nc = tc
	}
	opts := &amqp.ConnOptions{
		HostName:    ep.Host,
		IdleTimeout: r.IdleTimeout,
		Properties:  map[string]any{"product": "mts"},
		SASLType:    r.sasl(),
	}
	if r.SubscriptionName != "" {
		// Brokers key a durable subscription on the container id and
		// the link name.
		opts.ContainerID = r.SubscriptionName
	}
	conn, err := amqp.NewConn(ctx, nc, opts)
	if err != nil {
		return nil, r.describe(ep, err, tls13)
	}
	return conn, nil
}

func (r *resolved) sasl() amqp.SASLType {
	if r.Login != "" {
		return amqp.SASLTypePlain(r.Login, r.Password)
	}
	external, anonymous := amqp.SASLTypeExternal(""), amqp.SASLTypeAnonymous()
	return func(c *amqp.Conn) error {
		if err := external(c); err != nil {
			return err
		}
		return anonymous(c)
	}
}

// describe turns a connection failure into an error that says what
// happened; afterTLS13 tells a failure of the first exchange after a TLS
// 1.3 handshake.
func (r *resolved) describe(ep Endpoint, err error, afterTLS13 bool) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case refusedCert(err, r.tls != nil && len(r.tls.Certificates) > 0, afterTLS13):
		return fmt.Errorf("broker %s: %w: %w", ep.Addr, ErrClientCertRefused, err)
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &hostname):
		return fmt.Errorf("broker %s: %w (check rhmsg_ca_cert): %w", ep.Addr, ErrServerCertUntrusted, err)
	}
	return fmt.Errorf("broker %s: %w", ep.Addr, err)
}

// refusedCert recognises the TLS alerts a server sends when it will not
// take the client's certificate. crypto/tls reports a received alert as a
// net.OpError "remote error" around a value of its unexported alert type,
// a uint8, so the alert number is read from that value.
func refusedCert(err error, sentCert, afterTLS13 bool) bool {
	if (afterTLS13 || !sentCert) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		// Under TLS 1.3 the server checks the client's certificate (or
		// its absence) after the client thinks the handshake done, and
		// may reset the connection before its alert is read; a server
		// that wanted a certificate and got none may reset at any point
		// of the handshake.
		return true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	v := reflect.ValueOf(op.Err)
	if !v.CanUint() {
		return false
	}
	switch v.Uint() {
	case alertBadCertificate, alertUnsupportedCert, alertCertificateRevoked, alertCertificateExpired,
		alertCertificateUnknown, alertUnknownCA, alertAccessDenied, alertCertificateRequired:
		return true
	case alertHandshakeFailure:
		// Without a certificate, a generic handshake failure under TLS 1.2
		// is how some servers say they wanted one.
		return !sentCert
	}
	return false
}
