package amqp

import (
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/build"
)

// TestInputsReadKojiBesideMBS: one queue bound to MBS's topic and to
// Koji's fedora-messaging topics (and a key that names no kind, read as
// its input's) delivers each message as the kind of its routing key,
// with Fedora's flat bodies.
func TestInputsReadKojiBesideMBS(t *testing.T) {
	needRabbit(t)
	u := bustest.Unique("t")
	prefix := "org.fedoraproject.test." + u
	c := newConsumer(t, Config{URL: machineURL, Queue: "mts-" + u, Bindings: []string{prefix + ".mbs.module.state.change"},
		Inputs: []bus.Input{
			{Address: prefix + ".buildsys.tag"},
			{Address: prefix + ".buildsys.build.state.change"},
			{Address: prefix + ".untags", Kind: build.KindUntag},
		},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	bustest.WaitConnected(t, c, wait)
	p := newPublisher(t, Config{URL: machineURL, TopicPrefix: prefix})
	publish(t, p, "buildsys.tag", []byte(bustest.FedoraTag))
	publish(t, p, "buildsys.build.state.change", []byte(bustest.FedoraStateChange))
	publish(t, p, "untags", []byte(bustest.FedoraUntag))
	publish(t, p, "mbs.module.state.change", bustest.Body(1001))
	// Bound to no input: never delivered.
	publish(t, p, "buildsys.untag", []byte(bustest.FedoraUntag))
	bustest.ReceiveKinds(t, c, wait,
		bustest.Want{Kind: build.KindModule, Build: 1001},
		bustest.Want{Kind: build.KindTag, Build: 1457909, Tag: "f31-updates-pending"},
		bustest.Want{Kind: build.KindComplete, Build: 1478312},
		bustest.Want{Kind: build.KindUntag, Build: 1457909, Tag: "f31-updates-testing"},
	)
	bustest.ExpectNothing(t, c, 300*time.Millisecond)
}
