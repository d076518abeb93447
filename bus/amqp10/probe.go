package amqp10

import (
	"context"
	"errors"
)

// Probe logs in to each broker in turn until one takes the connection,
// then closes it, consuming and sending nothing: what `mts serve
// --check-config --connect` tries.
func Probe(ctx context.Context, cfg Config) error {
	r, err := cfg.resolve()
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range r.endpoints {
		conn, err := r.dial(ctx, ep)
		if err == nil {
			return conn.Close()
		}
		errs = append(errs, err) // dial describes its failures
	}
	return errors.Join(errs...)
}
