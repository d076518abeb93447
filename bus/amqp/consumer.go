package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// ErrConnectionLost is returned by Ack when the channel the
// message came on is closed: the broker will deliver the message again.
var ErrConnectionLost = errors.New("amqp: connection lost before acknowledgement")

// ErrSettled is returned by a second Ack of the same delivery.
var ErrSettled = errors.New("amqp: delivery already acknowledged")

// Consumer reads events from a durable queue bound to every routing key
// of its inputs, with manual acknowledgement.
type Consumer struct {
	*bus.Link
	cfg     Config
	amqpCfg *amqp.Config
}

var _ bus.Consumer = (*Consumer)(nil)

// NewConsumer checks cfg and starts connecting in the background.
func NewConsumer(cfg Config, opts ...bus.Option) (*Consumer, error) {
	cfg, ac, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &Consumer{Link: bus.NewLink(opts, "amqp", "queue", cfg.Queue), cfg: cfg, amqpCfg: ac}
	// The connection is served until it fails, for as long as the
	// consumer is open.
	bus.Keep(c.Link, bus.Redial[string, *amqp.Connection]{
		Endpoints: []string{cfg.URL},
		Addr:      brokerAddr,
		Dial: func(_ context.Context, u string) (*amqp.Connection, error) {
			return amqp.DialConfig(u, *ac)
		},
		Serve:   func(ctx context.Context, conn *amqp.Connection, _ string) error { return c.serve(ctx, conn) },
		Backoff: bus.Backoff{Min: cfg.MinBackoff, Max: cfg.MaxBackoff},
	})
	return c, nil
}

// brokerAddr names the broker of an AMQP URI for logs, without the
// credentials it may carry.
func brokerAddr(uri string) string {
	u, err := amqp.ParseURI(uri)
	if err != nil {
		return "(unparsable URI)"
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

func (c *Consumer) serve(ctx context.Context, conn *amqp.Connection) error {
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	lost := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("basic.qos: %w", err)
	}
	if err := c.declare(ch); err != nil {
		return err
	}
	for _, key := range c.keys() {
		if err := ch.QueueBind(c.cfg.Queue, key, c.cfg.Exchange, false, nil); err != nil {
			return fmt.Errorf("binding %s to %s: %w", key, c.cfg.Queue, err)
		}
	}
	msgs, err := ch.ConsumeWithContext(ctx, c.cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consuming %s: %w", c.cfg.Queue, err)
	}
	c.SetConnected(true)
	c.Metrics().SetConnected(true)
	defer func() {
		c.SetConnected(false)
		c.Metrics().SetConnected(false)
	}()
	c.Log().Info("consuming", "bindings", c.keys())
	for {
		var m amqp.Delivery
		var ok bool
		select {
		case m, ok = <-msgs:
		case err := <-lost:
			return fmt.Errorf("channel closed: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return errors.New("delivery stream ended")
		}
		c.Metrics().Received.Inc()
		msg, err := c.input(m.RoutingKey).Decode(m.RoutingKey, m.Body)
		if err != nil {
			// Acknowledged: a body that is not an event never will be,
			// and the queue has no dead-letter exchange by default.
			c.Metrics().Malformed.Inc()
			c.Log().Warn("dropping malformed message", "message_id", m.MessageId, "routing_key", m.RoutingKey,
				"err", err, "body", bus.Excerpt(m.Body))
			if err := m.Ack(false); err != nil {
				return fmt.Errorf("acknowledging malformed message: %w", err)
			}
			continue
		}
		if err := c.Deliver(ctx, &delivery{ch: ch, m: m, msg: msg}); err != nil {
			return err
		}
	}
}

// inputs are the bindings (MBS's unless the key says otherwise) and the
// configured inputs of a resolved configuration.
func (c Config) inputs() []bus.Input {
	var ins []bus.Input
	for _, key := range c.Bindings {
		ins = append(ins, bus.Input{Address: key})
	}
	return append(ins, c.Inputs...)
}

// AllInputs are the routing keys the consumer binds, Bindings (with
// their default) first, each with the kind it is read as.
func (c Config) AllInputs() ([]bus.Input, error) {
	r, _, err := c.resolve()
	if err != nil {
		return nil, err
	}
	return r.inputs(), nil
}

func (c *Consumer) inputs() []bus.Input { return c.cfg.inputs() }

// keys are the routing keys bound to the queue, each once.
func (c *Consumer) keys() []string {
	var keys []string
	for _, in := range c.inputs() {
		if !slices.Contains(keys, in.Address) {
			keys = append(keys, in.Address)
		}
	}
	return keys
}

// input is the input a message with routing key rk came through: the one
// bound to that key (the last one configured wins), else a plain input.
// Bindings with wildcards match no key exactly; their messages are read
// by the key's own name.
func (c *Consumer) input(rk string) bus.Input {
	in := bus.Input{Address: rk}
	for _, i := range c.inputs() {
		if i.Address == rk {
			in = i
		}
	}
	return in
}

// declare declares (or, with PassiveDeclares, checks) the exchange and
// the queue.
func (c *Consumer) declare(ch *amqp.Channel) error {
	if x := c.cfg.ExchangeDecl; x != nil {
		declare := ch.ExchangeDeclare
		if c.cfg.PassiveDeclares {
			declare = ch.ExchangeDeclarePassive
		}
		if err := declare(c.cfg.Exchange, x.Type, x.Durable, x.AutoDelete, false, false, amqp.Table(x.Arguments)); err != nil {
			return fmt.Errorf("declaring exchange %s: %w", c.cfg.Exchange, err)
		}
	}
	q := c.cfg.QueueDecl
	declare := ch.QueueDeclare
	if c.cfg.PassiveDeclares {
		declare = ch.QueueDeclarePassive
	}
	if _, err := declare(c.cfg.Queue, q.Durable, q.AutoDelete, q.Exclusive, false, amqp.Table(q.Arguments)); err != nil {
		return fmt.Errorf("declaring queue %s: %w", c.cfg.Queue, err)
	}
	return nil
}

type delivery struct {
	ch      *amqp.Channel
	m       amqp.Delivery
	msg     build.Message
	settled atomic.Bool
}

func (d *delivery) Message() build.Message { return d.msg }
func (d *delivery) MessageID() string      { return d.m.MessageId }
func (d *delivery) Body() []byte           { return d.m.Body }

// Topic is the message's routing key.
func (d *delivery) Topic() string { return d.m.RoutingKey }

// Priority is the fedora-messaging priority header, 0 when absent.
func (d *delivery) Priority() int64 {
	n, _ := headerInt(d.m.Headers["priority"])
	return n
}

// Ack acknowledges the message. AMQP 0-9-1 does not confirm an ack; what
// can be checked is that the channel the message came on is still open,
// since an ack on a later channel would be refused by the broker. The ack
// is a write that waits for nothing, so it is sent whatever ctx says: a
// message marked settled is never left unacknowledged on a live channel,
// where it would hold a prefetch slot until the channel closes.
func (d *delivery) Ack(context.Context) error {
	if !d.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	if d.ch.IsClosed() {
		return fmt.Errorf("message %s: %w", d.m.MessageId, ErrConnectionLost)
	}
	if err := d.m.Ack(false); err != nil {
		return fmt.Errorf("message %s: %w: %w", d.m.MessageId, ErrConnectionLost, err)
	}
	return nil
}
