package bus

import (
	"fmt"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
)

// Input is one address a consumer reads: a queue, a STOMP destination, a
// routing key or a fedmsg topic, spelt as its bus spells it. Each message
// is decoded as the kind the topic it came on names (build.TopicKind),
// else as Kind, else as an MBS module event.
type Input struct {
	Address string
	// Kind is for addresses whose names end in no topic TopicKind knows.
	Kind build.Kind
}

// String is the input for logs and `serve --check-config`: the address
// and the kind its messages are read as.
func (in Input) String() string {
	return fmt.Sprintf("%s (%s)", in.Address, in.ReadAs())
}

// ReadAs is the kind a message on the input is read as when the topic it
// came on names none: "buildsys.build.state.change" for Fedora's state
// change topic, whose kind is in each body.
func (in Input) ReadAs() build.Kind {
	if k, ok := build.TopicKind(in.Address); ok {
		return k
	}
	if in.Kind != "" {
		return in.Kind
	}
	return build.KindModule
}

// Decode reads a message of the input that came on topic (the routing
// key, destination or address the broker gives; the input's address when
// it gives none).
func (in Input) Decode(topic string, body []byte) (build.Message, error) {
	if strings.TrimSpace(topic) == "" {
		topic = in.Address
	}
	if _, ok := build.TopicKind(topic); !ok {
		// The broker's name for the topic says nothing: the input's own
		// name may (a virtual topic's consumer queue).
		if k, ok := build.TopicKind(in.Address); ok {
			return build.DecodeMessage(topic, k, body)
		}
	}
	return build.DecodeMessage(topic, in.Kind, body)
}
