package amqp10

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	amqp "github.com/Azure/go-amqp"
	"github.com/google/uuid"

	"github.com/fedora-modularity/mts/bus"
)

// errPublisherClosed is returned by Publish after Close.
var errPublisherClosed = errors.New("amqp10: publisher closed")

// ErrNotAccepted is wrapped when the broker settles a published message
// with another outcome than accepted (rejected, released, modified): it
// did not take the message.
var ErrNotAccepted = errors.New("amqp10: broker did not accept the message")

// Publisher sends durable messages and waits for the broker's disposition
// of each. One connection carries every publish: AMQP 1.0 lets concurrent
// messages wait for their dispositions on one link. Each address gets its
// own sending link, attached when first used. A failed send drops the
// connection; the next Publish dials again, trying the brokers in turn.
// Publish makes one attempt: retrying is the caller's business.
type Publisher struct {
	cfg     *resolved
	log     *slog.Logger
	metrics *bus.Metrics

	mu      sync.Mutex // guards everything below; held while dialling
	conn    *amqp.Conn
	sess    *amqp.Session
	senders map[string]*amqp.Sender
	next    int // the endpoint dialled next
	closed  bool
}

var _ bus.Publisher = (*Publisher)(nil)

// NewPublisher checks cfg; it connects on the first Publish.
func NewPublisher(cfg Config, opts ...bus.Option) (*Publisher, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	log, metrics := bus.Named(opts, "amqp10")
	return &Publisher{
		cfg:     r,
		log:     log,
		metrics: metrics,
	}, nil
}

// Address is where a topic is published.
func (p *Publisher) Address(topic string) string { return p.cfg.topicAddress(topic) }

// Publish sends body to the topic's address and returns nil only once the
// broker has accepted it.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	return p.Send(ctx, p.Address(topic), body, nil)
}

// Send sends a JSON body with application properties to any address (a
// queue or a topic, spelt with its prefix) and waits for the broker to
// accept it.
func (p *Publisher) Send(ctx context.Context, address string, body []byte, props map[string]any) error {
	err := p.send(ctx, address, body, props)
	if err != nil {
		p.metrics.PublishErrors.Inc()
		return fmt.Errorf("amqp10: publish to %s: %w", address, err)
	}
	p.metrics.Published.Inc()
	return nil
}

// Park sends body, with headers as application properties, to the parking
// queue and waits for the broker's disposition (bus.Parker).
func (p *Publisher) Park(ctx context.Context, body []byte, headers map[string]string) error {
	if p.cfg.ParkingQueue == "" {
		return errors.New("amqp10: no parking_queue configured")
	}
	props := make(map[string]any, len(headers))
	for k, v := range headers {
		props[k] = v
	}
	return p.Send(ctx, p.cfg.queuePrefix+p.cfg.ParkingQueue, body, props)
}

func (p *Publisher) send(ctx context.Context, address string, body []byte, props map[string]any) error {
	// A send waits for link credit and then for the disposition; a broker
	// that withholds either past the timeout costs the connection (below),
	// and the caller holds the event and tries again on a fresh one.
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	defer cancel()
	snd, conn, err := p.sender(ctx, address)
	if err != nil {
		return err
	}
	contentType := "application/json"
	msg := &amqp.Message{
		Header: &amqp.MessageHeader{Durable: true},
		Properties: &amqp.MessageProperties{
			MessageID:   uuid.NewString(),
			To:          &address,
			ContentType: &contentType,
		},
		ApplicationProperties: props,
		// A data section, not a string value: consumers on other
		// protocols (STOMP, AMQP 0-9-1) then see the JSON bytes as sent.
		Data: [][]byte{body},
	}
	receipt, err := snd.SendWithReceipt(ctx, msg, nil)
	if err != nil {
		p.drop(conn, err)
		return err
	}
	state, err := receipt.Wait(ctx)
	if err != nil {
		// The outcome is unknown: the message may have been taken. A
		// caller that tries again may send a duplicate, never lose one.
		p.drop(conn, err)
		return err
	}
	switch s := state.(type) {
	case *amqp.StateAccepted:
		return nil
	case *amqp.StateRejected:
		if s.Error != nil {
			return fmt.Errorf("%w: rejected: %w", ErrNotAccepted, s.Error)
		}
		return fmt.Errorf("%w: rejected", ErrNotAccepted)
	default:
		return fmt.Errorf("%w: outcome %T", ErrNotAccepted, state)
	}
}

// sender returns the link to address, dialling and attaching as needed.
func (p *Publisher) sender(ctx context.Context, address string) (*amqp.Sender, *amqp.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, errPublisherClosed
	}
	if p.conn != nil {
		select {
		case <-p.conn.Done():
			p.forgetLocked()
		default:
		}
	}
	if p.conn == nil {
		if err := p.connectLocked(ctx); err != nil {
			return nil, nil, err
		}
	}
	if s, ok := p.senders[address]; ok {
		return s, p.conn, nil
	}
	actx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	// A durable target: RabbitMQ refuses to attach to an existing durable
	// queue otherwise.
	s, err := p.sess.NewSender(actx, address, &amqp.SenderOptions{
		TargetDurability:   amqp.DurabilityUnsettledState,
		TargetExpiryPolicy: amqp.ExpiryPolicyNever,
	})
	if err != nil {
		// A refused address ends the whole session on some brokers:
		// start afresh next time.
		conn := p.conn
		p.forgetLocked()
		go conn.Close()
		return nil, nil, fmt.Errorf("attaching to %s: %w", address, err)
	}
	p.senders[address] = s
	return s, p.conn, nil
}

// connectLocked dials the brokers in turn until one answers.
func (p *Publisher) connectLocked(ctx context.Context) error {
	var errs []error
	for range p.cfg.endpoints {
		ep := p.cfg.endpoints[p.next]
		p.next = (p.next + 1) % len(p.cfg.endpoints)
		conn, err := p.cfg.dial(ctx, ep)
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
			var sess *amqp.Session
			sess, err = conn.NewSession(actx, nil)
			cancel()
			if err == nil {
				p.conn, p.sess, p.senders = conn, sess, map[string]*amqp.Sender{}
				return nil
			}
			conn.Close()
			err = fmt.Errorf("broker %s: beginning session: %w", ep.Addr, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

func (p *Publisher) forgetLocked() {
	p.conn, p.sess, p.senders = nil, nil, nil
}

// drop forgets conn after a failed send, unless it was replaced already.
func (p *Publisher) drop(conn *amqp.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == conn {
		p.log.Warn("dropping broker connection after a failed send", "err", err)
		p.forgetLocked()
		go conn.Close()
	}
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	conn := p.conn
	p.forgetLocked()
	p.mu.Unlock()
	if conn == nil {
		return nil
	}
	return conn.Close()
}
