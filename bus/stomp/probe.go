package stomp

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/fedora-modularity/mts/bus"
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
	return bus.ProbeAll(ctx, r.endpoints, func(ctx context.Context, ep Endpoint) error {
		conn, err := r.dial(ctx, ep, slog.New(slog.DiscardHandler))
		if err != nil {
			// A TCP failure comes unwrapped; the others name the broker.
			if _, ok := err.(*net.OpError); ok {
				err = fmt.Errorf("broker %s: %w", ep.Addr, err)
			}
			return err
		}
		_ = conn.Disconnect()
		return nil
	})
}
