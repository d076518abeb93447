package config

import (
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
)

func TestInputs(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       func(c *Config) Inputs
		inputs     Inputs
	}{
		{
			name: "UMB virtual topic queues",
			yaml: "messaging_backend: rhmsg\nrhmsg_brokers: [b:1]\nrhmsg_inputs:\n" +
				"  - queue: Consumer.mts.prod.VirtualTopic.eng.brew.build.complete\n" +
				"  - Consumer.mts.prod.VirtualTopic.eng.brew.build.tag\n" +
				"  - queue: mts-untags\n    kind: build.untag\n",
			want: func(c *Config) Inputs { return c.RhmsgInputs },
			inputs: Inputs{
				{Address: "Consumer.mts.prod.VirtualTopic.eng.brew.build.complete", Field: "queue", Line: 4},
				{Address: "Consumer.mts.prod.VirtualTopic.eng.brew.build.tag", Field: "queue", Line: 5},
				{Address: "mts-untags", Field: "queue", Kind: build.KindUntag, Line: 6},
			},
		},
		{
			name:   "RabbitMQ over STOMP binds topics",
			yaml:   "messaging_backend: rhmsg\nrhmsg_brokers: [b:1]\nrhmsg_broker_type: rabbitmq\nrhmsg_inputs: [{topic: VirtualTopic.eng.brew.build.tag}]\n",
			want:   func(c *Config) Inputs { return c.RhmsgInputs },
			inputs: Inputs{{Address: "VirtualTopic.eng.brew.build.tag", Field: "topic", Line: 4}},
		},
		{
			name: "fedora-messaging routing keys",
			yaml: "amqp_inputs:\n  - routing_key: org.fedoraproject.prod.buildsys.tag\n  - org.fedoraproject.prod.buildsys.untag\n",
			want: func(c *Config) Inputs { return c.AMQPInputs },
			inputs: Inputs{
				{Address: "org.fedoraproject.prod.buildsys.tag", Field: "routing_key", Line: 2},
				{Address: "org.fedoraproject.prod.buildsys.untag", Field: "routing_key", Line: 3},
			},
		},
		{
			name: "fedmsg topics",
			yaml: "messaging_backend: fedmsg\nfedmsg_endpoints: [tcp://h:9940]\nfedmsg_publish_endpoint: tcp://*:1\n" +
				"fedmsg_inputs: [{topic: org.fedoraproject.prod.buildsys.build.state.change}]\n",
			want:   func(c *Config) Inputs { return c.FedmsgInputs },
			inputs: Inputs{{Address: "org.fedoraproject.prod.buildsys.build.state.change", Field: "topic", Line: 4}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			if err := c.LoadBytes("mts.yaml", []byte("rules: [a]\n"+tt.yaml)); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			got := tt.want(c)
			if len(got) != len(tt.inputs) {
				t.Fatalf("got %+v, want %+v", got, tt.inputs)
			}
			for i := range got {
				want := tt.inputs[i]
				want.Line++ // the rules line the test puts first
				if got[i] != want {
					t.Errorf("input %d: got %+v, want %+v", i, got[i], want)
				}
			}
		})
	}
}

func TestInputProblemsNameTheLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown kind", "amqp_inputs:\n  - routing_key: org.fedoraproject.prod.buildsys.tag\n  - routing_key: x\n    kind: build.tagged\n",
			`mts.yaml:5: amqp_inputs: kind: unknown event kind "build.tagged" (known: module.state.change, build.building, build.complete, build.failed, build.canceled, build.deleted, build.tag, build.untag)`},
		{"not a list", "amqp_inputs: {routing_key: x}\n",
			"mts.yaml:2: amqp_inputs: want a list of inputs, each an address or a mapping with routing_key and an optional kind"},
		{"bad entry type", "fedmsg_inputs: [[a]]\n", "mts.yaml:2: fedmsg_inputs: want a list of inputs, each an address or a mapping with topic and an optional kind, not a list"},
		{"number address", "amqp_inputs: [42]\n", `mts.yaml:2: amqp_inputs: want a list of inputs`},
		{"kind is a list", "amqp_inputs:\n  - routing_key: x\n    kind: [build.tag]\n", "mts.yaml:4: amqp_inputs: kind: want a text value"},
		{"unknown field", "amqp_inputs:\n  - queue: x\n", "mts.yaml:3: amqp_inputs: unknown key queue in an input (want routing_key or kind)"},
		{"unknown field with a value of another type", "amqp_inputs:\n  - routing_key: x\n    extra: 1\n", "mts.yaml:4: amqp_inputs: unknown key extra in an input (want routing_key or kind)"},
		{"no address", "amqp_inputs:\n  - kind: build.tag\n", "mts.yaml:3: amqp_inputs: an input needs its routing_key"},
		{"two addresses", "rhmsg_inputs:\n  - queue: a\n    topic: b\n", "mts.yaml:4: rhmsg_inputs: topic: give one of queue or topic"},
		{"topic on ActiveMQ", "messaging_backend: rhmsg\nrhmsg_brokers: [b:1]\nrhmsg_inputs:\n  - topic: VirtualTopic.eng.brew.build.tag\n",
			"mts.yaml:5: rhmsg_inputs: VirtualTopic.eng.brew.build.tag: an input is a queue here"},
		{"queue on RabbitMQ STOMP", "messaging_backend: rhmsg\nrhmsg_brokers: [b:1]\nrhmsg_broker_type: rabbitmq\nrhmsg_inputs:\n  - q\n",
			"mts.yaml:6: rhmsg_inputs: q: on rabbitmq over STOMP an input is a topic"},
		{"other backend's inputs", "fedmsg_inputs: [org.fedoraproject.prod.buildsys.tag]\n",
			"mts.yaml:2: fedmsg_inputs: not used with messaging_backend fedora-messaging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			err := c.LoadBytes("mts.yaml", []byte("rules: [a]\n"+tt.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
