package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
)

// Publisher sends fedora-messaging messages to the topic exchange and
// waits for the broker's publisher confirm.
type Publisher struct {
	cfg     Config
	amqpCfg *amqp.Config
	log     *slog.Logger
	metrics *bus.Metrics

	mu     sync.Mutex // guards conn, ch and closed
	conn   *amqp.Connection
	ch     *amqp.Channel
	closed bool
}

var _ bus.Publisher = (*Publisher)(nil)

// NewPublisher checks cfg; it connects on the first Publish.
func NewPublisher(cfg Config, opts ...bus.Option) (*Publisher, error) {
	cfg, ac, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	o := bus.ApplyOptions(opts)
	return &Publisher{cfg: cfg, amqpCfg: ac, log: o.Logger.With("bus", "amqp"),
		metrics: bus.NewMetrics(o.Registerer, "amqp")}, nil
}

// RoutingKey is the full topic a relative topic is published under.
func (p *Publisher) RoutingKey(topic string) string {
	return p.cfg.TopicPrefix + "." + topic
}

// Publish sends body (a JSON object) and returns once the broker confirmed
// it. A send that fails on a broken connection is tried once more on a new
// one.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	key := p.RoutingKey(topic)
	var err error
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		var ch *amqp.Channel
		ch, err = p.channel()
		if err != nil {
			break
		}
		err = p.send(ctx, ch, key, body)
		if err == nil {
			p.metrics.Published.Inc()
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		p.drop(ch, err)
	}
	if err == nil {
		err = ctx.Err()
	}
	p.metrics.PublishErrors.Inc()
	return fmt.Errorf("amqp: publish to %s: %w", key, err)
}

func (p *Publisher) send(ctx context.Context, ch *amqp.Channel, key string, body []byte) error {
	now := time.Now().UTC()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, p.cfg.PublishExchange, key, false, false, amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		MessageId:       uuid.NewString(),
		Timestamp:       now,
		Headers: amqp.Table{
			"fedora_messaging_schema":   p.cfg.Schema,
			"fedora_messaging_severity": int32(SeverityInfo),
			"sent-at":                   now.Format("2006-01-02T15:04:05.000000-07:00"),
			"priority":                  int32(0),
		},
		Body: body,
	})
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the broker did not confirm the message")
	}
	return nil
}

func (p *Publisher) channel() (*amqp.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("amqp: publisher closed")
	}
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	if p.conn != nil {
		p.conn.Close()
		p.conn, p.ch = nil, nil
	}
	conn, err := amqp.DialConfig(p.cfg.URL, *p.amqpCfg)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	p.conn, p.ch = conn, ch
	return ch, nil
}

func (p *Publisher) drop(ch *amqp.Channel, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == ch && p.conn != nil {
		p.log.Warn("dropping broker connection after a failed publish", "err", err)
		p.conn.Close()
		p.conn, p.ch = nil, nil
	}
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn, p.ch = nil, nil
	return err
}
