package bus

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Backoff spaces out attempts at something that failed: the delay doubles
// from Min up to Max, with jitter so that several replicas do not hammer a
// recovering broker or hub in step. Each delay lies between half its step
// and the step itself, so Max is a true cap. The zero value uses 100ms and
// 30s.
type Backoff struct {
	Min, Max time.Duration
	exp      *backoff.ExponentialBackOff
}

// Reset starts again from Min, after a connection proved healthy.
func (b *Backoff) Reset() {
	if b.exp != nil {
		b.exp.Reset()
	}
}

// Next returns the delay before the next attempt and advances.
func (b *Backoff) Next() time.Duration {
	if b.exp == nil {
		lo, hi := b.Min, b.Max
		if lo <= 0 {
			lo = 100 * time.Millisecond
		}
		if hi <= 0 {
			hi = 30 * time.Second
		}
		hi = max(hi, lo)
		// A step s is randomised to s ± s/3; steps of 3/4 of the bounds
		// give delays from half a bound to the bound.
		b.exp = &backoff.ExponentialBackOff{
			InitialInterval:     lo * 3 / 4,
			RandomizationFactor: 1.0 / 3,
			Multiplier:          2,
			MaxInterval:         hi * 3 / 4,
		}
		b.exp.Reset()
	}
	return b.exp.NextBackOff()
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
