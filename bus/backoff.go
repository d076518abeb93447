package bus

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff spaces out reconnection attempts: the delay doubles from Min up to
// Max, with jitter so that several replicas do not hammer a recovering
// broker in step. The zero value uses 100ms and 30s.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// Reset starts again from Min, after a connection proved healthy.
func (b *Backoff) Reset() { b.attempt = 0 }

// Next returns the delay before the next attempt and advances.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	d := lo
	for i := 0; i < b.attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	b.attempt++
	// Full jitter on the upper half keeps the delay at least d/2.
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps for the next delay or until ctx ends, whichever comes first.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
