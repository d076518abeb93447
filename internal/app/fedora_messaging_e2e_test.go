package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
)

// pythonServiceTOML is a fedora-messaging config.toml of the reference
// service's shape: an exclusive, auto-deleted queue bound to amq.topic,
// prefetch 25. %s are the broker URL and the routing key.
const pythonServiceTOML = `amqp_url = "%s"
callback = "message_tagging_service.consumer:Consumer"

[client_properties]
app = "Message Tagging Service"

[exchanges."amq.topic"]
type = "topic"
durable = true
auto_delete = false
arguments = {}

[queues.00000000-0000-0000-0000-000000000000]
durable = false
auto_delete = true
exclusive = true
arguments = {}

[[bindings]]
queue = "00000000-0000-0000-0000-000000000000"
exchange = "amq.topic"
routing_keys = ["%s"]

[qos]
prefetch_size = 0
prefetch_count = 25
`

// TestEndToEndFedoraMessagingTOML drives the fedora-messaging consumer
// from the reference's config.toml: refused as it is (its queue loses
// events while mts is down), then run with amqp_queue naming a durable
// queue of mts's own that keeps the file's broker, bindings and prefetch;
// an event sent while the service is stopped is handled after it starts
// again.
func TestEndToEndFedoraMessagingTOML(t *testing.T) {
	rb := newRabbit(t, "mts-fm-")
	prefix := rb.prefix
	file := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(file, fmt.Appendf(nil, pythonServiceTOML, machineRabbit, rb.inKey), 0o644); err != nil {
		t.Fatal(err)
	}
	fm, err := amqp.LoadFedoraMessaging(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fm.Apply(amqp.Config{}, false); err == nil || !strings.Contains(err.Error(), "allow_transient_queue") {
		t.Fatalf("the reference's transient queue was not refused: %v", err)
	}

	send := func(ev build.Event) { rb.send(t, ev) }
	expect := func(id int64) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case d := <-rb.announcements:
				if parseAnnouncement(t, d.Body).Build.ID == id &&
					d.RoutingKey == prefix+".build.tag.requested" {
					return
				}
			case <-timeout:
				t.Fatalf("no build.tag.requested for build %d", id)
			}
		}
	}

	hub, m := newHub(t), newMBS(t)
	// The reference's file unchanged, with mts's own key for a durable
	// queue: the file's amqp_url, bindings and prefetch drive the consumer.
	cfg := baseConfig(t, newBusNames("fm"), hub, m)
	cfg.MessagingBackend, cfg.RhmsgBrokers = config.BackendFedoraMessaging, nil
	cfg.FedoraMessagingConfig, cfg.AMQPQueue, cfg.AMQPTopicPrefix = file, rb.queue, prefix
	start := func() *running { return startApp(t, cfg) }
	r := start()
	first := javaEvent(1, "ready")
	addJava(hub, m, first)
	send(first)
	expect(1)
	r.stop()

	// Sent while mts is down: the durable queue keeps it.
	second := javaEvent(2, "ready")
	addJava(hub, m, second)
	send(second)
	start()
	expect(2)
}
