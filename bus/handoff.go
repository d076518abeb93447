package bus

import (
	"context"
	"sync"
)

// Handoff is the part every consumer shares: goroutines that read the
// broker pass decoded deliveries to the workers that call Receive, and
// Close stops those goroutines and waits for them.
type Handoff struct {
	out    chan Delivery
	closed chan struct{}
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHandoff returns a handoff with no reader yet.
func NewHandoff() *Handoff {
	ctx, cancel := context.WithCancel(context.Background())
	return &Handoff{out: make(chan Delivery), closed: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// Go runs reader in a goroutine of its own, with a context that Close
// cancels.
func (h *Handoff) Go(reader func(ctx context.Context)) {
	h.wg.Go(func() { reader(h.ctx) })
}

// Deliver waits until a worker takes d, or ctx ends (its error is
// returned: d was not handed over).
func (h *Handoff) Deliver(ctx context.Context, d Delivery) error {
	select {
	case h.out <- d:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Receive implements Consumer.Receive.
func (h *Handoff) Receive(ctx context.Context) (Delivery, error) {
	select {
	case d := <-h.out:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.closed:
		return nil, ErrClosed
	}
}

// Close stops the readers and waits for them to return.
func (h *Handoff) Close() error {
	h.once.Do(func() {
		close(h.closed)
		h.cancel()
	})
	h.wg.Wait()
	return nil
}

// excerptLimit bounds how much of a bad message a log line carries.
const excerptLimit = 512

// Excerpt is the start of a message body for a log line about it.
func Excerpt(b []byte) string {
	if len(b) > excerptLimit {
		return string(b[:excerptLimit]) + "..."
	}
	return string(b)
}
