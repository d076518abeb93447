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
	log, metrics := bus.Named(opts, "amqp")
	return &Publisher{cfg: cfg, amqpCfg: ac, log: log,
		metrics: metrics}, nil
}

// RoutingKey is the full topic a relative topic is published under.
func (p *Publisher) RoutingKey(topic string) string {
	return p.cfg.TopicPrefix + "." + topic
}

// Publish sends body (a JSON object) and returns once the broker confirmed
// it. It makes one attempt: a send that fails drops the connection, and
// the next call dials again.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	return p.publish(ctx, p.cfg.PublishExchange, p.RoutingKey(topic), body, nil, false)
}

// Park sends body, with headers, to the parking queue or routing key
// (bus.Parker), and returns once the broker confirmed it.
func (p *Publisher) Park(ctx context.Context, body []byte, headers map[string]string) error {
	switch {
	case p.cfg.ParkingQueue != "":
		return p.publish(ctx, "", p.cfg.ParkingQueue, body, headers, true)
	case p.cfg.ParkingRoutingKey != "":
		return p.publish(ctx, p.cfg.PublishExchange, p.cfg.ParkingRoutingKey, body, headers, false)
	}
	return errors.New("amqp: no parking_queue or parking_routing_key configured")
}

func (p *Publisher) publish(ctx context.Context, exchange, key string, body []byte, headers map[string]string, declare bool) error {
	ch, err := p.channel()
	if err == nil && declare {
		_, err = ch.QueueDeclare(key, true, false, false, false, nil)
		if err != nil {
			p.drop(ch, err)
		}
	}
	if err == nil {
		err = p.send(ctx, ch, exchange, key, body, headers)
		if err == nil {
			p.metrics.Published.Inc()
			return nil
		}
		if ctx.Err() == nil {
			p.drop(ch, err)
		}
	}
	p.metrics.PublishErrors.Inc()
	return fmt.Errorf("amqp: publish to %s: %w", key, err)
}

func (p *Publisher) send(ctx context.Context, ch *amqp.Channel, exchange, key string, body []byte, extra map[string]string) error {
	now := time.Now().UTC()
	headers := amqp.Table{
		"fedora_messaging_schema":   p.cfg.Schema,
		"fedora_messaging_severity": int32(SeverityInfo),
		"sent-at":                   now.Format("2006-01-02T15:04:05.000000-07:00"),
		"priority":                  int32(0),
	}
	for k, v := range extra {
		headers[k] = v
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		MessageId:       uuid.NewString(),
		Timestamp:       now,
		Headers:         headers,
		Body:            body,
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
