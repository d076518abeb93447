package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// umbOverAMQP10 is the newest reference's UMB setup against RabbitMQ's
// AMQP 1.0 plugin: amqps with a client certificate, the durable input
// queue bound to the MBS virtual topic, a Proton sender as rhmsg sends, and
// a stand-in hub (with hubOpts).
type umbOverAMQP10 struct {
	node  *testenv.RabbitMQAMQP10
	queue string
	peer  *testenv.ProtonPeer
	hub   *kojitest.Hub
	mbs   *mbsStandIn
	cfg   *config.Config
}

func newUMBOverAMQP10(t *testing.T, hubOpts ...kojitest.Option) *umbOverAMQP10 {
	t.Helper()
	node := amqp10Node(t)
	const (
		queue   = "Consumer.client-mts.queue.VirtualTopic.eng.mbs.module.state.change"
		inTopic = "VirtualTopic.eng.mbs.module.state.change"
	)
	bindQueue(t, node.AMQPURL, queue, inTopic)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	peer, err := testenv.StartProtonSender(ctx, t.TempDir(), "amqp://guest:guest@"+node.Addr, "/topic/"+inTopic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Stop)
	u := &umbOverAMQP10{node: node, queue: queue, peer: peer,
		hub: newHub(t, hubOpts...), mbs: newMBS(t)}
	u.cfg = baseConfig(t, newBusNames("amqp10"), u.hub, u.mbs)
	u.cfg.RhmsgBrokers = []string{"amqps://" + node.TLSAddr}
	u.cfg.RhmsgCertificate, u.cfg.RhmsgPrivateKey, u.cfg.RhmsgCACert = node.PKI.ClientCert, node.PKI.ClientKey, node.PKI.CACert
	u.cfg.RhmsgBrokerType, u.cfg.RhmsgQueue, u.cfg.RhmsgTopicPrefix = "rabbitmq", queue, "VirtualTopic.eng.mts"
	return u
}

// realTaskTiming closes tagBuild tasks 0.5-2 s after the call, as a hub
// does.
var realTaskTiming = kojitest.WithTaskTiming(500*time.Millisecond, 2*time.Second)

// events are builds first, first+1, ... each in the states MBS announces
// (build, done, ready), known to the hub and MBS.
func (u *umbOverAMQP10) events(first int64, builds int) []build.Event {
	var evs []build.Event
	for i := range int64(builds) {
		for _, st := range []string{"build", "done", "ready"} {
			ev := javaEvent(first+i, st)
			if st == "build" {
				addJava(u.hub, u.mbs, ev)
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// send sends ev as rhmsg does: the JSON as an AMQP string value, durable.
func (u *umbOverAMQP10) send(t testing.TB, ev build.Event) {
	t.Helper()
	if err := u.peer.Send(mbsBody(t, ev), true); err != nil {
		t.Fatal(err)
	}
}

// settled counts the events the service has finished, whatever the outcome.
func settled(reg prometheus.Gatherer) float64 {
	var n float64
	for _, o := range []string{service.OutcomeMatched, service.OutcomeUnmatched, service.OutcomeSkipped, service.OutcomeFiltered} {
		n += gathered(reg, "mts_events_total", "outcome", o)
	}
	return n
}

// expectAllSettled waits until n events are settled and the queue is
// empty, then checks that every ready build was tagged once.
func (u *umbOverAMQP10) expectAllSettled(t *testing.T, r *running, n int, within time.Duration, evs []build.Event) {
	t.Helper()
	eventually(t, within, fmt.Sprintf("%d events settled", n), func() bool { return settled(r.reg) >= float64(n) })
	if got := settled(r.reg); got != float64(n) {
		t.Errorf("%v events settled, want %d", got, n)
	}
	if ready := rabbitQueueDepth(t, u.node.AMQPURL, u.queue); ready != 0 {
		t.Errorf("%d messages left ready on the queue", ready)
	}
	for _, ev := range evs {
		if ev.StateName != "ready" {
			continue
		}
		n1, n2 := nvrs(ev)
		if c1, c2 := tagCallsFor(u.hub, n1), tagCallsFor(u.hub, n2); c1 != 1 || c2 != 1 {
			t.Errorf("build %d: %d and %d tagBuild calls, want 1 each", ev.ID, c1, c2)
		}
	}
}

// TestUMBOverAMQP10SettlesEveryEvent: 35 builds in the states MBS
// announces (105 events), sent at once, all settle with tagging at the
// hub's real task timing: the slow, out-of-order settlements that lost the
// consumer its link credit.
func TestUMBOverAMQP10SettlesEveryEvent(t *testing.T) {
	u := newUMBOverAMQP10(t, realTaskTiming)
	r := startApp(t, u.cfg)
	evs := u.events(100, 35)
	for _, ev := range evs {
		u.send(t, ev)
	}
	u.expectAllSettled(t, r, len(evs), 2*time.Minute, evs)
}

// TestUMBOverAMQP10Soak: a steady publisher for about 40 s, 1,002 events
// in all; the service settles them all, and in no 5 s window after the
// first events does it settle none.
func TestUMBOverAMQP10Soak(t *testing.T) {
	u := newUMBOverAMQP10(t, realTaskTiming)
	r := startApp(t, u.cfg)
	evs := u.events(1000, 334)
	const rate = 25 // events a second
	start := time.Now()
	go func() {
		for i, ev := range evs {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d)
			}
			if err := u.peer.Send(mbsBody(t, ev), true); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(5 * time.Second)
	last := settled(r.reg)
	for settled(r.reg) < float64(len(evs)) {
		time.Sleep(5 * time.Second)
		now := settled(r.reg)
		if now == last {
			t.Fatalf("no event settled in 5 s, %v of %d settled after %s", now, len(evs), time.Since(start).Round(time.Second))
		}
		last = now
	}
	u.expectAllSettled(t, r, len(evs), 10*time.Second, evs)
}

// rabbitQueueDepth is how many messages wait in queue, not sent to a
// consumer.
func rabbitQueueDepth(t testing.TB, url, queue string) int {
	t.Helper()
	ch := testenv.RabbitChannel(t, url)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// amqp10Node is a RabbitMQ node with the AMQP 1.0 plugin, of the test's
// own, with a Proton peer at hand; it stops when the test ends.
func amqp10Node(t *testing.T) *testenv.RabbitMQAMQP10 {
	t.Helper()
	if err := testenv.RabbitMQAvailable(); err != nil {
		testenv.Missing(t, "rabbitmq-server: %v", err)
	}
	if err := testenv.ProtonAvailable(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node, err := testenv.StartRabbitMQAMQP10(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return node
}
