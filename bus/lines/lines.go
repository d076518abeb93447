// Package lines is the bus of `mts serve --dev`: events are read as JSON
// lines from a file or stdin, and the messages that would be published are
// written as JSON lines, with no broker involved.
// It must not be used outside development mode and tests.
package lines

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

// Consumer reads messages, one JSON object a line: an MBS message body,
// or {"topic": T, "body": B} for a message of the kind topic T carries
// (Koji's build.complete, build.tag, buildsys.tag, ...; B is the body as
// the bus delivers it). Blank lines are skipped; malformed lines are
// logged and skipped, as a bus consumer does. At the end of the input
// Receive returns bus.ErrClosed.
type Consumer struct {
	mu   sync.Mutex
	sc   *bufio.Scanner
	line int
	log  *slog.Logger
}

// NewConsumer reads events from r.
func NewConsumer(r io.Reader, log *slog.Logger) *Consumer {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{sc: sc, log: log}
}

// Receive returns the next event of the input.
func (c *Consumer) Receive(ctx context.Context) (bus.Delivery, error) {
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
		topic, msgBody := split(body)
		m, err := build.DecodeMessage(topic, "", msgBody)
		if err != nil {
			c.log.Error("skipping a line that is not an event", "line", c.line, "topic", topic, "error", err)
			continue
		}
		return &delivery{m: m, id: "line-" + strconv.Itoa(c.line), body: append([]byte(nil), msgBody...)}, nil
	}
}

// split reads a {"topic": T, "body": B} line as T and B; any other line
// is an MBS body with no topic. An MBS body never has exactly those two
// keys.
func split(line []byte) (string, []byte) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(line, &fields) != nil || len(fields) != 2 {
		return "", line
	}
	var topic string
	body, ok := fields["body"]
	if !ok || json.Unmarshal(fields["topic"], &topic) != nil || topic == "" {
		return "", line
	}
	return topic, body
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// Connected is always true: there is no connection to lose.
func (c *Consumer) Connected() bool { return true }

// Close does nothing; the caller owns the reader.
func (c *Consumer) Close() error { return nil }

type delivery struct {
	m    build.Message
	id   string
	body []byte
}

func (d *delivery) Message() build.Message    { return d.m }
func (d *delivery) MessageID() string         { return d.id }
func (d *delivery) Body() []byte              { return d.body }
func (d *delivery) Ack(context.Context) error { return nil }

// Publisher writes each message as one JSON line,
// {"topic": ..., "body": ...}, instead of publishing it.
type Publisher struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPublisher writes to w.
func NewPublisher(w io.Writer) *Publisher { return &Publisher{w: w} }

// Publish writes the message.
func (p *Publisher) Publish(_ context.Context, topic string, body []byte) error {
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
func (p *Publisher) Close() error { return nil }
