package amqp

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Validate reports what would stop a consumer or publisher of cfg from
// starting, connecting to nothing: the URL (the default when empty), the
// prefetch, the client certificate and the CAs.
func Validate(cfg Config) error {
	_, _, err := cfg.resolve()
	return err
}

// Probe connects once to the broker of cfg, the default URL when it names
// none (TLS and EXTERNAL login with a client certificate), and closes the
// connection, declaring and consuming nothing: a deployment check.
func Probe(ctx context.Context, cfg Config) error {
	cfg, ac, err := cfg.resolve()
	if err != nil {
		return err
	}
	type result struct {
		conn *amqp.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := amqp.DialConfig(cfg.URL, *ac)
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fmt.Errorf("amqp: %w", r.err)
		}
		return r.conn.Close()
	case <-ctx.Done():
		// The dial is bounded by its own connect timeout and ends by itself.
		go func() {
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return ctx.Err()
	}
}
