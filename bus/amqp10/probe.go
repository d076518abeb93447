package amqp10

import (
	"context"

	"github.com/fedora-modularity/mts/bus"
)

// Probe logs in to each broker in turn until one takes the connection,
// then closes it, consuming and sending nothing: what `mts serve
// --check-config --connect` tries.
func Probe(ctx context.Context, cfg Config) error {
	r, err := cfg.resolve()
	if err != nil {
		return err
	}
	var closeErr error
	err = bus.ProbeAny(ctx, r.endpoints, func(ctx context.Context, ep Endpoint) error {
		conn, err := r.dial(ctx, ep)
		if err != nil {
			return err // dial describes its failures
		}
		closeErr = conn.Close()
		return nil
	})
	if err != nil {
		return err
	}
	return closeErr
}
