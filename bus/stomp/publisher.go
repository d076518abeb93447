package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/bus"
)

// Publisher sends persistent messages to /topic/<prefix>.<topic> and
// waits for the broker's receipt of each.
type Publisher struct {
	cfg     *resolved
	log     *slog.Logger
	metrics *bus.Metrics

	mu     sync.Mutex // guards conn, next and closed; held while connecting
	conn   *stomp.Conn
	next   int
	closed bool
}

var _ bus.Publisher = (*Publisher)(nil)

// NewPublisher checks cfg; it connects on the first Publish.
func NewPublisher(cfg Config, opts ...bus.Option) (*Publisher, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	o := bus.ApplyOptions(opts)
	return &Publisher{
		cfg:     r,
		log:     o.Logger.With("bus", "stomp"),
		metrics: bus.NewMetrics(o.Registerer, "stomp"),
	}, nil
}

// Destination is where a topic is published.
func (p *Publisher) Destination(topic string) string {
	return "/topic/" + p.cfg.TopicPrefix + "." + topic
}

// Publish sends body and returns once the broker has acknowledged it with
// a receipt. A failed send is tried once more on a fresh connection, which
// may be to the next broker.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	dest := p.Destination(topic)
	var err error
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		var conn *stomp.Conn
		conn, err = p.connection(ctx)
		if err != nil {
			break
		}
		err = await(ctx, func() error {
			return conn.Send(dest, "application/json", body,
				stomp.SendOpt.Receipt,
				stomp.SendOpt.Header("persistent", "true"))
		})
		if err == nil {
			p.metrics.Published.Inc()
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		if be := brokerError("", err); be != nil {
			err = be
		}
		p.drop(conn, err)
	}
	if ctx.Err() != nil && err == nil {
		err = ctx.Err()
	}
	p.metrics.PublishErrors.Inc()
	return fmt.Errorf("stomp: publish to %s: %w", dest, err)
}

// connection returns the current connection, dialling the brokers in turn
// when there is none.
func (p *Publisher) connection(ctx context.Context) (*stomp.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("stomp: publisher closed")
	}
	if p.conn != nil {
		return p.conn, nil
	}
	var errs []error
	for range p.cfg.endpoints {
		ep := p.cfg.endpoints[p.next]
		p.next = (p.next + 1) % len(p.cfg.endpoints)
		conn, err := p.cfg.dial(ctx, ep, p.log)
		if err == nil {
			p.conn = conn
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (p *Publisher) drop(conn *stomp.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == conn {
		p.log.Warn("dropping broker connection after a failed send", "err", err)
		p.conn = nil
		go conn.MustDisconnect()
	}
}

// Close disconnects.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn == nil {
		return nil
	}
	err := p.conn.Disconnect()
	p.conn = nil
	return err
}
