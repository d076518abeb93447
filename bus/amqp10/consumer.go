package amqp10

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	amqp "github.com/Azure/go-amqp"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// Consumer reads MBS events from a queue. The broker sends at most
// Config.Prefetch unsettled messages ahead (link credit, renewed as
// messages are settled); each is accepted only when the caller
// acknowledges it, and one never acknowledged comes again once the
// connection ends.
type Consumer struct {
	*bus.Handoff
	cfg       *resolved
	log       *slog.Logger
	metrics   *bus.Metrics
	connected atomic.Bool
}

var _ bus.Consumer = (*Consumer)(nil)

// NewConsumer checks cfg and starts connecting in the background; Receive
// waits for the first event.
func NewConsumer(cfg Config, opts ...bus.Option) (*Consumer, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	o := bus.ApplyOptions(opts)
	c := &Consumer{
		Handoff: bus.NewHandoff(),
		cfg:     r,
		log:     o.Logger.With("bus", "amqp10", "source", r.queueAddress()),
		metrics: bus.NewMetrics(o.Registerer, "amqp10"),
	}
	c.Go(c.run)
	return c, nil
}

// Connected reports whether the consumer has a receiving link on a live
// connection.
func (c *Consumer) Connected() bool { return c.connected.Load() }

// run connects, trying every broker in turn, and serves each connection
// until it fails, for as long as the consumer is open.
func (c *Consumer) run(ctx context.Context) {
	r := bus.Redial[Endpoint, *amqp.Conn]{
		Endpoints: c.cfg.endpoints,
		Addr:      func(ep Endpoint) string { return ep.Addr },
		Dial:      c.cfg.dial,
		Serve:     c.serve,
		Backoff:   bus.Backoff{Min: c.cfg.MinBackoff, Max: c.cfg.MaxBackoff},
		Log:       c.log,
		Metrics:   c.metrics,
	}
	r.Run(ctx)
}

// receiverOptions ask for unsettled deliveries (the broker keeps each
// message until this side settles it). Credit is managed here (see
// credit). (The library's automatic credit stalled against RabbitMQ 3.10
// after some hundred messages.)
func (c *Consumer) receiverOptions() *amqp.ReceiverOptions {
	unsettled := amqp.SenderSettleModeUnsettled
	o := &amqp.ReceiverOptions{
		Credit:                    -1,
		RequestedSenderSettleMode: &unsettled,
		// A durable source: RabbitMQ refuses to attach to an existing
		// durable queue otherwise, and brokers keep a durable topic
		// subscription across detaches only then.
		SourceDurability:   amqp.DurabilityUnsettledState,
		SourceExpiryPolicy: amqp.ExpiryPolicyNever,
	}
	if c.cfg.SubscriptionName != "" {
		o.Name = c.cfg.SubscriptionName
	}
	return o
}

func (c *Consumer) serve(ctx context.Context, conn *amqp.Conn, ep Endpoint) error {
	defer func() {
		c.connected.Store(false)
		c.metrics.SetConnected(false)
		// Closing the connection hands every unsettled message back.
		conn.Close()
	}()
	attachCtx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	sess, err := conn.NewSession(attachCtx, nil)
	if err != nil {
		return fmt.Errorf("beginning session: %w", err)
	}
	rcv, err := sess.NewReceiver(attachCtx, c.cfg.queueAddress(), c.receiverOptions())
	if err != nil {
		return fmt.Errorf("attaching to %s: %w", c.cfg.queueAddress(), err)
	}
	cr := newCredit(c.cfg.Prefetch)
	if err := rcv.IssueCredit(cr.initial); err != nil {
		return fmt.Errorf("issuing credit: %w", err)
	}
	c.connected.Store(true)
	c.metrics.SetConnected(true)
	c.log.Info("receiving", "broker", ep.Addr, "credit", c.cfg.Prefetch)
	for {
		msg, err := rcv.Receive(ctx, nil)
		if err != nil {
			return err
		}
		c.metrics.Received.Inc()
		id := messageID(msg)
		body, err := payload(msg)
		var ev build.Event
		if err == nil {
			ev, err = build.Decode(body)
		}
		if err != nil {
			// Accepted, not rejected: a body that is not an MBS event will
			// never become one. The log keeps the evidence.
			c.metrics.Malformed.Inc()
			c.log.Warn("dropping malformed message", "message_id", id, "err", err, "body", bus.Excerpt(body))
			if err := rcv.AcceptMessage(ctx, msg); err != nil {
				return fmt.Errorf("accepting malformed message: %w", err)
			}
			if err := cr.settled(rcv); err != nil {
				return fmt.Errorf("issuing credit: %w", err)
			}
			continue
		}
		d := &delivery{conn: conn, rcv: rcv, credit: cr, msg: msg, body: body, ev: ev, id: id}
		if err := c.Deliver(ctx, d); err != nil {
			return err
		}
	}
}

// errBody is wrapped when a message has no body the service can read.
var errBody = errors.New("message body is neither data nor a string")

// payload is the message body: its data sections (what most clients and
// other protocols' bridges send), or an AMQP string or binary value (what
// Proton clients such as rhmsg send for a Python str).
func payload(msg *amqp.Message) ([]byte, error) {
	switch {
	case len(msg.Data) == 1:
		return msg.Data[0], nil
	case len(msg.Data) > 1:
		var b []byte
		for _, d := range msg.Data {
			b = append(b, d...)
		}
		return b, nil
	}
	switch v := msg.Value.(type) {
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	}
	return nil, fmt.Errorf("%w (%T)", errBody, msg.Value)
}

func messageID(msg *amqp.Message) string {
	if msg.Properties == nil || msg.Properties.MessageID == nil {
		return ""
	}
	return fmt.Sprint(msg.Properties.MessageID)
}

type delivery struct {
	conn    *amqp.Conn
	rcv     *amqp.Receiver
	credit  *credit
	msg     *amqp.Message
	body    []byte
	ev      build.Event
	id      string
	settled atomic.Bool
}

func (d *delivery) Event() build.Event { return d.ev }
func (d *delivery) MessageID() string  { return d.id }
func (d *delivery) Body() []byte       { return d.body }

// Ack accepts the message: the broker forgets it. The disposition is
// settled at once (the first settlement mode: brokers such as RabbitMQ do
// not offer the second), so Ack returns once it is written to the
// connection; if the connection fails before the broker reads it, the
// broker delivers the message again.
func (d *delivery) Ack(ctx context.Context) error {
	return d.settle(ctx, func() error { return d.rcv.AcceptMessage(ctx, d.msg) })
}

func (d *delivery) settle(ctx context.Context, send func() error) error {
	if !d.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	select {
	case <-d.conn.Done():
		return fmt.Errorf("message %s: %w", d.id, ErrConnectionLost)
	default:
	}
	if err := send(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("message %s: %w", d.id, ctx.Err())
		}
		return fmt.Errorf("message %s: %w: %w", d.id, ErrConnectionLost, err)
	}
	// The settled message's credit goes back to the broker. Failing that
	// means the link is gone; the settlement itself was sent.
	_ = d.credit.settled(d.rcv)
	return nil
}

// credit gives the broker back the credit of settled messages, in chunks
// of at least two. RabbitMQ 3.x's AMQP 1.0 plugin sometimes sends a
// transfer more than it was granted; go-amqp then counts the link credit
// below zero, wrapping to 2^32-1, and a flow that adds one credit to that
// wraps to zero and is never sent, so the link stalls. A chunk of n gives a
// flow of n-1 even then, which puts the count right again.
type credit struct {
	initial, chunk uint32
	mu             sync.Mutex
	owed           uint32
}

func newCredit(prefetch int) *credit {
	c := &credit{initial: uint32(max(prefetch, 2))}
	c.chunk = max(2, c.initial/2)
	return c
}

// settled counts one settled message and issues a chunk once it is owed.
func (c *credit) settled(rcv *amqp.Receiver) error {
	c.mu.Lock()
	c.owed++
	n := uint32(0)
	if c.owed >= c.chunk {
		n, c.owed = c.owed, 0
	}
	c.mu.Unlock()
	if n == 0 {
		return nil
	}
	return rcv.IssueCredit(n)
}
