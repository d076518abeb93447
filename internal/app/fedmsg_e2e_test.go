package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
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

	hub := newHub(t)
	m := newMBS(t)
	cfg := baseConfig(t, busNames{}, hub, m)
	cfg.MessagingBackend = config.BackendFedmsg
	cfg.FedmsgEndpoints, cfg.FedmsgTopics, cfg.FedmsgPublishEndpoint = []string{in}, []string{inTopic}, out
	cfg.FedmsgTopicPrefix = strings.TrimSuffix(prefix, ".")
	startApp(t, cfg)
	watcher, err := testenv.StartZMQSubscriber(ctx, t.TempDir(), out, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Stop)

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
	// PUB/SUB drops what is sent before the subscriptions are in place,
	// both ways: unmatched events until the watcher hears one announced.
	probes := int64(0)
	deadline := time.Now().Add(20 * time.Second)
	for heard := false; !heard; {
		if time.Now().After(deadline) {
			t.Fatal("no announcement of a probe reached the watcher")
		}
		id := 1000 + probes
		probes++
		m.add(id, "nodejs-12-f31.yaml")
		send(build.Event{ID: id, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"})
		select {
		case <-watcher.Received():
			heard = true
		case <-time.After(200 * time.Millisecond):
		}
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
			var b struct {
				Build struct {
					ID int64 `json:"id"`
				} `json:"build"`
			}
			if json.Unmarshal(env.Msg, &b) == nil && b.Build.ID < 1000 {
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
	if m.calls.Load() > 2+probes {
		t.Errorf("%d MBS requests, want at most %d", m.calls.Load(), 2+probes)
	}
}
