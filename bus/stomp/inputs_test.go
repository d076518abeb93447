package stomp

import (
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/build"
)

// TestInputsReadKojiBesideMBS: one consumer reads MBS's queue and Koji's
// build.complete, build.tag and build.untag, each message decoded as the
// kind of the topic it was sent to: on ActiveMQ from the virtual topics'
// consumer queues, on RabbitMQ from one queue bound to every topic.
func TestInputsReadKojiBesideMBS(t *testing.T) {
	type setup struct {
		name     string
		consumer Config
		producer Config
	}
	var setups []setup
	if a := needActiveMQ(t); a != nil {
		u := bustest.Unique("t")
		vt := "VirtualTopic." + u
		setups = append(setups, setup{
			name: "activemq",
			consumer: Config{URIs: []string{"stomp://" + a.STOMPAddr}, Queue: "Consumer.mts.queue." + vt + ".module.state.change",
				Inputs: []bus.Input{
					{Address: "Consumer.mts.queue." + vt + ".build.complete"},
					{Address: "/queue/Consumer.mts.queue." + vt + ".build.tag"},
					{Address: "Consumer.mts.queue." + vt + ".build.untag", Kind: build.KindUntag},
				},
				MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
			producer: Config{URIs: []string{a.STOMPAddr}, TopicPrefix: vt},
		})
	}
	needRabbitSTOMP(t)
	u := bustest.Unique("t")
	setups = append(setups, setup{
		name: "rabbitmq",
		consumer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest",
			Queue: "mts-" + u, Topic: u + ".module.state.change",
			// A routing key that names no kind is read as its input's.
			Inputs:     []bus.Input{{Address: u + ".build.complete"}, {Address: u + ".build.tag"}, {Address: u + ".untags", Kind: build.KindUntag}},
			MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
		producer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest", TopicPrefix: u},
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			untag := "build.untag"
			if s.consumer.Broker == RabbitMQ {
				untag = "untags"
			}
			c := newConsumer(t, s.consumer)
			// A virtual topic delivers only to consumer queues that exist.
			bustest.WaitConnected(t, c, wait)
			p := newPublisher(t, s.producer)
			publish(t, p, "build.complete", bustest.Protonmsg(t, "build.complete").Body)
			publish(t, p, "build.tag", bustest.Protonmsg(t, "build.tag").Body)
			publish(t, p, untag, bustest.Protonmsg(t, "build.untag").Body)
			publish(t, p, "module.state.change", bustest.Body(1001))
			bustest.ReceiveKinds(t, c, wait,
				bustest.Want{Kind: build.KindModule, Build: 1001},
				bustest.Want{Kind: build.KindComplete, Build: 1},
				bustest.Want{Kind: build.KindTag, Build: 3, Tag: "f29-modular-updates-candidate"},
				bustest.Want{Kind: build.KindUntag, Build: 8, Tag: "f27-modular-updates-candidate"},
			)
			bustest.ExpectNothing(t, c, 300*time.Millisecond)
		})
	}
}
