package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/fedora-modularity/mts/bus"
)

// errPublisherClosed is returned by Publish after Close.
var errPublisherClosed = errors.New("stomp: publisher closed")

// Publisher sends persistent messages to /topic/<prefix>.<topic> and
// waits for the broker's receipt of each.
//
// The client library holds a connection for the whole wait for a receipt,
// so a connection carries one message at a time. The Publisher therefore
// keeps a pool of Config.Connections connections and gives each Publish
// one of its own; the receipts of concurrent publishes are awaited
// together. Each connection is dialled when first needed, fails over
// across the brokers by itself, and is dropped and dialled again after a
// failed send.
type Publisher struct {
	cfg     *resolved
	log     *slog.Logger
	metrics *bus.Metrics

	// idle holds the slots no Publish is using.
	idle chan *slot

	mu     sync.Mutex // guards closed and the conn of every slot
	slots  []*slot
	closed bool
}

// slot is one pooled connection. Only the Publish holding the slot dials
// it or moves next, so neither needs a lock; conn is guarded by
// Publisher.mu because Close takes it away.
type slot struct {
	conn *stomp.Conn
	next int // the endpoint dialled next
}

var (
	_ bus.Publisher = (*Publisher)(nil)
	_ bus.Parker    = (*Publisher)(nil)
)

// NewPublisher checks cfg; it connects on the first Publish.
func NewPublisher(cfg Config, opts ...bus.Option) (*Publisher, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	log, metrics := bus.Named(opts, "stomp")
	p := &Publisher{
		cfg:     r,
		log:     log,
		metrics: metrics,
		idle:    make(chan *slot, r.Connections),
	}
	for range r.Connections {
		s := &slot{}
		p.slots = append(p.slots, s)
		p.idle <- s
	}
	return p, nil
}

// Destination is where a topic is published.
func (p *Publisher) Destination(topic string) string {
	return "/topic/" + p.cfg.TopicPrefix + "." + topic
}

// Publish sends body and returns nil only once the broker has acknowledged
// it with a receipt. It makes one attempt: a failed send drops the
// connection, and the next call dials again, maybe the next broker.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	return p.send(ctx, p.Destination(topic), body, nil)
}

// Park sends body to /queue/<ParkingQueue>, persistent, with headers, and
// waits for the receipt (bus.Parker).
func (p *Publisher) Park(ctx context.Context, body []byte, headers map[string]string) error {
	if p.cfg.ParkingQueue == "" {
		return errors.New("stomp: no parking_queue configured")
	}
	return p.send(ctx, "/queue/"+p.cfg.ParkingQueue, body, headers)
}

func (p *Publisher) send(ctx context.Context, dest string, body []byte, headers map[string]string) error {
	var s *slot
	select {
	case s = <-p.idle:
	case <-ctx.Done():
		p.metrics.PublishErrors.Inc()
		return fmt.Errorf("stomp: publish to %s: %w", dest, ctx.Err())
	}
	defer func() { p.idle <- s }()
	opts := []func(*frame.Frame) error{stomp.SendOpt.Receipt, stomp.SendOpt.Header("persistent", "true")}
	for k, v := range headers {
		opts = append(opts, stomp.SendOpt.Header(k, v))
	}
	conn, err := p.connection(ctx, s)
	if err == nil {
		err = await(ctx, func() error { return conn.Send(dest, "application/json", body, opts...) })
		if err == nil {
			p.metrics.Published.Inc()
			return nil
		}
		if ctx.Err() == nil {
			if be := brokerError("", err); be != nil {
				err = be
			}
			p.drop(s, conn, err)
		}
	}
	p.metrics.PublishErrors.Inc()
	return fmt.Errorf("stomp: publish to %s: %w", dest, err)
}

// connection returns the slot's connection, dialling the brokers in turn
// when it has none. The caller holds s.
func (p *Publisher) connection(ctx context.Context, s *slot) (*stomp.Conn, error) {
	p.mu.Lock()
	closed, conn := p.closed, s.conn
	p.mu.Unlock()
	if closed {
		return nil, errPublisherClosed
	}
	if conn != nil {
		return conn, nil
	}
	// Dialled without the lock, so that one slot waiting for an
	// unreachable broker does not hold up the others.
	var errs []error
	for range p.cfg.endpoints {
		ep := p.cfg.endpoints[s.next]
		s.next = (s.next + 1) % len(p.cfg.endpoints)
		conn, err := p.cfg.dial(ctx, ep, p.log)
		if err == nil {
			p.mu.Lock()
			closed := p.closed
			if !closed {
				s.conn = conn
			}
			p.mu.Unlock()
			if closed {
				go conn.MustDisconnect()
				return nil, errPublisherClosed
			}
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// drop forgets the slot's connection after a failed send, unless Close
// took it already.
func (p *Publisher) drop(s *slot, conn *stomp.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.conn == conn {
		p.log.Warn("dropping broker connection after a failed send", "err", err)
		s.conn = nil
		go conn.MustDisconnect()
	}
}

// Close disconnects every connection. A Publish waiting for a receipt
// still gets it: the library disconnects after the wait.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	var conns []*stomp.Conn
	for _, s := range p.slots {
		if s.conn != nil {
			conns = append(conns, s.conn)
			s.conn = nil
		}
	}
	p.mu.Unlock()
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Go(func() { errs[i] = conn.Disconnect() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
