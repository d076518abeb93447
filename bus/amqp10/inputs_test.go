package amqp10

import (
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/build"
)

// TestInputsReadKojiBesideMBS: a consumer of MBS's queue and of Koji's
// queues reads them all, each on a link (and connection) of its own,
// sharing the credit: the hub's recorded protonmsg bodies, sent as
// protonmsg sends them (an AMQP string to its topic address), arrive as
// the kinds their queues name, or as the kind an input is given.
func TestInputsReadKojiBesideMBS(t *testing.T) {
	b := needBroker(t)
	vt := "VirtualTopic." + bustest.Unique("eng")
	queue := func(topic string) string { return "Consumer.mts.queue." + vt + "." + topic }
	untags := bustest.Unique("mts-untags")
	declareQueue(t, b.AMQPURL, queue("module.state.change"), vt+".module.state.change")
	declareQueue(t, b.AMQPURL, queue("build.complete"), vt+".build.complete")
	declareQueue(t, b.AMQPURL, queue("build.tag"), vt+".build.tag")
	declareQueue(t, b.AMQPURL, untags, vt+".build.untag")
	for _, topic := range []string{"build.complete", "build.tag", "build.untag"} {
		if err := sender(t, b, vt+"."+topic).Send(string(bustest.Protonmsg(t, topic).Body), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := sender(t, b, vt+".module.state.change").Send(string(bustest.Body(1001)), false); err != nil {
		t.Fatal(err)
	}
	cfg := tlsConfig(b, queue("module.state.change"))
	cfg.Inputs = []bus.Input{
		{Address: queue("build.complete")},
		{Address: "/queue/" + queue("build.tag")},
		{Address: untags, Kind: build.KindUntag},
	}
	c := newConsumer(t, cfg)
	bustest.WaitConnected(t, c, 30*time.Second)
	bustest.ReceiveKinds(t, c, 30*time.Second,
		bustest.Want{Kind: build.KindModule, Build: 1001},
		bustest.Want{Kind: build.KindComplete, Build: 1},
		bustest.Want{Kind: build.KindTag, Build: 3, Tag: "f29-modular-updates-candidate"},
		bustest.Want{Kind: build.KindUntag, Build: 8, Tag: "f27-modular-updates-candidate"},
	)
	bustest.ExpectNothing(t, c, 300*time.Millisecond)
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for _, q := range []string{queue("module.state.change"), queue("build.complete"), queue("build.tag"), untags} {
		for n := queueDepth(t, b.AMQPURL, q); n != 0; n = queueDepth(t, b.AMQPURL, q) {
			if time.Now().After(deadline) {
				t.Fatalf("%d messages left in %s after every one was accepted", n, q)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
