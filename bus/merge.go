package bus

import (
	"context"
	"errors"
	"sync"
)

// Merge reads several consumers as one, for a bus whose inputs each need
// a consumer of their own (AMQP 1.0: one receiving link, with its own
// credit, per address). Each delivery is still acknowledged on the
// consumer it came from. Close closes every consumer; Receive returns
// ErrClosed once all of them have ended.
func Merge(cs ...Consumer) Consumer {
	if len(cs) == 1 {
		return cs[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &merged{cs: cs, out: make(chan Delivery), ended: make(chan struct{}), cancel: cancel}
	for _, c := range cs {
		m.wg.Go(func() { m.forward(ctx, c) })
	}
	go func() {
		m.wg.Wait()
		close(m.ended)
	}()
	return m
}

type merged struct {
	cs     []Consumer
	out    chan Delivery
	ended  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// forward hands c's deliveries over until c ends or the merge is closed.
// A delivery taken and not handed over is left unacknowledged: closing c
// gives it back to the broker.
func (m *merged) forward(ctx context.Context, c Consumer) {
	for {
		// A broker consumer's Receive fails only when ctx ends or the
		// consumer was closed.
		d, err := c.Receive(ctx)
		if err != nil {
			return
		}
		select {
		case m.out <- d:
		case <-ctx.Done():
			return
		}
	}
}

// Receive implements Consumer.Receive.
func (m *merged) Receive(ctx context.Context) (Delivery, error) {
	select {
	case d := <-m.out:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-m.ended:
		return nil, ErrClosed
	}
}

// Connected reports whether every consumer is connected: an input that
// is not read is an outage.
func (m *merged) Connected() bool {
	for _, c := range m.cs {
		if !c.Connected() {
			return false
		}
	}
	return true
}

// Close stops forwarding and closes every consumer.
func (m *merged) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
		var errs []error
		for _, c := range m.cs {
			errs = append(errs, c.Close())
		}
		m.err = errors.Join(errs...)
	})
	return m.err
}
