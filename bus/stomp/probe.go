package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// Probe connects once to every broker of cfg (TCP, TLS with the client
// certificate, STOMP CONNECT with the login) and disconnects, subscribing
// to nothing: a deployment check that consumes no message. It returns
// every broker's failure, described as the consumer would.
func Probe(ctx context.Context, cfg Config) error {
	r, err := cfg.resolve()
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range r.endpoints {
		conn, err := r.dial(ctx, ep, slog.New(slog.DiscardHandler))
		if err != nil {
			// A TCP failure comes unwrapped; the others name the broker.
			if _, ok := err.(*net.OpError); ok {
				err = fmt.Errorf("broker %s: %w", ep.Addr, err)
			}
			errs = append(errs, err)
			continue
		}
		_ = conn.Disconnect()
	}
	return errors.Join(errs...)
}
