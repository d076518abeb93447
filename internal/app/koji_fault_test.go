package app_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// The fault tests on Koji's events run on ActiveMQ with protonmsg's
// shape over STOMP, as UMB carries Brew's events, and the rules of
// testdata/serve/rules-koji: every image goes candidate -> signing-pending
// -> index, each step a reaction to the echo of the last.

// TestKojiKillNineMidBurst kills mts serve with SIGKILL while a burst of
// image imports and the echoes of its own tags are being handled, and
// starts it again: no event is lost (every image goes the whole way) and
// no build gets a second task into a tag.
func TestKojiKillNineMidBurst(t *testing.T) {
	ks := newKojiStack(t, kojiOnActiveMQ(t), kojitest.WithTaskDelay(100*time.Millisecond))
	ks.hub.Delay("tagBuild", 20*time.Millisecond)
	bin := buildMTS(t)
	conf := ks.serveConfig(t, faultTuning)
	cmd := startMTS(t, bin, conf, testWriter{t})
	const count = 20
	images := ks.importImages(300, count)
	eventually(t, 30*time.Second, "some builds tagged", func() bool { return len(ks.hub.TagCalls()) >= count/2 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if done := len(ks.hub.Tagged(tagIndex)); done == count {
		t.Fatalf("every image went the whole way before the kill; the test proves nothing")
	}
	t.Logf("killed after %d tagBuild calls, %d images in the index", len(ks.hub.TagCalls()), len(ks.hub.Tagged(tagIndex)))
	startMTS(t, bin, conf, testWriter{t})
	ks.expectChainDone(t, 90*time.Second, images)
	ks.expectChainAnnounced(t, 20*time.Second, images, false)
}

// TestKojiHubAwayHoldsEvents: while the hub does not answer, Koji's
// events are held unacknowledged, nothing is decided on them and nothing
// parked; once it is back they are all carried out, each step once.
func TestKojiHubAwayHoldsEvents(t *testing.T) {
	ks := newKojiStack(t, kojiOnActiveMQ(t), kojitest.WithTaskDelay(100*time.Millisecond))
	recs := &kojiRecords{}
	cfg := ks.config(t, "")
	cfg.RetryMinBackoff, cfg.RetryMaxBackoff = config.Duration(100*time.Millisecond), config.Duration(time.Second)
	r := startApp(t, cfg, recs)
	ks.hub.SetAway(true)
	const count = 8
	images := ks.importImages(400, count)
	eventually(t, 20*time.Second, "the hub's messages on the bus", func() bool { return ks.relay.count("build.complete") == count })
	time.Sleep(3 * time.Second)
	if n := len(ks.hub.TagCalls()); n != 0 {
		t.Fatalf("%d tagBuild calls reached a hub that is away", n)
	}
	if got := r.events(service.OutcomeMatched) + r.events(service.OutcomeParked) + r.events(service.OutcomeBuildInfoError); got != 0 {
		t.Errorf("%v events settled while the hub was away; want them held", got)
	}
	for _, nvr := range images {
		if rs := recs.of(nvr); len(rs) != 0 {
			t.Errorf("%s: decided while the hub was away: %s %s", nvr, rs[0].Decision.Outcome, rs[0].Decision.Error)
		}
	}
	ks.hub.SetAway(false)
	ks.expectChainDone(t, 60*time.Second, images)
	ks.expectChainAnnounced(t, 10*time.Second, images, true)
	for _, nvr := range images {
		if n := recs.matchedBy(nvr, "images"); n != 1 {
			t.Errorf("%s: its build.complete decided %d times, want once", nvr, n)
		}
	}
}

// TestKojiBrokerRestart restarts the broker between two bursts: the
// first is done, the service reconnects, and the second, which the hub
// sends while the broker is away (as its database queue resends), is
// done as well, each step once. It restarts the ActiveMQ the other tests
// share, as TestBrokerRestartIn500Events does.
func TestKojiBrokerRestart(t *testing.T) {
	b := needBroker(t)
	ks := newKojiStack(t, kojiOnActiveMQ(t), kojitest.WithTaskDelay(100*time.Millisecond))
	recs := &kojiRecords{}
	cfg := ks.config(t, "")
	cfg.RetryMinBackoff, cfg.RetryMaxBackoff = config.Duration(200*time.Millisecond), config.Duration(2*time.Second)
	r := startApp(t, cfg, recs)
	const count = 8
	first := ks.importImages(500, count)
	ks.expectChainDone(t, 60*time.Second, first)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// The hub goes on while the broker is away; its messages wait in
	// its database queue until the broker is back, and so do they until
	// the consumer queues are there again: on UMB they are configured,
	// here they go with the broker.
	ks.relay.pause()
	b.Kill()
	second := ks.importImages(600, count)
	if err := b.Start(ctx); err != nil {
		ks.relay.resume()
		t.Fatal(err)
	}
	makeVirtualTopicQueues(t, b, ks.bus.prefix, ks.bus.queues, kojiAddresses)
	ks.relay.resume()
	eventually(t, 60*time.Second, "the service connected again", func() bool {
		return gathered(r.reg, bus.MetricReconnects, "bus", "stomp") >= 1 && gathered(r.reg, bus.MetricConnected, "", "") > 0
	})
	ks.expectChainDone(t, 90*time.Second, append(first, second...))
	for _, nvr := range append(first, second...) {
		if n := recs.matchedBy(nvr, "images"); n != 1 {
			t.Errorf("%s: its build.complete decided %d times, want once", nvr, n)
		}
	}
}

// TestKojiTwoConsumersOneQueue runs two services on the same queues:
// they share the work, and every image is tagged once per step whichever
// of them gets each echo.
func TestKojiTwoConsumersOneQueue(t *testing.T) {
	ks := newKojiStack(t, kojiOnActiveMQ(t), kojitest.WithTaskDelay(100*time.Millisecond))
	r1 := startApp(t, ks.config(t, ""))
	r2 := startApp(t, ks.config(t, ""))
	const count = 20
	images := ks.importImages(700, count)
	ks.expectChainDone(t, 60*time.Second, images)
	ks.expectChainAnnounced(t, 10*time.Second, images, true)
	m1, m2 := r1.events(service.OutcomeMatched), r2.events(service.OutcomeMatched)
	if m1 == 0 || m2 == 0 {
		t.Errorf("work not shared: %v and %v events matched", m1, m2)
	}
	if m1+m2 != 3*count {
		t.Errorf("%v events matched, want %d (three steps per image)", m1+m2, 3*count)
	}
}
