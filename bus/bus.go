// Package bus defines what the service needs from a message bus: a consumer
// that hands over decoded MBS module build events, each to be acknowledged
// or given back, and a publisher that reports whether the broker took a
// message. One subpackage per bus implements them.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Event is an MBS module build state change, as the service reads it.
type Event struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Stream    string `json:"stream"`
	Version   string `json:"version"`
	Context   string `json:"context"`
	State     int    `json:"state"`
	StateName string `json:"state_name"`
	Scratch   bool   `json:"scratch"`
}

// ErrMalformed marks a message whose body is not an MBS event. Consumers
// log, count and acknowledge such messages so they never block a queue.
var ErrMalformed = errors.New("malformed message")

// Decode reads an MBS module build message. It accepts the MBS object
// itself and the older {"msg": {...}} wrapping; unknown fields are ignored.
func Decode(body []byte) (Event, error) {
	var probe struct {
		Msg json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(probe.Msg) > 0 && string(probe.Msg) != "null" {
		body = probe.Msg
	}
	var raw struct {
		ID        *int64          `json:"id"`
		Name      string          `json:"name"`
		Stream    json.RawMessage `json:"stream"`
		Version   json.RawMessage `json:"version"`
		Context   string          `json:"context"`
		State     int             `json:"state"`
		StateName string          `json:"state_name"`
		Scratch   bool            `json:"scratch"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if raw.ID == nil || raw.Name == "" {
		return Event{}, fmt.Errorf("%w: no module build id or name", ErrMalformed)
	}
	ev := Event{
		ID: *raw.ID, Name: raw.Name, Context: raw.Context,
		State: raw.State, StateName: raw.StateName, Scratch: raw.Scratch,
	}
	var err error
	if ev.Stream, err = scalarText(raw.Stream); err != nil {
		return Event{}, fmt.Errorf("%w: stream: %v", ErrMalformed, err)
	}
	if ev.Version, err = scalarText(raw.Version); err != nil {
		return Event{}, fmt.Errorf("%w: version: %v", ErrMalformed, err)
	}
	return ev, nil
}

// scalarText accepts a JSON string or number: MBS sends version as a string,
// but some senders write it as a number, and its digits must not change.
func scalarText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// Delivery is one received event. Exactly one of Ack or Nack must be
// called: Ack once the outcome is durable (processed, or deliberately
// dropped), Nack to hand the event back to the broker after a transient
// failure (redelivery or dead letter, as the broker is set up).
type Delivery interface {
	Event() Event
	// MessageID identifies the message on its bus, for logs.
	MessageID() string
	// Body is the message body as received.
	Body() []byte
	Ack(ctx context.Context) error
	Nack(ctx context.Context) error
}

// Consumer hands over decoded events. Receive is safe for concurrent use by
// several workers; it blocks until an event arrives, ctx ends or the
// consumer is closed (ErrClosed). Malformed messages never reach the
// caller: the consumer logs, counts and acknowledges them itself.
type Consumer interface {
	Receive(ctx context.Context) (Delivery, error)
	// Connected reports whether the consumer currently has a live
	// connection to its broker, for readiness checks.
	Connected() bool
	Close() error
}

// Publisher sends a JSON body to a topic relative to the bus's prefix (for
// example "build.tag.requested"). It returns nil only once the broker has
// taken the message (receipt or confirm), where the bus can tell.
type Publisher interface {
	Publish(ctx context.Context, topic string, body []byte) error
	Close() error
}

// ErrClosed is returned by Receive after Close.
var ErrClosed = errors.New("bus: consumer closed")
