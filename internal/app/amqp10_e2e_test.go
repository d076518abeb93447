package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// mbsBody is the MBS message of ev, with some of the fields the service
// must ignore.
func mbsBody(t testing.TB, ev build.Event) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": ev.ID, "name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context,
		"state": ev.State, "state_name": ev.StateName, "scratch": ev.Scratch, "owner": "mbs", "koji_tag": "module-x",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bindQueue declares a durable queue bound to amq.topic with key.
func bindQueue(t testing.TB, url, queue, key string) {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, key, "amq.topic", false, nil); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEndOnUMBOverAMQP10 runs the service with the rhmsg settings of
// the newest reference (amqps:// brokers, client certificate, key and CA,
// the UMB queue and topic prefix) against RabbitMQ's AMQP 1.0 plugin: a
// Proton client sends MBS events the way rhmsg does, another collects what
// the service announces.
func TestEndToEndOnUMBOverAMQP10(t *testing.T) {
	u := newUMBOverAMQP10(t)
	node, queue, hub, m, cfg := u.node, u.queue, u.hub, u.mbs, u.cfg
	const collect = "announcements"
	bindQueue(t, node.AMQPURL, collect, "VirtualTopic.eng.mts.#")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watcher, err := testenv.StartProtonReceiver(ctx, t.TempDir(), "amqp://guest:guest@"+node.Addr, "/amq/queue/"+collect)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Stop()
	mbsPeer := u.peer
	// A dead first broker: the service fails over to the second.
	cfg.RhmsgBrokers = []string{"amqps://127.0.0.1:1", "amqps://" + node.TLSAddr}
	r := startApp(t, cfg)
	reg := r.reg

	matched := javaEvent(1, "ready")
	addJava(hub, m, matched)
	unmatched := build.Event{ID: 2, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"}
	m.add(2, "nodejs-12-f31.yaml")
	filtered := javaEvent(3, "build")
	addJava(hub, m, filtered)
	for i, ev := range []build.Event{matched, unmatched, filtered} {
		// rhmsg sends a Python str: an AMQP string value. Other senders
		// use a data section; both must be read.
		if err := mbsPeer.Send(mbsBody(t, ev), i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := mbsPeer.Send("{not json", false); err != nil {
		t.Fatal(err)
	}

	got := map[string][]testenv.ProtonMessage{}
	timeout := time.After(30 * time.Second)
	for len(got["build.tag.requested"]) < 2 || len(got["build.tag.unmatched"]) < 1 {
		select {
		case msg := <-watcher.Received():
			var body struct {
				Build struct {
					ID   int64  `json:"id"`
					Name string `json:"name"`
				} `json:"build"`
				NVR             string `json:"nvr"`
				DestinationTags []struct {
					Tag    string `json:"tag"`
					TaskID *int64 `json:"task_id"`
				} `json:"destination_tags"`
			}
			if err := json.Unmarshal([]byte(msg.Body), &body); err != nil {
				t.Fatalf("announcement %q: %v", msg.Body, err)
			}
			if !msg.Durable || msg.BodyKind != "data" || msg.ContentType != "application/json" {
				t.Errorf("announcement not a durable JSON data section: %+v", msg)
			}
			topic := "build.tag.unmatched"
			if body.NVR != "" {
				topic = "build.tag.requested"
				if body.Build.ID != 1 || len(body.DestinationTags) != 1 || body.DestinationTags[0].TaskID == nil ||
					body.DestinationTags[0].Tag != "f29-modular-ursamajor" {
					t.Errorf("build.tag.requested: %s", msg.Body)
				}
			} else if body.Build.ID != 2 {
				t.Errorf("build.tag.unmatched: %s", msg.Body)
			}
			got[topic] = append(got[topic], msg)
		case <-timeout:
			t.Fatalf("announcements after 30s: %v", got)
		}
	}
	eventually(t, 10*time.Second, "the filtered event", func() bool { return r.events(service.OutcomeFiltered) == 1 })
	n1, n2 := nvrs(matched)
	if tagCallsFor(hub, n1) != 1 || tagCallsFor(hub, n2) != 1 {
		t.Errorf("tagBuild calls: %d for %s, %d for %s", tagCallsFor(hub, n1), n1, tagCallsFor(hub, n2), n2)
	}
	eventually(t, 10*time.Second, "the malformed message counted", func() bool {
		return gathered(reg, bus.MetricMalformed, "bus", "amqp10") == 1
	})
	// Every event was settled: nothing waits in the service's queue.
	eventually(t, 10*time.Second, "the queue empty", func() bool { return rabbitQueueDepth(t, node.AMQPURL, queue) == 0 })
}
