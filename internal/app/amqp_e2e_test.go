package app_test

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// machineRabbit is the machine's RabbitMQ, set up by
// internal/testenv/services.sh; tests use queue and topic names of their own.
const machineRabbit = "amqp://guest:guest@127.0.0.1:5672/"

func needRabbit(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
		return
	}
	c.Close()
}

// rabbit is the machine's RabbitMQ as one test uses it: a routing key for
// MBS events, a topic prefix for announcements and a durable queue for
// the service, all of its own; the announcements read from a queue bound
// to the prefix.
type rabbit struct {
	inKey, prefix, queue string
	ch                   *amqp091.Channel
	announcements        <-chan amqp091.Delivery
}

func newRabbit(t *testing.T, queuePrefix string) *rabbit {
	t.Helper()
	needRabbit(t)
	u := fmt.Sprintf("t%d", time.Now().UnixNano())
	r := &rabbit{inKey: "org.fedoraproject." + u + ".mbs.module.state.change", prefix: "org.fedoraproject." + u + ".mts", queue: queuePrefix + u}
	conn, err := amqp091.Dial(machineRabbit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if r.ch, err = conn.Channel(); err != nil {
		t.Fatal(err)
	}
	// The service's queue is durable; it must not outlive the test.
	t.Cleanup(func() { _, _ = r.ch.QueueDelete(r.queue, false, false, false) })
	// The watcher's queue goes away with its connection.
	out, err := r.ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ch.QueueBind(out.Name, r.prefix+".#", amqp.DefaultExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	if r.announcements, err = r.ch.Consume(out.Name, "", true, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// send publishes ev's MBS event to amq.topic as fedora-messaging does.
func (r *rabbit) send(t *testing.T, ev build.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.ch.PublishWithContext(ctx, amqp.DefaultExchange, r.inKey, false, false, amqp091.Publishing{
		ContentType: "application/json", DeliveryMode: amqp091.Persistent, Body: []byte(mbsBody(t, ev)),
		Headers: amqp091.Table{"fedora_messaging_schema": "base.message"},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEndOnAMQP runs the service with the fedora-messaging backend:
// MBS events published to amq.topic, announcements read back from it with
// fedora-messaging's headers.
func TestEndToEndOnAMQP(t *testing.T) {
	rb := newRabbit(t, "mts-service-test-")
	prefix, announcements := rb.prefix, rb.announcements
	hub := newHub(t)
	m := newMBS(t)
	cfg := baseConfig(t, busNames{}, hub, m)
	cfg.MessagingBackend = config.BackendFedoraMessaging
	cfg.AMQPURL, cfg.AMQPQueue, cfg.AMQPRoutingKeys, cfg.AMQPTopicPrefix = machineRabbit, rb.queue, []string{rb.inKey}, prefix
	r := startApp(t, cfg)
	send := func(ev build.Event) { rb.send(t, ev) }

	matched := javaEvent(1, "ready")
	addJava(hub, m, matched)
	send(matched)
	unmatched := build.Event{ID: 2, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"}
	m.add(2, "nodejs-12-f31.yaml")
	send(unmatched)
	filtered := javaEvent(3, "build")
	addJava(hub, m, filtered)
	send(filtered)

	want := map[string]int{"build.tag.requested": 2, "build.tag.unmatched": 1}
	got := map[string][]amqp091.Delivery{}
	timeout := time.After(20 * time.Second)
	for len(got["build.tag.requested"]) < 2 || len(got["build.tag.unmatched"]) < 1 {
		select {
		case d := <-announcements:
			topic := strings.TrimPrefix(d.RoutingKey, prefix+".")
			got[topic] = append(got[topic], d)
		case <-timeout:
			t.Fatalf("announcements after 20s: %v", got)
		}
	}
	eventually(t, 10*time.Second, "the filtered event", func() bool { return r.events(service.OutcomeFiltered) == 1 })

	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for topic, ds := range got {
		if len(ds) != want[topic] {
			t.Errorf("%d %s announcements, want %d", len(ds), topic, want[topic])
		}
		for _, d := range ds {
			if d.ContentType != "application/json" || d.DeliveryMode != amqp091.Persistent || !uuid.MatchString(d.MessageId) {
				t.Errorf("%s: content type %q, delivery mode %d, message id %q", topic, d.ContentType, d.DeliveryMode, d.MessageId)
			}
			if d.Headers["fedora_messaging_schema"] != amqp.DefaultSchema ||
				d.Headers["fedora_messaging_severity"] != int32(amqp.SeverityInfo) || d.Headers["sent-at"] == nil {
				t.Errorf("%s: headers %v", topic, d.Headers)
			}
			body := parseAnnouncement(t, d.Body)
			switch topic {
			case "build.tag.requested":
				if body.Build.ID != 1 || len(body.DestinationTags) != 1 ||
					body.DestinationTags[0].Tag != "f29-modular-ursamajor" || body.DestinationTags[0].TaskID == nil {
					t.Errorf("%s: %s", topic, d.Body)
				}
			case "build.tag.unmatched":
				if body.Build.ID != 2 {
					t.Errorf("%s: %s", topic, d.Body)
				}
			}
		}
	}
	n1, n2 := nvrs(matched)
	if tagCallsFor(hub, n1) != 1 || tagCallsFor(hub, n2) != 1 {
		t.Errorf("tagBuild calls: %d for %s, %d for %s", tagCallsFor(hub, n1), n1, tagCallsFor(hub, n2), n2)
	}
	f1, _ := nvrs(filtered)
	if tagCallsFor(hub, f1) != 0 {
		t.Errorf("the filtered build was tagged")
	}
	// Everything was acknowledged: nothing waits in the service's queue.
	eventually(t, 10*time.Second, "the queue empty", func() bool {
		q, err := rb.ch.QueueDeclarePassive(rb.queue, true, false, false, false, nil)
		return err == nil && q.Messages == 0
	})
}
