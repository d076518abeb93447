// Package bus defines what the service needs from a message bus: a consumer
// that hands over decoded messages (MBS module build events and Koji's own
// build events, from one input or several), each to be acknowledged
// or given back, and a publisher that reports whether the broker took a
// message. One subpackage per bus implements them, with only its wire;
// what they share is written here once: broker kinds and UMB's defaults,
// broker lists, the connect and backoff defaults, redialling, probes, the
// hand-off to the workers, parking, TLS files, options and metrics. It
// must not know a broker's wire, the configuration file or the pipeline's
// retry model.
package bus

import (
	"context"
	"errors"

	"github.com/fedora-modularity/mts/internal/build"
)

// Delivery is one received event. Ack it once the outcome is durable
// (processed, deliberately dropped, or parked). There is no Nack: an
// event is never handed back (ActiveMQ would move it to its dead letter
// queue at once); one the service cannot finish stays unacknowledged, and
// the broker delivers it again once the connection is gone.
type Delivery interface {
	// Message is the decoded message, of the kind the topic it came on
	// names (or its input's kind).
	Message() build.Message
	// MessageID identifies the message on its bus, for logs.
	MessageID() string
	// Body is the message body as received.
	Body() []byte
	Ack(ctx context.Context) error
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
