package stomp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

const wait = 15 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// pair is a consumer configuration and a publisher configuration that
// reach it, on one broker, with names of their own.
type pair struct {
	name     string
	consumer Config
	producer Config
	topic    string
}

func pairs(t *testing.T) []pair {
	var ps []pair
	if a := needActiveMQ(t); a != nil {
		u := bustest.Unique("t")
		prefix := "VirtualTopic." + u
		ps = append(ps, pair{
			name: "activemq",
			consumer: Config{URIs: []string{"stomp://" + a.STOMPAddr}, Queue: "Consumer.mts.queue." + prefix + ".module.state.change",
				MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
			producer: Config{URIs: []string{a.STOMPAddr}, TopicPrefix: prefix},
			topic:    "module.state.change",
		})
	}
	needRabbitSTOMP(t)
	u := bustest.Unique("t")
	ps = append(ps, pair{
		name: "rabbitmq",
		consumer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest",
			Queue: "mts-" + u, Topic: u + ".module.state.change", MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second},
		producer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest", TopicPrefix: u},
		topic:    "module.state.change",
	})
	return ps
}

func newConsumer(t testing.TB, cfg Config, opts ...bus.Option) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, append([]bus.Option{bus.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newPublisher(t testing.TB, cfg Config) *Publisher {
	t.Helper()
	p, err := NewPublisher(cfg, bus.WithLogger(testLogger(t)))
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

// publishAfterRestart publishes across a broker restart: a publisher makes
// one attempt per call, so the first call may find its connection gone;
// the next dials again, as the pipeline's retry would.
func publishAfterRestart(t testing.TB, p *Publisher, topic string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := p.Publish(ctx, topic, body)
	for attempt := 1; err != nil && attempt < 5; attempt++ {
		time.Sleep(200 * time.Millisecond)
		err = p.Publish(ctx, topic, body)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func ack(t testing.TB, d bus.Delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			c := newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c, wait)
			pub := newPublisher(t, p.producer)
			publish(t, pub, p.topic, bustest.Body(41))
			publish(t, pub, p.topic, []byte(`{"msg": `+string(bustest.Body(42))+`}`))
			for _, want := range []int64{41, 42} {
				d := bustest.Receive(t, c, wait)
				if got := d.Message().Module; got.ID != want || got.Name != "testmodule" || got.StateName != "ready" {
					t.Fatalf("got %+v, want build %d", got, want)
				}
				if d.MessageID() == "" {
					t.Error("no message id")
				}
				ack(t, d)
				if err := d.Ack(context.Background()); !errors.Is(err, ErrSettled) {
					t.Errorf("second Ack: %v, want ErrSettled", err)
				}
			}
			bustest.ExpectNothing(t, c, 300*time.Millisecond)
		})
	}
}

func TestCompetingConsumers(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			p.consumer.Prefetch = 1
			c1, c2 := newConsumer(t, p.consumer), newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c1, wait)
			bustest.WaitConnected(t, c2, wait)
			pub := newPublisher(t, p.producer)
			const n = 40
			for i := range n {
				publish(t, pub, p.topic, bustest.Body(i))
			}
			bustest.ExpectShared(t, n, wait, c1, c2)
		})
	}
}

// A consumer that goes away with a message unacknowledged leaves it to the
// next consumer.
func TestUnackedComesAgain(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			c1 := newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c1, wait)
			pub := newPublisher(t, p.producer)
			publish(t, pub, p.topic, bustest.Body(7))
			d := bustest.Receive(t, c1, wait)
			c1.Close()
			if err := d.Ack(context.Background()); !errors.Is(err, ErrConnectionLost) {
				t.Fatalf("Ack after the connection closed: %v, want ErrConnectionLost", err)
			}
			c2 := newConsumer(t, p.consumer)
			again := bustest.Receive(t, c2, wait)
			if again.Message().Module.ID != 7 {
				t.Fatalf("got %+v", again.Message().Module)
			}
			ack(t, again)
		})
	}
}

func TestMalformedCountedAndAcked(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := newConsumer(t, p.consumer, bus.WithRegisterer(reg))
			bustest.WaitConnected(t, c, wait)
			pub := newPublisher(t, p.producer)
			for _, body := range []string{`not json`, `{"name": "no id"}`, `[1]`} {
				publish(t, pub, p.topic, []byte(body))
			}
			publish(t, pub, p.topic, bustest.Body(99))
			d := bustest.Receive(t, c, wait)
			if d.Message().Module.ID != 99 {
				t.Fatalf("got %+v", d.Message().Module)
			}
			ack(t, d)
			if got := bustest.Counter(t, reg, bus.MetricMalformed, "stomp"); got != 3 {
				t.Errorf("malformed counter %v, want 3", got)
			}
			if got := bustest.Counter(t, reg, bus.MetricReceived, "stomp"); got != 4 {
				t.Errorf("received counter %v, want 4", got)
			}
			// Acknowledged, so a new consumer on the queue sees none of them.
			c.Close()
			c2 := newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c2, wait)
			bustest.ExpectNothing(t, c2, 500*time.Millisecond)
		})
	}
}

// TestUnackedComesBack: an event the service could not finish is never
// handed back with a NACK (ActiveMQ would dead-letter it); it stays
// unacknowledged, and once the connection is gone the broker delivers it
// again, to this consumer's successor.
func TestUnackedComesBack(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			c := newConsumer(t, p.consumer)
			bustest.WaitConnected(t, c, wait)
			pub := newPublisher(t, p.producer)
			id := time.Now().UnixNano()
			publish(t, pub, p.topic, bustest.Body(int(id)))
			if d := bustest.Receive(t, c, wait); d.Message().Module.ID != id {
				t.Fatalf("got %+v", d.Message().Module)
			}
			c.Close()
			again := bustest.Receive(t, newConsumer(t, p.consumer), wait)
			if again.Message().Module.ID != id {
				t.Fatalf("got %+v", again.Message().Module)
			}
			ack(t, again)
		})
	}
}

func TestFailoverToSecondBroker(t *testing.T) {
	a := needActiveMQ(t)
	dead, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "VirtualTopic." + bustest.Unique("t")
	uri := fmt.Sprintf("stomp://127.0.0.1:%d, %s", dead, a.STOMPAddr)
	reg := prometheus.NewRegistry()
	c := newConsumer(t, Config{URIs: []string{uri}, Queue: "Consumer.mts.queue." + prefix + ".x"}, bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, wait)
	pub := newPublisher(t, Config{URIs: []string{uri}, TopicPrefix: prefix})
	publish(t, pub, "x", bustest.Body(5))
	ack(t, bustest.Receive(t, c, wait))
	if got := bustest.Counter(t, reg, bus.MetricConnected, "stomp"); got != 1 {
		t.Errorf("connected gauge %v", got)
	}
}

func TestTLS(t *testing.T) {
	a := needActiveMQ(t)
	prefix := "VirtualTopic." + bustest.Unique("t")
	good := Config{
		URIs:     []string{"stomp+ssl://" + a.STOMPSSLAddr},
		CertFile: a.PKI.ClientCert, KeyFile: a.PKI.ClientKey, CAFile: a.PKI.CACert,
		Queue: "Consumer.mts.queue." + prefix + ".x", TopicPrefix: prefix,
	}
	c := newConsumer(t, good)
	bustest.WaitConnected(t, c, wait)
	// A bare host:port uses TLS once a certificate is configured.
	bare := good
	bare.URIs = []string{a.STOMPSSLAddr}
	publish(t, newPublisher(t, bare), "x", bustest.Body(3))
	ack(t, bustest.Receive(t, c, wait))

	tests := []struct {
		name       string
		cert, key  string
		maxVersion uint16
	}{
		{"no certificate, TLS 1.2", "", "", tls.VersionTLS12},
		{"no certificate, TLS 1.3", "", "", tls.VersionTLS13},
		{"unknown CA, TLS 1.2", a.PKI.OtherClientCert, a.PKI.OtherClientKey, tls.VersionTLS12},
		{"unknown CA, TLS 1.3", a.PKI.OtherClientCert, a.PKI.OtherClientKey, tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			cfg.URIs = []string{"ssl://" + a.STOMPSSLAddr}
			cfg.CertFile, cfg.KeyFile = tt.cert, tt.key
			cfg.TLSConfig = &tls.Config{MinVersion: tt.maxVersion, MaxVersion: tt.maxVersion}
			p := newPublisher(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err := p.Publish(ctx, "x", bustest.Body(1))
			if !errors.Is(err, ErrClientCertRefused) {
				t.Fatalf("got %v, want %v", err, ErrClientCertRefused)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "client certificate refused") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

func TestBrokerErrorFrameSurfaced(t *testing.T) {
	needRabbitSTOMP(t)
	p := newPublisher(t, Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, VirtualHost: "no-such-vhost",
		Login: "guest", Passcode: "guest"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := p.Publish(ctx, "x", bustest.Body(1))
	var be *BrokerError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a BrokerError", err)
	}
	if !strings.Contains(err.Error(), "no-such-vhost") {
		t.Errorf("the ERROR frame's text is lost: %v", err)
	}
}

// Persistent messages survive a broker restart in the middle of consuming,
// clean or after a crash, and every one is acknowledged once the consumer
// has reconnected.
func TestActiveMQRestartMidStream(t *testing.T) {
	a := needActiveMQ(t)
	tests := []struct {
		name    string
		restart func(context.Context) error
	}{
		{"clean stop", a.Restart},
		{"crash", func(ctx context.Context) error {
			a.Kill()
			return a.Start(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "VirtualTopic." + bustest.Unique("t")
			reg := prometheus.NewRegistry()
			c := newConsumer(t, Config{URIs: []string{a.STOMPAddr}, Queue: "Consumer.mts.queue." + prefix + ".x",
				MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, bus.WithRegisterer(reg))
			bustest.WaitConnected(t, c, wait)
			pub := newPublisher(t, Config{URIs: []string{a.STOMPAddr}, TopicPrefix: prefix})
			const n = 200
			for i := range n {
				publish(t, pub, "x", bustest.Body(i))
			}
			acked := map[int64]bool{}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			restarted := false
			for len(acked) < n+1 {
				d, err := c.Receive(ctx)
				if err != nil {
					t.Fatalf("after %d acknowledged: %v", len(acked), err)
				}
				if len(acked) == n/2 && !restarted {
					restarted = true
					if err := tt.restart(ctx); err != nil {
						t.Fatal(err)
					}
					if err := d.Ack(ctx); !errors.Is(err, ErrConnectionLost) {
						t.Fatalf("Ack across a restart: %v, want ErrConnectionLost", err)
					}
					// The publisher reconnects too.
					publishAfterRestart(t, pub, "x", bustest.Body(n))
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
			if got := bustest.Counter(t, reg, bus.MetricReconnects, "stomp"); got < 1 {
				t.Errorf("reconnects counter %v", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no broker", Config{}, "no broker URI"},
		{"bad scheme", Config{URIs: []string{"http://h:1"}}, "unknown scheme"},
		{"AMQP 1.0 broker", Config{URIs: []string{"stomp://a:1,amqps://h:5671"}}, "an AMQP 1.0 broker"},
		{"no port", Config{URIs: []string{"stomp://host"}}, "missing port"},
		{"cert without key", Config{URIs: []string{"h:1"}, CertFile: "c"}, "both"},
		{"missing cert file", Config{URIs: []string{"h:1"}, CertFile: "/nonexistent", KeyFile: "/nonexistent"}, "client certificate"},
		{"prefetch", Config{URIs: []string{"h:1"}, Prefetch: 17}, "prefetch"},
		{"broker kind", Config{URIs: []string{"h:1"}, Broker: "kafka"}, "unknown broker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConsumer(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseURIs(t *testing.T) {
	tests := []struct {
		in   string
		tls  bool
		want []Endpoint
	}{
		{"a:1", false, []Endpoint{{"a:1", false}}},
		{"a:1", true, []Endpoint{{"a:1", true}}},
		{"stomp://a:1, stomp+ssl://b:2,ssl://c:3 ,", true,
			[]Endpoint{{"a:1", false}, {"b:2", true}, {"c:3", true}}},
		{"stomp+ssl://[::1]:61612?wireFormat.maxInactivityDuration=0", false, []Endpoint{{"[::1]:61612", true}}},
	}
	for _, tt := range tests {
		got, err := ParseURIs(tt.in, tt.tls)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseURIs(f *testing.F) {
	for _, s := range []string{"a:1", "stomp://a:1,ssl://b:2", "stomp+ssl://[::1]:1/x", "://", ",,", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		eps, err := ParseURIs(s, false)
		if err != nil {
			return
		}
		for _, ep := range eps {
			if _, _, err := netSplit(ep.Addr); err != nil {
				t.Fatalf("%q gave unusable address %q", s, ep.Addr)
			}
		}
	})
}

// Heart-beats flow both ways on an idle connection, so neither side gives
// it up.
func TestIdleConnectionKeptByHeartBeats(t *testing.T) {
	for _, p := range pairs(t) {
		t.Run(p.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			// ActiveMQ's first beat can come two intervals after the
			// subscription's receipt: idling past 1.5 intervals catches a
			// client that gives up too early. Not shorter: the library
			// also gives up waiting for a receipt after one send interval
			// (HeartBeat less the margin), and a loaded machine can take
			// that long to sync the broker's journal.
			p.consumer.HeartBeat = 2 * time.Second
			c := newConsumer(t, p.consumer, bus.WithRegisterer(reg))
			bustest.WaitConnected(t, c, wait)
			time.Sleep(3500 * time.Millisecond)
			if !c.Connected() || bustest.Counter(t, reg, bus.MetricReconnects, "stomp") != 0 {
				t.Fatal("the idle connection was dropped")
			}
			publish(t, newPublisher(t, p.producer), p.topic, bustest.Body(4))
			ack(t, bustest.Receive(t, c, wait))
		})
	}
}

// A broker that hangs with the connection open is noticed only through
// missing heart-beats; the consumer then reconnects once it answers again.
func TestHungBrokerDetectedByHeartBeats(t *testing.T) {
	a := needActiveMQ(t)
	prefix := "VirtualTopic." + bustest.Unique("t")
	reg := prometheus.NewRegistry()
	c := newConsumer(t, Config{URIs: []string{a.STOMPAddr}, Queue: "Consumer.mts.queue." + prefix + ".x",
		HeartBeat: 300 * time.Millisecond, HeartBeatMargin: 300 * time.Millisecond, ConnectTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, wait)
	a.Pause()
	resumed := false
	defer func() {
		if !resumed {
			a.Resume()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for c.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("a hung broker went unnoticed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Resume()
	resumed = true
	bustest.WaitConnected(t, c, wait)
	publish(t, newPublisher(t, Config{URIs: []string{a.STOMPAddr}, TopicPrefix: prefix}), "x", bustest.Body(6))
	ack(t, bustest.Receive(t, c, wait))
	if got := bustest.Counter(t, reg, bus.MetricReconnects, "stomp"); got < 1 {
		t.Errorf("reconnects %v", got)
	}
}
