package fedmsg

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/fedora-modularity/mts/bus"
)

// Publisher binds a PUB socket and sends fedmsg envelopes. ZeroMQ does not
// confirm delivery: Publish returns once the message is queued, and
// subscribers that are not connected at that moment never see it.
type Publisher struct {
	prefix   string
	parking  string
	username string
	log      *slog.Logger
	metrics  *bus.Metrics
	sock     zmq4.Socket
	cancel   context.CancelFunc

	mu sync.Mutex // orders sends with the counter
	i  int64
}

var _ bus.Publisher = (*Publisher)(nil)

// NewPublisher binds cfg.PublishEndpoint.
func NewPublisher(cfg Config, opts ...bus.Option) (*Publisher, error) {
	if cfg.PublishEndpoint == "" {
		return nil, errors.New("fedmsg: no publish endpoint configured")
	}
	if cfg.Environment == "" {
		cfg.Environment = DefaultEnvironment
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "org.fedoraproject." + cfg.Environment + ".mts"
	}
	if cfg.Username == "" {
		if u, err := user.Current(); err == nil {
			cfg.Username = u.Username
		} else {
			cfg.Username = os.Getenv("USER")
		}
	}
	logger, metrics := bus.Named(opts, "fedmsg")
	ctx, cancel := context.WithCancel(context.Background())
	sock := zmq4.NewPub(ctx, zmq4.WithLogger(log.New(io.Discard, "", 0)))
	if err := sock.Listen(cfg.PublishEndpoint); err != nil {
		cancel()
		sock.Close()
		return nil, fmt.Errorf("fedmsg: %w", err)
	}
	return &Publisher{
		prefix: cfg.TopicPrefix, username: cfg.Username, parking: cfg.ParkingTopic,
		log: logger, metrics: metrics,
		sock: sock, cancel: cancel,
	}, nil
}

// Topic is the full topic a relative topic is published under.
func (p *Publisher) Topic(topic string) string { return p.prefix + "." + topic }

// Publish sends body, a JSON object, as the envelope's msg.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !json.Valid(body) {
		p.metrics.PublishErrors.Inc()
		return errors.New("fedmsg: publish: body is not JSON")
	}
	full := p.Topic(topic)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.i++
	env := Envelope{
		Topic:     full,
		Msg:       body,
		MsgID:     fmt.Sprintf("%d-%s", time.Now().Year(), uuid4()),
		Timestamp: float64(time.Now().UnixMicro()) / 1e6,
		I:         p.i,
		Username:  p.username,
	}
	frame, err := json.Marshal(env)
	if err != nil {
		p.metrics.PublishErrors.Inc()
		return fmt.Errorf("fedmsg: publish: %w", err)
	}
	if err := p.sock.Send(zmq4.NewMsgFrom([]byte(full), frame)); err != nil {
		p.metrics.PublishErrors.Inc()
		return fmt.Errorf("fedmsg: publish to %s: %w", full, err)
	}
	p.metrics.Published.Inc()
	return nil
}

// Park publishes {"headers": headers, "msg": body} on the parking topic
// (bus.Parker): fedmsg messages carry no headers of their own. Like any
// fedmsg message it reaches only the subscribers connected at the time
// (in Fedora, datanommer keeps it in datagrepper), so the whole parked
// message is also logged: the journal keeps it whoever listens.
func (p *Publisher) Park(ctx context.Context, body []byte, headers map[string]string) error {
	if p.parking == "" {
		return errors.New("fedmsg: no parking_routing_key configured")
	}
	wrapped, err := json.Marshal(struct {
		Headers map[string]string `json:"headers"`
		Msg     json.RawMessage   `json:"msg"`
	}{headers, body})
	if err != nil {
		return fmt.Errorf("fedmsg: park: %w", err)
	}
	if err := p.Publish(ctx, p.parking, wrapped); err != nil {
		return err
	}
	p.log.Warn("event parked on fedmsg; only the subscribers connected now receive it", "topic", p.Topic(p.parking), "message", string(wrapped))
	return nil
}

// Close unbinds.
func (p *Publisher) Close() error {
	err := p.sock.Close()
	p.cancel()
	return err
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
