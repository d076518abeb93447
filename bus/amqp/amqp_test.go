package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

const (
	machineURL = "amqp://guest:guest@127.0.0.1:5672/"
	wait       = 15 * time.Second
	python     = "/usr/bin/python3"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func needRabbit(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
	}
	c.Close()
}

func needPika(t testing.TB) {
	t.Helper()
	if err := exec.Command(python, "-c", "import pika").Run(); err != nil {
		testenv.Missing(t, "python3-pika: %v", err)
	}
}

// names returns a consumer and a publisher configuration on url that
// reach each other, with a queue and topics of their own.
func names(url string) (Config, Config, string) {
	u := bustest.Unique("t")
	prefix := "org.fedoraproject.test." + u
	topic := "module.state.change"
	c := Config{URL: url, Queue: "mts-" + u, Bindings: []string{prefix + "." + topic},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
	p := Config{URL: url, TopicPrefix: prefix}
	return c, p, topic
}

func newConsumer(t testing.TB, cfg Config, opts ...bus.Option) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, append([]bus.Option{bus.WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		deleteQueue(cfg.URL, cfg.Queue)
	})
	return c
}

func deleteQueue(url, queue string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return
	}
	defer conn.Close()
	if ch, err := conn.Channel(); err == nil {
		_, _ = ch.QueueDelete(queue, false, false, false)
	}
}

func newPublisher(t testing.TB, cfg Config, opts ...bus.Option) *Publisher {
	t.Helper()
	p, err := NewPublisher(cfg, append([]bus.Option{bus.WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func publish(t testing.TB, p *Publisher, topic string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Publish(ctx, topic, body); err != nil {
		t.Fatal(err)
	}
}

func ack(t testing.TB, d bus.Delivery) {
	t.Helper()
	if err := d.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	needRabbit(t)
	cc, pc, topic := names(machineURL)
	c := newConsumer(t, cc)
	bustest.WaitConnected(t, c, wait)
	p := newPublisher(t, pc)
	publish(t, p, topic, bustest.Body(1))
	publish(t, p, topic, []byte(`{"msg": `+string(bustest.Body(2))+`}`))
	for _, want := range []int64{1, 2} {
		d := bustest.Receive(t, c, wait)
		if d.Message().Module.ID != want {
			t.Fatalf("got %+v, want %d", d.Message().Module, want)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(d.MessageID()) {
			t.Errorf("message id %q is not a UUID", d.MessageID())
		}
		ack(t, d)
		if err := d.Ack(context.Background()); !errors.Is(err, ErrSettled) {
			t.Errorf("second ack: %v", err)
		}
	}
	bustest.ExpectNothing(t, c, 300*time.Millisecond)
}

// A consumer written by someone else sees the fedora-messaging shape.
func TestPublishedShapeReadByPika(t *testing.T) {
	needRabbit(t)
	needPika(t)
	cc, pc, topic := names(machineURL)
	// Declare and bind the queue, then stop consuming from it.
	c := newConsumer(t, cc)
	bustest.WaitConnected(t, c, wait)
	c.Close()
	publish(t, newPublisher(t, pc), topic, bustest.Body(77))
	out, err := exec.Command(python, "testdata/pika_peer.py", "get", machineURL, cc.Queue).Output()
	if err != nil {
		t.Fatalf("pika: %v: %s", err, out)
	}
	var got struct {
		RoutingKey   string         `json:"routing_key"`
		ContentType  string         `json:"content_type"`
		DeliveryMode int            `json:"delivery_mode"`
		MessageID    string         `json:"message_id"`
		Headers      map[string]any `json:"headers"`
		Body         map[string]any `json:"body"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.RoutingKey != pc.TopicPrefix+"."+topic || got.ContentType != "application/json" || got.DeliveryMode != 2 {
		t.Errorf("properties: %+v", got)
	}
	if len(got.MessageID) != 36 {
		t.Errorf("message_id %q", got.MessageID)
	}
	if got.Headers["fedora_messaging_schema"] != DefaultSchema || got.Headers["fedora_messaging_severity"] != 20.0 ||
		got.Headers["priority"] != 0.0 {
		t.Errorf("headers %v", got.Headers)
	}
	if sentAt, _ := got.Headers["sent-at"].(string); !strings.HasSuffix(sentAt, "+00:00") {
		t.Errorf("sent-at %q", sentAt)
	} else if _, err := time.Parse(time.RFC3339, sentAt); err != nil {
		t.Errorf("sent-at: %v", err)
	}
	if got.Body["id"] != 77.0 {
		t.Errorf("body %v", got.Body)
	}
}

// Messages from a publisher written by someone else, with pika's int32
// headers and one body that is not JSON.
func TestConsumeFromPika(t *testing.T) {
	needRabbit(t)
	needPika(t)
	cc, _, _ := names(machineURL)
	reg := prometheus.NewRegistry()
	c := newConsumer(t, cc, bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, wait)
	const n = 5
	if out, err := exec.Command(python, "testdata/pika_peer.py", "publish", machineURL, cc.Bindings[0], "5").CombinedOutput(); err != nil {
		t.Fatalf("pika: %v: %s", err, out)
	}
	for i := range n {
		d := bustest.Receive(t, c, wait)
		if d.Message().Module.ID != int64(i) || d.Message().Module.Name != "pikamodule" {
			t.Fatalf("got %+v", d.Message().Module)
		}
		if p := d.(*delivery).Priority(); p != 3 {
			t.Errorf("priority %d, want 3", p)
		}
		ack(t, d)
	}
	deadline := time.Now().Add(wait)
	for bustest.Counter(t, reg, bus.MetricMalformed, "amqp") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the malformed message was not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Close()
	q := inspect(t, cc.Queue)
	if q.Messages != 0 {
		t.Errorf("%d messages left in the queue", q.Messages)
	}
}

func inspect(t testing.TB, queue string) amqp.Queue {
	t.Helper()
	ch := testenv.RabbitChannel(t, machineURL)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestCompetingConsumers(t *testing.T) {
	needRabbit(t)
	cc, pc, topic := names(machineURL)
	cc.Prefetch = 1
	c1, c2 := newConsumer(t, cc), newConsumer(t, cc)
	bustest.WaitConnected(t, c1, wait)
	bustest.WaitConnected(t, c2, wait)
	p := newPublisher(t, pc)
	const n = 40
	for i := range n {
		publish(t, p, topic, bustest.Body(i))
	}
	bustest.ExpectShared(t, n, wait, c1, c2)
}

func TestUnackedComesAgain(t *testing.T) {
	needRabbit(t)
	cc, pc, topic := names(machineURL)
	c1 := newConsumer(t, cc)
	bustest.WaitConnected(t, c1, wait)
	publish(t, newPublisher(t, pc), topic, bustest.Body(8))
	d := bustest.Receive(t, c1, wait)
	c1.Close()
	if err := d.Ack(context.Background()); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Ack after close: %v, want ErrConnectionLost", err)
	}
	c2 := newConsumer(t, cc)
	again := bustest.Receive(t, c2, wait)
	if again.Message().Module.ID != 8 {
		t.Fatalf("got %+v", again.Message().Module)
	}
	ack(t, again)
}

// TestUnackedComesBack: an event left unacknowledged goes back to the
// queue when its channel closes, for the next consumer.
func TestUnackedComesBack(t *testing.T) {
	needRabbit(t)
	cc, pc, topic := names(machineURL)
	c := newConsumer(t, cc)
	bustest.WaitConnected(t, c, wait)
	publish(t, newPublisher(t, pc), topic, bustest.Body(9))
	if d := bustest.Receive(t, c, wait); d.Message().Module.ID != 9 {
		t.Fatalf("got %+v", d.Message().Module)
	}
	c.Close()
	again := bustest.Receive(t, newConsumer(t, cc), wait)
	if again.Message().Module.ID != 9 {
		t.Fatalf("got %+v", again.Message().Module)
	}
	ack(t, again)
}

// A broker restarted mid-stream: the consumer and the publisher reconnect,
// the durable queue kept the persistent messages, and every one is
// acknowledged.
func TestBrokerRestartMidStream(t *testing.T) {
	if err := testenv.RabbitMQAvailable(); err != nil {
		testenv.Missing(t, "rabbitmq-server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := testenv.StartRabbitMQ(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	cc, pc, topic := names(node.AMQPURL)
	reg := prometheus.NewRegistry()
	c := newConsumer(t, cc, bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, wait)
	p := newPublisher(t, pc, bus.WithRegisterer(reg))
	const n = 200
	for i := range n {
		publish(t, p, topic, bustest.Body(i))
	}
	acked := map[int64]bool{}
	restarted := false
	for len(acked) < n+1 {
		d, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d acknowledged: %v", len(acked), err)
		}
		if len(acked) == n/2 && !restarted {
			restarted = true
			if err := node.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := d.Ack(ctx); !errors.Is(err, ErrConnectionLost) {
				t.Fatalf("Ack across a restart: %v, want ErrConnectionLost", err)
			}
			publish(t, p, topic, bustest.Body(n))
			continue
		}
		if err := d.Ack(ctx); err != nil {
			if errors.Is(err, ErrConnectionLost) {
				continue
			}
			t.Fatal(err)
		}
		acked[d.Message().Module.ID] = true
	}
	if got := bustest.Counter(t, reg, bus.MetricReconnects, "amqp"); got < 1 {
		t.Errorf("reconnects %v", got)
	}
	if got := bustest.Counter(t, reg, bus.MetricPublished, "amqp"); got != n+1 {
		t.Errorf("published %v, want %d", got, n+1)
	}
}

func TestPublishFailsWithoutBroker(t *testing.T) {
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p := newPublisher(t, Config{URL: "amqp://guest:guest@127.0.0.1:" + itoa(port) + "/"}, bus.WithRegisterer(reg))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Publish(ctx, "x", bustest.Body(1)); err == nil {
		t.Fatal("publish without a broker succeeded")
	}
	if got := bustest.Counter(t, reg, bus.MetricPublishErrors, "amqp"); got != 1 {
		t.Errorf("publish failures %v", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad url", Config{URL: "http://x"}, "URL"},
		{"cert without key", Config{CertFile: "c"}, "both"},
		{"missing cert", Config{CertFile: "/nonexistent", KeyFile: "/nonexistent"}, "client certificate"},
		{"prefetch", Config{Prefetch: -1}, "prefetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConsumer(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHeaderInt(t *testing.T) {
	tests := []struct {
		in   any
		want int64
		ok   bool
	}{
		{int32(3), 3, true}, {int64(-4), -4, true}, {int(5), 5, true}, {int8(6), 6, true},
		{int16(7), 7, true}, {uint8(8), 8, true}, {uint16(9), 9, true}, {uint32(10), 10, true},
		{uint64(11), 11, true}, {uint64(1 << 63), 0, false}, {"3", 0, false}, {nil, 0, false}, {3.0, 0, false},
	}
	for _, tt := range tests {
		got, ok := headerInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("headerInt(%#v) = %d, %v", tt.in, got, ok)
		}
	}
}
