package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
)

// Input is one entry of rhmsg_inputs, amqp_inputs or fedmsg_inputs: an
// address read beside the backend's MBS queue or topic, and the kind of
// event its messages are read as when the topic they come on does not
// name one. A file gives it as a mapping ({queue: ..., kind: ...}) or as
// the address alone.
type Input struct {
	// Address is the queue, topic or routing key.
	Address string
	// Field is the mapping key that gave Address: queue, topic or
	// routing_key.
	Field string
	// Kind is empty, or a kind build.ParseKind accepts.
	Kind build.Kind
	// Line is where the entry starts in the file, 0 when not from a file.
	Line int
}

// Inputs is a list of inputs.
type Inputs []Input

// inputFields are the address keys an entry of the inputs setting key
// takes; the first is what an entry given as a bare address is.
func inputFields(key string) []string {
	switch key {
	case "rhmsg_inputs":
		return []string{"queue", "topic"}
	case "amqp_inputs":
		return []string{"routing_key"}
	case "fedmsg_inputs":
		return []string{"topic"}
	}
	return nil
}

// lineError is a problem with a part of a value that has a line of its
// own, such as one entry of a list.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

func entryError(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// decodeInputs reads the list of inputs of setting key.
func decodeInputs(key string, n *yaml.Node) (Inputs, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	fields := inputFields(key)
	want := fmt.Sprintf("want a list of inputs, each an address or a mapping with %s and an optional kind",
		strings.Join(fields, " or "))
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New(want)
	}
	var ins Inputs
	for _, e := range n.Content {
		if e.Kind == yaml.AliasNode {
			e = e.Alias
		}
		in := Input{Field: fields[0], Line: e.Line}
		switch e.Kind {
		case yaml.ScalarNode:
			if e.Tag != "!!str" {
				return nil, entryError(e, "%s, not %q", want, e.Value)
			}
			in.Address = e.Value
		case yaml.MappingNode:
			for i := 0; i+1 < len(e.Content); i += 2 {
				k, v := e.Content[i], e.Content[i+1]
				if k.Value != "kind" && !slices.Contains(fields, k.Value) {
					return nil, entryError(k, "unknown key %s in an input (want %s or kind)", k.Value, strings.Join(fields, ", "))
				}
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
					return nil, entryError(v, "%s: want a text value", k.Value)
				}
				switch {
				case k.Value == "kind":
					kind, err := build.ParseKind(v.Value)
					if err != nil {
						return nil, entryError(v, "kind: %v", err)
					}
					in.Kind = kind
				case slices.Contains(fields, k.Value):
					if in.Address != "" {
						return nil, entryError(k, "%s: give one of %s", k.Value, strings.Join(fields, " or "))
					}
					in.Address, in.Field = v.Value, k.Value
				}
			}
		default:
			return nil, entryError(e, "%s, not a %s", want, kindName(e))
		}
		if strings.TrimSpace(in.Address) == "" {
			return nil, entryError(e, "an input needs its %s", strings.Join(fields, " or "))
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// inputProblem is a Problem about one input of key, at its own line.
func (c *Config) inputProblem(key string, in Input, format string, args ...any) Problem {
	p := c.problem(key, format, args...)
	if in.Line > 0 && p.File != "" {
		p.Line = in.Line
	}
	return p
}

// checkInputs finds what does not fit the backend in the inputs of the
// backend in use.
func (c *Config) checkInputs(add func(Problem)) {
	switch c.MessagingBackend {
	case BackendRhmsg:
		// On RabbitMQ's STOMP plugin an input is a routing key bound to
		// rhmsg_queue; everywhere else a queue (or source address).
		rabbitSTOMP := c.RhmsgBrokerType == "rabbitmq" && !c.RhmsgAMQP10()
		for _, in := range c.RhmsgInputs {
			switch {
			case rabbitSTOMP && in.Field != "topic":
				add(c.inputProblem("rhmsg_inputs", in, "%s: on rabbitmq over STOMP an input is a topic (a routing key bound to rhmsg_queue): write topic: %s", in.Address, in.Address))
			case !rabbitSTOMP && in.Field != "queue":
				add(c.inputProblem("rhmsg_inputs", in, "%s: an input is a queue here (topic is for rabbitmq over STOMP): write queue: %s", in.Address, in.Address))
			}
		}
	}
	others := map[string]Inputs{"rhmsg_inputs": c.RhmsgInputs, "amqp_inputs": c.AMQPInputs, "fedmsg_inputs": c.FedmsgInputs}
	used := map[string]string{BackendRhmsg: "rhmsg_inputs", BackendFedoraMessaging: "amqp_inputs", BackendFedmsg: "fedmsg_inputs"}[c.MessagingBackend]
	for _, key := range []string{"rhmsg_inputs", "amqp_inputs", "fedmsg_inputs"} {
		if key != used && len(others[key]) > 0 {
			add(c.problem(key, "not used with messaging_backend %s", c.MessagingBackend))
		}
	}
}
