package stomp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// Consumer reads events from its inputs' destinations, one subscription
// each on one connection, acknowledging each only when the caller says so
// (client-individual acknowledgement).
type Consumer struct {
	*bus.Link
	cfg *resolved
}

var _ bus.Consumer = (*Consumer)(nil)

// NewConsumer checks cfg and starts connecting in the background; Receive
// waits for the first event.
func NewConsumer(cfg Config, opts ...bus.Option) (*Consumer, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &Consumer{Link: bus.NewLink(opts, "stomp", "queue", r.Queue), cfg: r}
	// Every broker is tried in turn, and each connection served until it
	// fails, for as long as the consumer is open.
	bus.Keep(c.Link, bus.Redial[Endpoint, *stomp.Conn]{
		Endpoints: r.endpoints,
		Addr:      func(ep Endpoint) string { return ep.Addr },
		Dial:      func(ctx context.Context, ep Endpoint) (*stomp.Conn, error) { return r.dial(ctx, ep, c.Log()) },
		Serve:     c.serve,
		Backoff:   bus.Backoff{Min: r.MinBackoff, Max: r.MaxBackoff},
	})
	return c, nil
}

// session is one connection's lifetime; deliveries check it before
// acknowledging, since an acknowledgement cannot outlive its connection.
type session struct {
	conn *stomp.Conn
	lost chan struct{}

	mu      sync.Mutex // guards waiting and ended
	waiting []chan error
	ended   bool
	kick    chan struct{}
}

// confirm waits until the broker has processed every frame sent on the
// session so far. ACK and NACK frames get no answer and the library cannot
// ask for a receipt on them; the broker handles a connection's frames in
// order, so the receipt of an empty transaction sent afterwards proves the
// acknowledgement was processed. Concurrent callers share one such round
// trip, since ActiveMQ syncs its journal on every commit. (A transactional
// ACK would need a commit per message, and ActiveMQ refuses a NACK inside a
// transaction.)
func (s *session) confirm(ctx context.Context) error {
	ch := make(chan error, 1)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrConnectionLost
	}
	s.waiting = append(s.waiting, ch)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// confirmLoop serves confirm until the session ends.
func (s *session) confirmLoop() {
	for {
		select {
		case <-s.kick:
		case <-s.lost:
			s.mu.Lock()
			s.ended = true
			batch := s.waiting
			s.waiting = nil
			s.mu.Unlock()
			for _, ch := range batch {
				ch <- ErrConnectionLost
			}
			return
		}
		s.mu.Lock()
		batch := s.waiting
		s.waiting = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		err := roundTrip(context.Background(), s.conn)
		for _, ch := range batch {
			ch <- err
		}
	}
}

func (c *Consumer) serve(ctx context.Context, conn *stomp.Conn, ep Endpoint) error {
	s := &session{conn: conn, lost: make(chan struct{}), kick: make(chan struct{}, 1)}
	go s.confirmLoop()
	defer func() {
		c.SetConnected(false)
		c.Metrics().SetConnected(false)
		close(s.lost)
		// Disconnect waits for the broker's receipt so that unacknowledged
		// messages are handed back at once rather than on a timeout.
		if err := conn.Disconnect(); err != nil {
			conn.MustDisconnect()
		}
	}()
	subs := make([]*stomp.Subscription, 0, len(c.inputs()))
	var dests []string
	for _, in := range c.inputs() {
		sub, err := conn.Subscribe(c.destination(in), stomp.AckClientIndividual, c.subscribeHeaders()...)
		if err != nil {
			return c.cfg.describe(ep, err)
		}
		subs = append(subs, sub)
		dests = append(dests, sub.Destination())
	}
	// The library sends SUBSCRIBE without waiting for the broker; a
	// committed empty transaction with a receipt proves the broker has
	// processed it, so Connected means the queues exist and are read.
	if err := roundTrip(ctx, conn); err != nil {
		return c.cfg.describe(ep, err)
	}
	c.SetConnected(true)
	c.Metrics().SetConnected(true)
	c.Log().Info("subscribed", "broker", ep.Addr, "destinations", dests)
	// The readers of this connection's subscriptions end with it.
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	arrivals := merge(mctx, subs, c.inputs())
	for {
		var a arrival
		select {
		case a = <-arrivals:
		case <-ctx.Done():
			return ctx.Err()
		}
		msg := a.msg
		if msg == nil {
			return errors.New("subscription closed")
		}
		if msg.Err != nil {
			return c.cfg.describe(ep, msg.Err)
		}
		c.Metrics().Received.Inc()
		id := msg.Header.Get("message-id")
		// ActiveMQ names the virtual topic a consumer queue's message was
		// sent to; RabbitMQ the topic and routing key.
		topic := msg.Header.Get(frame.Destination)
		m, err := c.inputFor(topic, a.in).Decode(topic, msg.Body)
		if err != nil {
			// Acknowledged, not dead-lettered: a body that is not an event
			// will never become one, and a NACK on RabbitMQ would requeue
			// it forever. The log keeps the evidence.
			c.Metrics().Malformed.Inc()
			c.Log().Warn("dropping malformed message", "message_id", id, "destination", topic, "err", err, "body", bus.Excerpt(msg.Body))
			if err := conn.Ack(msg); err != nil {
				return fmt.Errorf("acknowledging malformed message: %w", err)
			}
			continue
		}
		if err := c.Deliver(ctx, &delivery{c: c, s: s, msg: msg, m: m, id: id}); err != nil {
			return err
		}
	}
}

// arrival is a message of one subscription, nil when the subscription
// ended.
type arrival struct {
	in  bus.Input
	msg *stomp.Message
}

// merge reads every subscription (subs[i] is of ins[i]) into one channel,
// until ctx ends: the library hands each subscription's messages over on
// a channel of its own.
func merge(ctx context.Context, subs []*stomp.Subscription, ins []bus.Input) <-chan arrival {
	out := make(chan arrival)
	for i, sub := range subs {
		go func() {
			for {
				var a arrival
				select {
				case msg, ok := <-sub.C:
					if ok {
						a = arrival{in: ins[i], msg: msg}
					}
				case <-ctx.Done():
					return
				}
				select {
				case out <- a:
				case <-ctx.Done():
					return
				}
				if a.msg == nil {
					return
				}
			}
		}()
	}
	return out
}

func (c *Consumer) inputs() []bus.Input { return c.cfg.inputs() }

// inputs are Queue (or Topic on RabbitMQ; MBS's unless its name says
// otherwise) and the configured inputs.
func (r *resolved) inputs() []bus.Input {
	first := r.Queue
	if r.Broker == RabbitMQ {
		first = r.Topic
	}
	return append([]bus.Input{{Address: first}}, r.Inputs...)
}

// AllInputs are the queues (on RabbitMQ the routing keys) a consumer
// reads, Queue or Topic (with its default) first, each with the kind it
// is read as.
func (c Config) AllInputs() ([]bus.Input, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	return r.inputs(), nil
}

// inputFor is the input whose destination the broker names (on RabbitMQ
// every input's topic feeds one queue, whose messages any of the
// subscriptions may receive), else sub, the input of the subscription the
// message came on.
func (c *Consumer) inputFor(dest string, sub bus.Input) bus.Input {
	for _, in := range c.inputs() {
		if c.destination(in) == dest {
			return in
		}
	}
	return sub
}

// destination is where an input is read: a queue on ActiveMQ, a topic
// bound to Queue on RabbitMQ.
func (c *Consumer) destination(in bus.Input) string {
	switch {
	case strings.HasPrefix(in.Address, "/"):
		return in.Address
	case c.cfg.Broker == RabbitMQ:
		return "/topic/" + in.Address
	}
	return "/queue/" + in.Address
}

func (c *Consumer) subscribeHeaders() []func(*frame.Frame) error {
	prefetch := strconv.Itoa(c.cfg.Prefetch)
	h := stomp.SubscribeOpt.Header
	if c.cfg.Broker == RabbitMQ {
		return []func(*frame.Frame) error{
			h("x-queue-name", c.cfg.Queue),
			h("durable", "true"),
			h("auto-delete", "false"),
			h("prefetch-count", prefetch),
		}
	}
	return []func(*frame.Frame) error{h("activemq.prefetchSize", prefetch)}
}

// roundTrip waits until the broker has processed every frame sent before.
func roundTrip(ctx context.Context, conn *stomp.Conn) error {
	return await(ctx, func() error {
		tx, err := conn.BeginWithError()
		if err != nil {
			return err
		}
		return tx.CommitWithReceipt()
	})
}

// await runs f, which the library does not let be cancelled, and stops
// waiting for it when ctx ends.
func await(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	go func() { res <- f() }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type delivery struct {
	c       *Consumer
	s       *session
	msg     *stomp.Message
	m       build.Message
	id      string
	settled atomic.Bool
}

func (d *delivery) Message() build.Message { return d.m }
func (d *delivery) MessageID() string      { return d.id }
func (d *delivery) Body() []byte           { return d.msg.Body }

// Ack acknowledges and waits until the broker has processed the ACK:
// claiming success for an ACK lost with its connection would hide the
// broker's redelivery from the caller.
func (d *delivery) Ack(ctx context.Context) error {
	if !d.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	select {
	case <-d.s.lost:
		return fmt.Errorf("message %s: %w", d.id, ErrConnectionLost)
	default:
	}
	err := d.s.conn.Ack(d.msg)
	if err == nil {
		err = d.s.confirm(ctx)
	}
	if err != nil {
		if errors.Is(err, ErrConnectionLost) {
			return fmt.Errorf("message %s: %w", d.id, err)
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("message %s: %w", d.id, err)
		}
		return fmt.Errorf("message %s: %w: %w", d.id, ErrConnectionLost, err)
	}
	return nil
}
