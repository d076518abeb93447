// Package fedmsg connects the service to fedmsg, Fedora's ZeroMQ PUB/SUB
// bus. Subscribers connect to every endpoint of the environment, one
// socket each, and merge what they receive; the publisher binds.
//
// fedmsg has no acknowledgement and no broker-side queue: whatever is
// published while the service is down or reconnecting is lost, and a
// restart can miss events. Ack is therefore a no-op. Gaps in a
// sender's message counter are counted so that losses show up in metrics.
// It must not read mts's configuration (internal/app maps it) or decide
// what an event means.
package fedmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fedora-modularity/mts/bus"
)

// Defaults, as Fedora names things.
const (
	DefaultEnvironment = "prod"
	// DefaultTopic is MBS's module build state change topic in prod.
	DefaultTopic = "org.fedoraproject.prod.mbs.module.state.change"
	// DefaultDedupWindow is how many recent msg_ids are remembered to
	// drop duplicates, which arrive when one message reaches several of
	// the configured endpoints (relays).
	DefaultDedupWindow = 10000
)

// Config describes the endpoints and topics.
type Config struct {
	// Endpoints are the publishers to subscribe to, e.g.
	// "tcp://hub.fedoraproject.org:9940".
	Endpoints []string
	// Topics are topic prefixes to subscribe to (ZeroMQ subscriptions
	// match by prefix), read as MBS events unless the topic names another
	// kind; DefaultTopic by default.
	Topics []string
	// Inputs are more topic prefixes to subscribe to, each with the kind
	// its messages are read as when their topic names none: Koji's
	// (org.fedoraproject.prod.buildsys.tag, ...) beside MBS's.
	Inputs []bus.Input
	// DedupWindow bounds the memory kept for duplicate detection.
	DedupWindow int
	// ReconnectInterval is how often a lost endpoint is redialled, 1s by
	// default.
	ReconnectInterval time.Duration

	// PublishEndpoint is where the publisher binds, e.g. "tcp://*:3000".
	PublishEndpoint string
	// Environment is prod, stg or dev, used in the default prefix.
	Environment string
	// TopicPrefix is put before published topics;
	// "org.fedoraproject.<Environment>.mts" by default.
	TopicPrefix string
	// Username is the envelope's username; the process's user by default.
	Username string
	// ParkingTopic, relative like the announcements' topics, is where
	// Park publishes events the service gave up on (parking_routing_key);
	// empty: the publisher cannot park.
	ParkingTopic string
}

// topics are Topics, or the default.
func (c Config) topics() []string {
	if len(c.Topics) == 0 {
		return []string{DefaultTopic}
	}
	return c.Topics
}

// AllInputs are the topics a consumer subscribes to, Topics (with their
// default) first, each with the kind it is read as.
func (c Config) AllInputs() []bus.Input {
	var ins []bus.Input
	for _, t := range c.topics() {
		ins = append(ins, bus.Input{Address: t})
	}
	return append(ins, c.Inputs...)
}

// Envelope is a fedmsg message as sent on the wire (the second frame).
type Envelope struct {
	Topic     string          `json:"topic"`
	Msg       json.RawMessage `json:"msg"`
	MsgID     string          `json:"msg_id"`
	Timestamp float64         `json:"timestamp"`
	I         int64           `json:"i"`
	Username  string          `json:"username,omitempty"`
	// The signature fields are present only on signed messages; they are
	// kept for logs, not verified.
	Crypto      string `json:"crypto,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Signature   string `json:"signature,omitempty"`
}

// ErrMalformedEnvelope marks a second frame that is not a fedmsg envelope.
var ErrMalformedEnvelope = errors.New("fedmsg: malformed envelope")

// ParseEnvelope reads the envelope frame.
func ParseEnvelope(frame []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(frame, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformedEnvelope, err)
	}
	if len(e.Msg) == 0 || string(e.Msg) == "null" {
		return Envelope{}, fmt.Errorf("%w: no msg", ErrMalformedEnvelope)
	}
	return e, nil
}

// seen remembers the last n message ids, forgetting the oldest first.
type seen struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newSeen(n int) *seen {
	return &seen{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it was new.
func (s *seen) add(id string) bool {
	if _, dup := s.ids[id]; dup {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = struct{}{}
	return true
}

// counters tracks each sender's message counter "i" to spot gaps. A sender
// is identified by the endpoint it was received from: fedmsg numbers the
// messages of one publishing socket. A counter that goes down means the
// sender restarted, which is not a gap.
type counters map[string]int64

// gap records i for sender and returns how many messages were skipped.
func (c counters) gap(sender string, i int64) int64 {
	last, ok := c[sender]
	c[sender] = i
	if !ok || i <= last {
		return 0
	}
	return i - last - 1
}
