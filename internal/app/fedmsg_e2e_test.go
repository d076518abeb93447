package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const (
	fedmsgEnv     = "stg"
	fedmsgInTopic = "org.fedoraproject." + fedmsgEnv + ".mbs.module.state.change"
	fedmsgPrefix  = "org.fedoraproject." + fedmsgEnv + ".mts."
)

// fedmsgRun is the service on the fedmsg backend between two python3-zmq
// peers, as fedmsg's own Python programs would be: MBS events from a
// publisher peer, announcements to a subscriber peer.
type fedmsgRun struct {
	hub     *kojitest.Hub
	mbs     *mbsStandIn
	r       *running
	peer    *testenv.ZMQPeer
	watcher *testenv.ZMQPeer
	seq     int
	probes  int64
}

// startFedmsg starts the peers and the service, cfgFn changing its
// configuration first, and waits until both ways are connected.
func startFedmsg(t *testing.T, cfgFn func(*config.Config)) *fedmsgRun {
	if err := testenv.ZMQAvailable(); err != nil {
		testenv.Missing(t, "python3-zmq: %v", err)
	}
	endpoint := func() string {
		port, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("tcp://127.0.0.1:%d", port)
	}
	in, out := endpoint(), endpoint()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := &fedmsgRun{hub: newHub(t), mbs: newMBS(t)}
	var err error
	if f.peer, err = testenv.StartZMQPublisher(ctx, t.TempDir(), in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.peer.Stop)
	cfg := baseConfig(t, busNames{}, f.hub, f.mbs)
	cfg.MessagingBackend = config.BackendFedmsg
	cfg.FedmsgEndpoints, cfg.FedmsgTopics, cfg.FedmsgPublishEndpoint = []string{in}, []string{fedmsgInTopic}, out
	cfg.FedmsgTopicPrefix = strings.TrimSuffix(fedmsgPrefix, ".")
	if cfgFn != nil {
		cfgFn(cfg)
	}
	f.r = startApp(t, cfg)
	if f.watcher, err = testenv.StartZMQSubscriber(ctx, t.TempDir(), out, fedmsgPrefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.watcher.Stop)
	// PUB/SUB drops what is sent before the subscriptions are in place,
	// both ways: unmatched events until the watcher hears one announced.
	deadline := time.Now().Add(20 * time.Second)
	for heard := false; !heard; {
		if time.Now().After(deadline) {
			t.Fatal("no announcement of a probe reached the watcher")
		}
		id := 1000 + f.probes
		f.probes++
		f.mbs.add(id, "nodejs-12-f31.yaml")
		f.send(t, build.Event{ID: id, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"})
		select {
		case <-f.watcher.Received():
			heard = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	return f
}

// send publishes ev from the MBS peer in a fedmsg envelope.
func (f *fedmsgRun) send(t *testing.T, ev build.Event) {
	t.Helper()
	f.seq++
	msg, err := json.Marshal(map[string]any{
		"id": ev.ID, "name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context,
		"state": ev.State, "state_name": ev.StateName, "scratch": false, "owner": "mbs",
	})
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := json.Marshal(map[string]any{
		"topic": fedmsgInTopic, "msg": json.RawMessage(msg), "msg_id": fmt.Sprintf("2019-%d", f.seq),
		"timestamp": float64(time.Now().Unix()), "i": f.seq, "username": "mbs",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.peer.Send(fedmsgInTopic, envelope); err != nil {
		t.Fatal(err)
	}
}

// receive waits for the next envelope the watcher hears.
func (f *fedmsgRun) receive(t *testing.T, within time.Duration) (fedmsg.Envelope, bool) {
	t.Helper()
	select {
	case frames := <-f.watcher.Received():
		if len(frames) != 2 {
			t.Fatalf("%d frames, want topic and envelope", len(frames))
		}
		env, err := fedmsg.ParseEnvelope([]byte(frames[1]))
		if err != nil {
			t.Fatal(err)
		}
		if env.Topic != frames[0] || env.MsgID == "" || env.Timestamp == 0 {
			t.Errorf("envelope %+v under topic %s", env, frames[0])
		}
		return env, true
	case <-time.After(within):
		return fedmsg.Envelope{}, false
	}
}

// TestEndToEndOnFedmsg: a matched and an unmatched event over fedmsg,
// announced as fedmsg messages.
func TestEndToEndOnFedmsg(t *testing.T) {
	f := startFedmsg(t, nil)
	hub, m := f.hub, f.mbs
	prefix := fedmsgPrefix
	matched := javaEvent(1, "ready")
	addJava(hub, m, matched)
	f.send(t, matched)
	unmatched := build.Event{ID: 2, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"}
	m.add(2, "nodejs-12-f31.yaml")
	f.send(t, unmatched)

	got := map[string][]fedmsg.Envelope{}
	deadline := time.Now().Add(20 * time.Second)
	for len(got[prefix+"build.tag.requested"]) < 2 || len(got[prefix+"build.tag.unmatched"]) < 1 {
		env, ok := f.receive(t, time.Until(deadline))
		if !ok {
			t.Fatalf("announcements after 20s: %v", got)
		}
		if parseAnnouncement(t, env.Msg).Build.ID < 1000 {
			got[env.Topic] = append(got[env.Topic], env)
		}
	}
	for _, env := range got[prefix+"build.tag.requested"] {
		if body := parseAnnouncement(t, env.Msg); body.Build.ID != 1 || len(body.DestinationTags) != 1 || body.DestinationTags[0].TaskID == nil {
			t.Errorf("announced %s", env.Msg)
		}
	}
	if len(got) != 2 {
		t.Errorf("announced under %d topics, want 2: %v", len(got), got)
	}
	n1, n2 := nvrs(matched)
	if tagCallsFor(hub, n1) != 1 || tagCallsFor(hub, n2) != 1 {
		t.Errorf("tagBuild calls: %d for %s, %d for %s", tagCallsFor(hub, n1), n1, tagCallsFor(hub, n2), n2)
	}
	if m.calls.Load() > 2+f.probes {
		t.Errorf("%d MBS requests, want at most %d", m.calls.Load(), 2+f.probes)
	}
}

// TestParkedOnFedmsg: with retry_give_up_after, an event held that long
// (MBS away) is published on the parking topic, the reason in the
// message's headers and the original message in it, and counted. fedmsg
// parks on parking_routing_key only: a service with parking_queue alone
// does not start.
func TestParkedOnFedmsg(t *testing.T) {
	f := startFedmsg(t, func(c *config.Config) {
		c.RetryGiveUpAfter, c.ParkingRoutingKey = config.Duration(time.Second), "parked"
	})
	f.mbs.down.Store(true)
	ev := javaEvent(3, "ready")
	addJava(f.hub, f.mbs, ev)
	f.send(t, ev)
	deadline := time.Now().Add(20 * time.Second)
	var parked struct {
		Headers map[string]string `json:"headers"`
		Msg     struct {
			ID      int64  `json:"id"`
			Version string `json:"version"`
		} `json:"msg"`
	}
	for parked.Msg.ID == 0 {
		env, ok := f.receive(t, time.Until(deadline))
		if !ok {
			t.Fatal("nothing parked after 20s")
		}
		if env.Topic == fedmsgPrefix+"parked" {
			if err := json.Unmarshal(env.Msg, &parked); err != nil {
				t.Fatal(err)
			}
		}
	}
	if parked.Msg.ID != 3 || parked.Msg.Version != ev.Version || parked.Headers[bus.HeaderParkReason] != "retry_give_up_after: mbs down" ||
		parked.Headers[bus.HeaderParkDependency] != "mbs" || parked.Headers[bus.HeaderParkEventID] != "3" || parked.Headers[bus.HeaderParkMessageID] == "" {
		t.Errorf("parked %+v", parked)
	}
	eventually(t, 5*time.Second, "parked event counted", func() bool {
		return gathered(f.r.reg, "mts_events_parked_total", "dependency", "mbs") == 1
	})
	if got := f.r.events(service.OutcomeParked); got != 1 {
		t.Errorf("%v events with outcome parked, want 1", got)
	}
	if n1, _ := nvrs(ev); tagCallsFor(f.hub, n1) != 0 {
		t.Errorf("a parked event was tagged")
	}

	cfg := baseConfig(t, busNames{}, f.hub, f.mbs)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MessagingBackend = config.BackendFedmsg
	cfg.FedmsgEndpoints, cfg.FedmsgPublishEndpoint = []string{"tcp://127.0.0.1:1"}, fmt.Sprintf("tcp://127.0.0.1:%d", port)
	cfg.RetryGiveUpAfter, cfg.ParkingQueue = config.Duration(time.Second), "parked"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(t.Context(), cfg, app.Options{Logger: testLogger(t), Registry: prometheus.NewRegistry()}); err == nil {
		t.Fatal("started with retry_give_up_after and parking_queue on fedmsg")
	} else if !strings.Contains(err.Error(), "parking_routing_key") {
		t.Errorf("error %q does not name parking_routing_key", err)
	}
}
