package stomp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// ErrClientCertRefused is wrapped by connection errors where the broker
// turned down the TLS client certificate (or its absence). TLS 1.2 fails
// in the handshake; TLS 1.3 completes the handshake on the client's side
// and fails at the first read, inside STOMP CONNECT: both end up here.
var ErrClientCertRefused = errors.New("client certificate refused")

// ErrConnectionLost is returned by Ack when the connection the
// message came on is gone (the broker will deliver the message again), or
// when the broker's receipt did not come within a heart-beat interval, in
// which case the outcome is unknown and the message may come again.
var ErrConnectionLost = errors.New("stomp: connection lost before acknowledgement")

// ErrSettled is returned by a second Ack of the same delivery.
var ErrSettled = errors.New("stomp: delivery already acknowledged")

// BrokerError is the text of a broker's ERROR frame, which the client
// library would otherwise reduce to its message header.
type BrokerError struct {
	Addr    string
	Message string
	Detail  string
}

func (e *BrokerError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("broker %s: %s", e.Addr, e.Message)
	}
	return fmt.Sprintf("broker %s: %s: %s", e.Addr, e.Message, e.Detail)
}

// dial opens a STOMP connection to ep.
func (r *resolved) dial(ctx context.Context, ep Endpoint, log *slog.Logger) (*stomp.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.Addr)
	if err != nil {
		return nil, err
	}
	if ep.TLS {
		conf := r.tls.Clone()
		if conf.ServerName == "" {
			host, _, _ := net.SplitHostPort(ep.Addr)
			conf.ServerName = host
		}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, r.describe(ep, err)
		}
		nc = tc
	}
	opts := []func(*stomp.Conn) error{
		stomp.ConnOpt.HeartBeat(r.HeartBeat, r.HeartBeat),
		stomp.ConnOpt.HeartBeatError(r.HeartBeatMargin),
		// ActiveMQ beats only when nothing else was written during its
		// last check interval, so up to two intervals can pass between
		// beats: allow twice (interval + margin) before giving up.
		stomp.ConnOpt.HeartBeatGracePeriodMultiplier(2),
		stomp.ConnOpt.RcvReceiptTimeout(r.ReceiptTimeout),
		stomp.ConnOpt.DisconnectReceiptTimeout(5 * time.Second),
		stomp.ConnOpt.Logger(libLogger{log}),
	}
	if r.VirtualHost != "" {
		opts = append(opts, stomp.ConnOpt.Host(r.VirtualHost))
	}
	if r.Login != "" {
		opts = append(opts, stomp.ConnOpt.Login(r.Login, r.Passcode))
	}
	// The library reads the CONNECTED frame without minding ctx unless
	// the connection has a deadline; closing it on ctx's end unblocks it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	conn, err := stomp.ConnectWithContext(ctx, nc, opts...)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, r.describe(ep, err)
	}
	return conn, nil
}

// describe turns a connection failure into an error that says what
// happened: a refused certificate, the broker's ERROR frame text.
func (r *resolved) describe(ep Endpoint, err error) error {
	if refusedCert(err, r.CertFile != "" || (r.tls != nil && len(r.tls.Certificates) > 0)) {
		return fmt.Errorf("broker %s: %w: %w", ep.Addr, ErrClientCertRefused, err)
	}
	if be := brokerError(ep.Addr, err); be != nil {
		return be
	}
	return fmt.Errorf("broker %s: %w", ep.Addr, err)
}

// refusedCert recognises the TLS alerts a server sends when it will not
// take the client's certificate.
func refusedCert(err error, sentCert bool) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" {
		return false
	}
	text := op.Err.Error()
	switch {
	case strings.Contains(text, "certificate"), strings.Contains(text, "access denied"):
		return true
	case strings.Contains(text, "handshake failure"):
		// Without a certificate, a generic handshake failure under TLS 1.2
		// is how some servers say they wanted one.
		return !sentCert
	}
	return false
}

func brokerError(addr string, err error) *BrokerError {
	var se stomp.Error
	var sp *stomp.Error
	switch {
	case errors.As(err, &se):
	case errors.As(err, &sp):
		se = *sp
	default:
		return nil
	}
	if se.Frame == nil || se.Frame.Command != "ERROR" {
		return nil
	}
	return &BrokerError{
		Addr:    addr,
		Message: se.Frame.Header.Get("message"),
		Detail:  strings.TrimSpace(string(se.Frame.Body)),
	}
}

// libLogger sends the client library's own logs to slog at debug level:
// its errors reach the caller as returned errors.
type libLogger struct{ log *slog.Logger }

func (l libLogger) Debugf(f string, v ...any)   { l.log.Debug(fmt.Sprintf(f, v...)) }
func (l libLogger) Infof(f string, v ...any)    { l.log.Debug(fmt.Sprintf(f, v...)) }
func (l libLogger) Warningf(f string, v ...any) { l.log.Debug(fmt.Sprintf(f, v...)) }
func (l libLogger) Errorf(f string, v ...any)   { l.log.Debug(fmt.Sprintf(f, v...)) }
func (l libLogger) Debug(m string)              { l.log.Debug(m) }
func (l libLogger) Info(m string)               { l.log.Debug(m) }
func (l libLogger) Warning(m string)            { l.log.Debug(m) }
func (l libLogger) Error(m string)              { l.log.Debug(m) }
