package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// LineConsumer reads MBS message bodies, one JSON object a line, from a
// file or stdin: the input of `mts serve --dev`, where no broker is
// involved. Blank lines are skipped; malformed lines are logged and
// skipped, as a bus consumer does. At the end of the input Receive
// returns bus.ErrClosed.
type LineConsumer struct {
	mu   sync.Mutex
	sc   *bufio.Scanner
	line int
	log  *slog.Logger
}

// NewLineConsumer reads events from r.
func NewLineConsumer(r io.Reader, log *slog.Logger) *LineConsumer {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LineConsumer{sc: sc, log: log}
}

// Receive returns the next event of the input.
func (c *LineConsumer) Receive(ctx context.Context) (bus.Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !c.sc.Scan() {
			if err := c.sc.Err(); err != nil {
				return nil, fmt.Errorf("reading events: %w", errors.Join(err, bus.ErrClosed))
			}
			return nil, bus.ErrClosed
		}
		c.line++
		body := c.sc.Bytes()
		if len(trimSpace(body)) == 0 {
			continue
		}
		ev, err := build.Decode(body)
		if err != nil {
			c.log.Error("skipping a line that is not an MBS event", "line", c.line, "error", err)
			continue
		}
		return &lineDelivery{ev: ev, id: "line-" + strconv.Itoa(c.line), body: append([]byte(nil), body...), log: c.log}, nil
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// Connected is always true: there is no connection to lose.
func (c *LineConsumer) Connected() bool { return true }

// Close does nothing; the caller owns the reader.
func (c *LineConsumer) Close() error { return nil }

type lineDelivery struct {
	ev   build.Event
	id   string
	body []byte
	log  *slog.Logger
}

func (d *lineDelivery) Event() build.Event        { return d.ev }
func (d *lineDelivery) MessageID() string         { return d.id }
func (d *lineDelivery) Body() []byte              { return d.body }
func (d *lineDelivery) Ack(context.Context) error { return nil }
func (d *lineDelivery) Nack(ctx context.Context) error {
	// No broker to hand the event back to: say so, it is not redelivered.
	d.log.Warn("event not processed; a broker would deliver it again", "message_id", d.id)
	return nil
}

// LinePublisher writes each message as one JSON line,
// {"topic": ..., "body": ...}, instead of publishing it: the output of
// `mts serve --dev`.
type LinePublisher struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLinePublisher writes to w.
func NewLinePublisher(w io.Writer) *LinePublisher { return &LinePublisher{w: w} }

// Publish writes the message.
func (p *LinePublisher) Publish(_ context.Context, topic string, body []byte) error {
	line, err := json.Marshal(struct {
		Topic string          `json:"topic"`
		Body  json.RawMessage `json:"body"`
	}{topic, body})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = p.w.Write(append(line, '\n'))
	return err
}

// Close does nothing; the caller owns the writer.
func (p *LinePublisher) Close() error { return nil }
