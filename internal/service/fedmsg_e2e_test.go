package service_test

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
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// TestEndToEndOnFedmsg runs the service with the fedmsg backend between
// two python3-zmq peers, as fedmsg's own Python programs would be: MBS
// events from a publisher peer, announcements to a subscriber peer.
func TestEndToEndOnFedmsg(t *testing.T) {
	if err := testenv.ZMQAvailable(); err != nil {
		testenv.Missing(t, "python3-zmq: %v", err)
		return
	}
	const (
		env     = "stg"
		inTopic = "org.fedoraproject." + env + ".mbs.module.state.change"
		prefix  = "org.fedoraproject." + env + ".mts."
	)
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
	mbsPeer, err := testenv.StartZMQPublisher(ctx, t.TempDir(), in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mbsPeer.Stop)

	reg := prometheus.NewRegistry()
	log := testLogger(t)
	cfg := fedmsg.Config{Endpoints: []string{in}, Topics: []string{inTopic}, PublishEndpoint: out,
		Environment: env, ReconnectInterval: 50 * time.Millisecond}
	consumer, err := fedmsg.NewConsumer(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := fedmsg.NewPublisher(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	watcher, err := testenv.StartZMQSubscriber(ctx, t.TempDir(), out, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Stop)
	// A PUB socket drops what it sends before a subscription reaches it:
	// probe until the watcher hears one.
	probeOut(t, pub, watcher)

	hub := newHub(t)
	m := newMBS(t)
	r := runService(t, reg, consumer, pub, hub, m, staticRules(t, "rules-e2e/v1.yaml"), 4)

	seq := 0
	send := func(ev build.Event) {
		t.Helper()
		seq++
		msg, err := json.Marshal(map[string]any{
			"id": ev.ID, "name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context,
			"state": ev.State, "state_name": ev.StateName, "scratch": false, "owner": "mbs",
		})
		if err != nil {
			t.Fatal(err)
		}
		envelope, err := json.Marshal(map[string]any{
			"topic": inTopic, "msg": json.RawMessage(msg), "msg_id": fmt.Sprintf("2019-%d", seq),
			"timestamp": float64(time.Now().Unix()), "i": seq, "username": "mbs",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := mbsPeer.Send(inTopic, envelope); err != nil {
			t.Fatal(err)
		}
	}
	// The same for the way in: filtered events until one is handled.
	deadline := time.Now().Add(20 * time.Second)
	for probe := int64(1000); r.events(service.OutcomeFiltered) == 0; probe++ {
		if time.Now().After(deadline) {
			t.Fatal("the service never received an event")
		}
		send(javaEvent(probe, "build"))
		time.Sleep(50 * time.Millisecond)
	}

	matched := javaEvent(1, "ready")
	addJava(hub, m, matched)
	send(matched)
	unmatched := build.Event{ID: 2, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"}
	m.add(2, "nodejs-12-f31.yaml")
	send(unmatched)

	got := map[string][]fedmsg.Envelope{}
	timeout := time.After(20 * time.Second)
	for len(got[prefix+"build.tag.requested"]) < 2 || len(got[prefix+"build.tag.unmatched"]) < 1 {
		select {
		case frames := <-watcher.Received():
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
			if !strings.HasSuffix(env.Topic, ".probe") {
				got[env.Topic] = append(got[env.Topic], env)
			}
		case <-timeout:
			t.Fatalf("announcements after 20s: %v", got)
		}
	}
	for _, env := range got[prefix+"build.tag.requested"] {
		var body struct {
			Build struct {
				ID int64 `json:"id"`
			} `json:"build"`
			DestinationTags []struct {
				Tag    string `json:"tag"`
				TaskID *int64 `json:"task_id"`
			} `json:"destination_tags"`
		}
		if err := json.Unmarshal(env.Msg, &body); err != nil {
			t.Fatal(err)
		}
		if body.Build.ID != 1 || len(body.DestinationTags) != 1 || body.DestinationTags[0].TaskID == nil {
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
	if m.calls.Load() != 2 {
		t.Errorf("%d MBS requests, want 2: filtered events went further", m.calls.Load())
	}
}

func probeOut(t *testing.T, pub *fedmsg.Publisher, watcher *testenv.ZMQPeer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := pub.Publish(context.Background(), "probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-watcher.Received():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never received a probe")
		}
	}
}
