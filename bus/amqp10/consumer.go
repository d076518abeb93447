package amqp10

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// Consumer reads events from one source address. The broker sends at
// most its share of Config.Prefetch unsettled messages ahead (link credit,
// renewed as messages are settled); each is accepted only when the caller
// acknowledges it, and one never acknowledged comes again once the
// connection ends.
type Consumer struct {
	*bus.Link
	cfg *resolved
	in  bus.Input
}

var _ bus.Consumer = (*Consumer)(nil)

// NewConsumer checks cfg and starts connecting in the background; Receive
// waits for the first event. With Inputs, every address has a Consumer
// (a connection and a link with its own credit) and the result reads
// them all as one: the link credit bookkeeping stays that of one link.
func NewConsumer(cfg Config, opts ...bus.Option) (bus.Consumer, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	ins := r.inputs()
	// Every input gets a share of the credit, at least one.
	share := max(1, (r.Prefetch+len(ins)-1)/len(ins))
	cs := make([]bus.Consumer, 0, len(ins))
	for i, in := range ins {
		ri := *r
		ri.Queue, ri.Prefetch = in.Address, share
		if i > 0 && ri.SubscriptionName != "" {
			// A container id names one connection (ActiveMQ's client
			// id); the first input keeps the configured name, as
			// before there were several.
			ri.SubscriptionName += "." + strconv.Itoa(i)
		}
		cs = append(cs, startInput(&ri, in, opts))
	}
	return bus.Merge(cs...), nil
}

// startInput starts reading one input with r, whose Queue is the
// input's address.
func startInput(r *resolved, in bus.Input, opts []bus.Option) *Consumer {
	c := &Consumer{Link: bus.NewLink(opts, "amqp10", "source", r.queueAddress()), cfg: r, in: in}
	// Every broker is tried in turn, and each connection served until it
	// fails, for as long as the consumer is open.
	bus.Keep(c.Link, bus.Redial[Endpoint, *amqp.Conn]{
		Endpoints: r.endpoints,
		Addr:      func(ep Endpoint) string { return ep.Addr },
		Dial:      r.dial,
		Serve:     c.serve,
		Backoff:   bus.Backoff{Min: r.MinBackoff, Max: r.MaxBackoff},
	})
	return c
}

// receiverOptions ask for unsettled deliveries (the broker keeps each
// message until this side settles it), with credit issued by hand from
// what the consumer holds (see linkCredit): the library's automatic
// credit stalled against RabbitMQ 3.10 after some hundred messages.
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

// link is one receiving link, on a session of its own so that it can be
// replaced without the connection: ending a session hands every message
// still unsettled on it back to the queue, and leaves a durable
// subscription in place (a detach that closes the link would end it).
type link struct {
	sess   *amqp.Session
	rcv    *amqp.Receiver
	credit *linkCredit
}

// attach begins a session, attaches the receiving link and grants it the
// room there is.
func (c *Consumer) attach(ctx context.Context, conn *amqp.Conn, cr *credit) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning session: %w", err)
	}
	rcv, err := sess.NewReceiver(ctx, c.cfg.queueAddress(), c.receiverOptions())
	if err != nil {
		return nil, fmt.Errorf("attaching to %s: %w", c.cfg.queueAddress(), err)
	}
	lc, err := cr.attach(rcv, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issuing credit: %w", err)
	}
	return &link{sess: sess, rcv: rcv, credit: lc}, nil
}

func (c *Consumer) report(cr *credit) {
	credit, unsettled := cr.state()
	c.Metrics().SetCredit(float64(credit), float64(unsettled))
}

// serve reads the connection's current link, replacing it as the credit
// bookkeeping asks, until the connection fails or ctx ends.
func (c *Consumer) serve(ctx context.Context, conn *amqp.Conn, ep Endpoint) error {
	defer func() {
		c.SetConnected(false)
		c.Metrics().SetConnected(false)
		// Closing the connection hands every unsettled message back.
		conn.Close()
	}()
	cr := newCredit(c.cfg.Prefetch)
	l, err := c.attach(ctx, conn, cr)
	if err != nil {
		return err
	}
	c.report(cr)
	c.SetConnected(true)
	c.Metrics().SetConnected(true)
	c.Log().Info("receiving", "broker", ep.Addr, "credit", c.cfg.Prefetch)
	// Replaced links, ended once everything taken from them is settled.
	var retired []*link
	afterIdle := false
	for {
		reason, err := c.read(ctx, conn, cr, l, afterIdle, &retired)
		if !errors.Is(err, errReplace) {
			return err
		}
		c.Metrics().LinksReplaced.WithLabelValues(reason).Inc()
		idle := time.Since(l.credit.lastArrival)
		retired = append(retired, l)
		if l, err = c.attach(ctx, conn, cr); err != nil {
			return err
		}
		c.report(cr)
		afterIdle = reason == "idle"
		if reason == "overrun" {
			c.Log().Debug("replaced the receiving link: the broker sent more than its credit", "broker", ep.Addr)
		} else {
			c.Log().Debug("replaced an idle receiving link", "broker", ep.Addr, "idle", idle.Round(time.Millisecond))
		}
	}
}

// errReplace ends the reading of a link that is to be replaced.
var errReplace = errors.New("link to be replaced")

// endRetired ends the sessions of the retired links whose messages are all
// settled, and keeps the others. (A retired link is not drained first:
// RabbitMQ 3.10's channel fails on a drain and ends the connection.)
func (c *Consumer) endRetired(ctx context.Context, cr *credit, retired []*link) ([]*link, error) {
	kept := retired[:0]
	for _, l := range retired {
		if !cr.done(l.credit) {
			kept = append(kept, l)
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		err := l.sess.Close(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("ending the session of a replaced link: %w", err)
		}
	}
	return kept, nil
}

// read hands over what l delivers until the connection fails, or returns
// errReplace with the reason when l is to be replaced (see credit). Between
// deliveries it ends the retired links that are done. afterIdle says l
// replaces an idle link: a delivery before the first check then means the
// old link had lost its credit while messages waited, a stall now over.
func (c *Consumer) read(ctx context.Context, conn *amqp.Conn, cr *credit, l *link, afterIdle bool, retired *[]*link) (string, error) {
	stallCheck := afterIdle
	for {
		if ok, reason := cr.replace(time.Now(), c.cfg.CreditIdle); ok && reason == "overrun" {
			return reason, errReplace
		}
		if len(*retired) > 0 {
			var err error
			if *retired, err = c.endRetired(ctx, cr, *retired); err != nil {
				return "", err
			}
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.creditCheck())
		msg, err := l.rcv.Receive(rctx, nil)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
				return "", err
			}
			stallCheck = false
			if ok, reason := cr.replace(time.Now(), c.cfg.CreditIdle); ok {
				return reason, errReplace
			}
			continue
		}
		if stallCheck {
			stallCheck = false
			c.Metrics().LinksReplaced.WithLabelValues("stalled").Inc()
			c.Log().Warn("the receiving link had run out of credit while messages waited; a fresh link receives them",
				"idle", c.cfg.CreditIdle)
		}
		if _, err := cr.arrive(l.credit, time.Now()); err != nil {
			return "", fmt.Errorf("issuing credit: %w", err)
		}
		c.report(cr)
		c.Metrics().Received.Inc()
		id := messageID(msg)
		body, err := payload(msg)
		var m build.Message
		if err == nil {
			m, err = c.in.Decode(toAddress(msg), body)
		}
		d := &delivery{conn: conn, rcv: l.rcv, link: l.credit, credit: cr, consumer: c, msg: msg, body: body, m: m, id: id}
		if err != nil {
			// Accepted, not rejected: a body that is not an event will
			// never become one. The log keeps the evidence.
			c.Metrics().Malformed.Inc()
			c.Log().Warn("dropping malformed message", "message_id", id, "err", err, "body", bus.Excerpt(body))
			if err := d.Ack(ctx); err != nil {
				return "", fmt.Errorf("accepting malformed message: %w", err)
			}
			continue
		}
		if err := c.Deliver(ctx, d); err != nil {
			return "", err
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

// toAddress is the address the message was sent to (its `to` property),
// "" when the sender did not set it.
func toAddress(msg *amqp.Message) string {
	if msg.Properties == nil || msg.Properties.To == nil {
		return ""
	}
	return *msg.Properties.To
}

func messageID(msg *amqp.Message) string {
	if msg.Properties == nil || msg.Properties.MessageID == nil {
		return ""
	}
	return fmt.Sprint(msg.Properties.MessageID)
}

type delivery struct {
	conn     *amqp.Conn
	rcv      *amqp.Receiver
	link     *linkCredit
	credit   *credit
	consumer *Consumer
	msg      *amqp.Message
	body     []byte
	m        build.Message
	id       string
	settled  atomic.Bool
}

func (d *delivery) Message() build.Message { return d.m }
func (d *delivery) MessageID() string      { return d.id }
func (d *delivery) Body() []byte           { return d.body }

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
		// The disposition may not have left: the message would stay
		// unsettled on a live connection, holding its credit, until the
		// connection ends. End it now; the broker delivers the message
		// again and the consumer reconnects with its whole credit.
		d.conn.Close()
		if ctx.Err() != nil {
			return fmt.Errorf("message %s: %w", d.id, ctx.Err())
		}
		return fmt.Errorf("message %s: %w: %w", d.id, ErrConnectionLost, err)
	}
	// Failing to give the credit back means the link is gone; the
	// settlement itself was sent.
	_ = d.credit.settle(d.link)
	d.consumer.report(d.credit)
	return nil
}
