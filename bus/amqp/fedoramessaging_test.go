package amqp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

func loadFM(t *testing.T, name string) *FedoraMessaging {
	t.Helper()
	f, err := LoadFedoraMessaging(filepath.Join("testdata", "fedora-messaging", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFedoraMessagingPythonService(t *testing.T) {
	f := loadFM(t, "python-service.toml")
	_, err := f.Apply(Config{}, false)
	if !errors.Is(err, ErrTransientQueue) || !strings.Contains(err.Error(), "lost") ||
		!strings.Contains(err.Error(), "allow_transient_queue") || !strings.Contains(err.Error(), "python-service.toml") {
		t.Fatalf("exclusive auto-delete queue: %v", err)
	}
	c, err := f.Apply(Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL:      "amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub",
		CAFile:   "/etc/fedora-messaging/cacert.pem",
		CertFile: "/etc/fedora-messaging/fedora-cert.pem", KeyFile: "/etc/fedora-messaging/fedora-key.pem",
		Exchange:     "amq.topic",
		ExchangeDecl: &ExchangeDecl{Type: "topic", Durable: true, Arguments: map[string]any{}},
		Queue:        "00000000-0000-0000-0000-000000000000",
		QueueDecl:    &QueueDecl{AutoDelete: true, Exclusive: true, Arguments: map[string]any{}},
		Bindings:     []string{"org.fedoraproject.*.mbs.build.state.change"},
		Prefetch:     25,
		ClientProperties: map[string]any{
			"app": "Message Tagging Service", "app_url": "https://github.com/fedora-modularity/message-tagging-service",
			"app_contacts_email": []any{"modularity@lists.fedoraproject.org"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	// A queue of mts's own replaces the transient one and keeps its
	// bindings; mts's keys win over the file's.
	own := Config{Queue: "mts", URL: "amqps://mts@rabbitmq.example.com/", CAFile: "/etc/pki/ca.pem"}
	c, err = f.Apply(own, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue != "mts" || c.QueueDecl != nil || c.URL != own.URL || c.CAFile != own.CAFile ||
		!reflect.DeepEqual(c.Bindings, want.Bindings) || c.CertFile != want.CertFile {
		t.Errorf("with amqp_queue: %+v", c)
	}
	own.Bindings = []string{"org.fedoraproject.prod.mbs.module.state.change"}
	if c, _ = f.Apply(own, false); !reflect.DeepEqual(c.Bindings, own.Bindings) {
		t.Errorf("amqp_routing_keys lost to the file: %v", c.Bindings)
	}
}

func TestFedoraMessagingDurable(t *testing.T) {
	c, err := loadFM(t, "durable.toml").Apply(Config{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue != "mts-stg" || c.Exchange != "zmq.topic" || c.TopicPrefix != "org.fedoraproject.stg.mts" || c.Prefetch != 8 ||
		len(c.Bindings) != 2 || !c.QueueDecl.Durable || c.QueueDecl.Arguments["x-queue-type"] != "quorum" {
		t.Errorf("got %+v", c)
	}
}

func TestFedoraMessagingErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"two-queues.toml", "[queues] lists a, b: mts reads one queue; set amqp_queue"},
		{"unknown-key.toml", "unknown-key.toml:5: qos.prefech_size: unknown key"},
		{"wrong-type.toml", "wrong-type.toml:6:"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := LoadFedoraMessaging(filepath.Join("testdata", "fedora-messaging", tc.file))
			if err == nil {
				_, err = f.Apply(Config{}, false)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(tc.want, "wrong-type") && !strings.Contains(err.Error(), "routing_keys") {
				t.Errorf("error does not name the key: %v", err)
			}
		})
	}
}

func TestFedoraMessagingFile(t *testing.T) {
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, v != "" && k == EnvFedoraMessagingConf }
	}
	yes := func(string) bool { return true }
	no := func(string) bool { return false }
	for _, tc := range []struct {
		configured, env string
		exists          func(string) bool
		want            string
	}{
		{"/srv/fm.toml", "/env.toml", yes, "/srv/fm.toml"},
		{"", "/env.toml", yes, "/env.toml"},
		{"", "", yes, DefaultFedoraMessagingFile},
		{"", "", no, ""},
	} {
		if got := FedoraMessagingFile(tc.configured, env(tc.env), tc.exists); got != tc.want {
			t.Errorf("%+v: got %q", tc, got)
		}
	}
}

// FuzzParseFedoraMessaging: no input makes the reader panic, and what it
// accepts it can apply.
func FuzzParseFedoraMessaging(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fedora-messaging", "*.toml"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fm, err := ParseFedoraMessaging("fuzz.toml", data)
		if err != nil {
			return
		}
		_, _ = fm.Apply(Config{}, true)
	})
}

// TestFedoraMessagingDrivesConsumer: a file of the Python service's shape,
// with the durable queue it should have had, sets up the consumer on a real
// broker: queue declared with the file's arguments, bound with its keys.
func TestFedoraMessagingDrivesConsumer(t *testing.T) {
	needRabbit(t)
	u := bustest.Unique("fm")
	key := "org.fedoraproject." + u + ".mbs.module.state.change"
	toml := `amqp_url = "` + machineURL + `"
[client_properties]
app = "mts test"
[exchanges."amq.topic"]
type = "topic"
durable = true
[queues.mts-` + u + `]
durable = true
auto_delete = false
exclusive = false
arguments = {x-queue-type = "quorum"}
[[bindings]]
queue = "mts-` + u + `"
exchange = "amq.topic"
routing_keys = ["` + key + `"]
[qos]
prefetch_count = 3
`
	fm, err := ParseFedoraMessaging("config.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fm.Apply(Config{MinBackoff: 50 * time.Millisecond}, false)
	if err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, cfg)
	bustest.WaitConnected(t, c, wait)
	p := newPublisher(t, Config{URL: machineURL, TopicPrefix: "org.fedoraproject." + u + ".mbs"})
	for i := range 5 {
		publish(t, p, "module.state.change", bustest.Body(i))
	}
	d := bustest.Receive(t, c, wait)
	// Prefetch 3: one held here, two more in flight, the rest queued.
	deadline := time.Now().Add(wait)
	for inspect(t, cfg.Queue).Messages != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages ready, want 2 (prefetch_count 3 of 5)", inspect(t, cfg.Queue).Messages)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ack(t, d)
	// The queue is the quorum queue the file asked for.
	ch := testenv.RabbitChannel(t, machineURL)
	if _, err := ch.QueueDeclarePassive(cfg.Queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Errorf("queue not declared as the file says: %v", err)
	}
	for range 4 {
		ack(t, bustest.Receive(t, c, wait))
	}
}
