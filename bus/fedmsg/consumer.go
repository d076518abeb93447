package fedmsg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// Consumer subscribes to every endpoint and hands over decoded events.
type Consumer struct {
	cfg     Config
	log     *slog.Logger
	metrics *bus.Metrics

	*bus.Handoff
	raw  chan received
	live atomic.Int32
}

var _ bus.Consumer = (*Consumer)(nil)

type received struct {
	endpoint string
	frames   [][]byte
}

// NewConsumer starts one subscriber socket per endpoint.
func NewConsumer(cfg Config, opts ...bus.Option) (*Consumer, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("fedmsg: no endpoint configured")
	}
	cfg.Topics = cfg.topics()
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = time.Second
	}
	log, metrics := bus.Named(opts, "fedmsg")
	c := &Consumer{
		Handoff: bus.NewHandoff(),
		cfg:     cfg,
		log:     log,
		metrics: metrics,
		raw:     make(chan received),
	}
	for _, ep := range cfg.Endpoints {
		c.Go(func(ctx context.Context) { c.subscribe(ctx, ep) })
	}
	c.Go(c.merge)
	return c, nil
}

// subscribe reads one endpoint. Its socket redials by itself after the
// publisher goes away; a socket that fails outright is replaced.
func (c *Consumer) subscribe(ctx context.Context, ep string) {
	b := bus.Backoff{Min: c.cfg.ReconnectInterval, Max: 30 * time.Second}
	first := true
	for ctx.Err() == nil {
		if !first {
			c.metrics.Reconnects.Inc()
		}
		first = false
		err := c.read(ctx, ep)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("subscriber socket failed", "endpoint", ep, "err", err)
		if b.Wait(ctx) != nil {
			return
		}
	}
}

func (c *Consumer) read(ctx context.Context, ep string) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sock := zmq4.NewSub(sctx,
		zmq4.WithAutomaticReconnect(true),
		zmq4.WithDialerMaxRetries(-1),
		zmq4.WithDialerRetry(c.cfg.ReconnectInterval),
		zmq4.WithLogger(log.New(io.Discard, "", 0)))
	defer sock.Close()
	for _, t := range c.topics() {
		if err := sock.SetOption(zmq4.OptionSubscribe, t); err != nil {
			return fmt.Errorf("subscribing to %q: %w", t, err)
		}
	}
	// With unlimited retries Dial returns once the publisher is there.
	if err := sock.Dial(ep); err != nil {
		return err
	}
	c.live.Add(1)
	defer c.live.Add(-1)
	c.log.Info("subscribed", "endpoint", ep, "topics", c.topics())
	for {
		msg, err := sock.Recv()
		if err != nil {
			return err
		}
		select {
		case c.raw <- received{endpoint: ep, frames: msg.Frames}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// merge drops duplicates, counts gaps and decodes, in one goroutine so the
// bookkeeping needs no lock.
func (c *Consumer) merge(ctx context.Context) {
	dedup := newSeen(c.cfg.DedupWindow)
	senders := counters{}
	for {
		var r received
		select {
		case r = <-c.raw:
		case <-ctx.Done():
			return
		}
		c.metrics.Received.Inc()
		if len(r.frames) != 2 {
			c.malformed(r, fmt.Errorf("%w: %d frames, want 2", ErrMalformedEnvelope, len(r.frames)))
			continue
		}
		env, err := ParseEnvelope(r.frames[1])
		if err != nil {
			c.malformed(r, err)
			continue
		}
		if n := senders.gap(r.endpoint, env.I); n > 0 {
			c.metrics.Gaps.Inc()
			c.log.Warn("messages missed: the sender's counter jumped", "endpoint", r.endpoint, "missed", n, "i", env.I)
		}
		if env.MsgID != "" && !dedup.add(env.MsgID) {
			c.metrics.Duplicates.Inc()
			continue
		}
		msg, err := c.input(env.Topic).Decode(env.Topic, env.Msg)
		if err != nil {
			c.malformed(r, err)
			continue
		}
		if c.Deliver(ctx, &delivery{env: env, msg: msg}) != nil {
			return
		}
	}
}

func (c *Consumer) inputs() []bus.Input { return c.cfg.AllInputs() }

// topics are the subscriptions of every socket, each once.
func (c *Consumer) topics() []string {
	var ts []string
	for _, in := range c.inputs() {
		if !slices.Contains(ts, in.Address) {
			ts = append(ts, in.Address)
		}
	}
	return ts
}

// input is the input whose subscription matched topic: the longest
// prefix, since ZeroMQ matches subscriptions by prefix.
func (c *Consumer) input(topic string) bus.Input {
	best := bus.Input{Address: topic}
	found := false
	for _, in := range c.inputs() {
		if strings.HasPrefix(topic, in.Address) && (!found || len(in.Address) >= len(best.Address)) {
			best, found = in, true
		}
	}
	return best
}

func (c *Consumer) malformed(r received, err error) {
	c.metrics.Malformed.Inc()
	var body []byte
	if len(r.frames) > 0 {
		body = r.frames[len(r.frames)-1]
	}
	if len(body) > 512 {
		body = append(body[:512:512], "..."...)
	}
	c.log.Warn("dropping malformed message", "endpoint", r.endpoint, "err", err, "body", string(body))
}

// Connected reports whether at least one endpoint is connected. A socket
// that lost its publisher redials by itself and still counts: ZeroMQ does
// not tell.
func (c *Consumer) Connected() bool { return c.live.Load() > 0 }

type delivery struct {
	env Envelope
	msg build.Message
}

func (d *delivery) Message() build.Message { return d.msg }
func (d *delivery) MessageID() string      { return d.env.MsgID }
func (d *delivery) Body() []byte           { return d.env.Msg }

// Topic is the envelope's topic.
func (d *delivery) Topic() string { return d.env.Topic }

// Ack does nothing: fedmsg cannot acknowledge.
func (d *delivery) Ack(context.Context) error { return nil }
