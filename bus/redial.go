package bus

import (
	"context"
	"log/slog"
	"time"
)

// Redial keeps a consumer connected for as long as its context lasts.
// Brokers are tried in turn from where the last attempt left off; the first
// that answers is served until its connection fails. After a lost
// connection, or once every broker refused, it waits out Backoff. A
// connection that held for a while proves the broker healthy, so the next
// one comes back quickly; one that failed at once must not spin.
type Redial[E, C any] struct {
	Endpoints []E
	// Addr names an endpoint in logs; it must not carry credentials.
	Addr    func(E) string
	Dial    func(context.Context, E) (C, error)
	Serve   func(context.Context, C, E) error
	Backoff Backoff
	Log     *slog.Logger
	Metrics *Metrics
}

// healthyAfter is how long a connection must have held to reset the
// backoff.
const healthyAfter = 30 * time.Second

// Run connects and serves until ctx ends.
func (r *Redial[E, C]) Run(ctx context.Context) {
	next := 0
	served := false
	for ctx.Err() == nil {
		for range r.Endpoints {
			ep := r.Endpoints[next]
			next = (next + 1) % len(r.Endpoints)
			conn, err := r.Dial(ctx, ep)
			if err != nil {
				if ctx.Err() == nil {
					r.Log.Warn("cannot connect to broker", "broker", r.Addr(ep), "err", err)
				}
				continue
			}
			if served {
				r.Metrics.Reconnects.Inc()
			}
			served = true
			start := time.Now()
			err = r.Serve(ctx, conn, ep)
			if ctx.Err() != nil {
				return
			}
			r.Log.Warn("lost connection to broker", "broker", r.Addr(ep), "err", err)
			if time.Since(start) > healthyAfter {
				r.Backoff.Reset()
			}
			break
		}
		if r.Backoff.Wait(ctx) != nil {
			return
		}
	}
}
