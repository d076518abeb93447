package amqp10

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

var quiet = bus.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// tlsConfig reads queue over the broker's TLS listener with the client
// certificate (SASL EXTERNAL).
func tlsConfig(b *testenv.RabbitMQAMQP10, queue string) Config {
	return Config{
		URIs:     []string{"amqps://" + b.TLSAddr},
		CertFile: b.PKI.ClientCert, KeyFile: b.PKI.ClientKey, CAFile: b.PKI.CACert,
		Broker: RabbitMQ, Queue: queue, Prefetch: 4,
		TopicPrefix: "VirtualTopic.eng.mts",
		MinBackoff:  50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}
}

func plainURL(b *testenv.RabbitMQAMQP10) string { return "amqp://guest:guest@" + b.Addr }

func sender(t *testing.T, b *testenv.RabbitMQAMQP10, key string) *testenv.ProtonPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := testenv.StartProtonSender(ctx, t.TempDir(), plainURL(b), "/topic/"+key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func receiver(t *testing.T, b *testenv.RabbitMQAMQP10, queue string) *testenv.ProtonPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := testenv.StartProtonReceiver(ctx, t.TempDir(), plainURL(b), "/amq/queue/"+queue)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func newConsumer(t *testing.T, cfg Config, opts ...bus.Option) bus.Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, append([]bus.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ack(t *testing.T, d bus.Delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConsumeOverTLS reads events a Proton client sent (as a data
// section and as a string value, the way rhmsg sends), over TLS with a
// client certificate, drops a malformed message, and settles: accepted
// events are gone, a handed-back event comes again.
func TestConsumeOverTLS(t *testing.T) {
	b := needBroker(t)
	queue, key := bustest.Unique("consume"), bustest.Unique("mbs")
	declareQueue(t, b.AMQPURL, queue, key)
	peer := sender(t, b, key)
	if err := peer.Send(string(bustest.Body(1)), false); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send("not an event", false); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(string(bustest.Body(2)), true); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := newConsumer(t, tlsConfig(b, queue), bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, 30*time.Second)

	d1 := bustest.Receive(t, c, 10*time.Second)
	d2 := bustest.Receive(t, c, 10*time.Second)
	if d1.Message().Module.ID != 1 || d2.Message().Module.ID != 2 {
		t.Fatalf("got events %d, %d, want 1, 2", d1.Message().Module.ID, d2.Message().Module.ID)
	}
	if d2.Message().Module.StateName != "ready" || string(d2.Body()) != string(bustest.Body(2)) {
		t.Errorf("string-valued message read as %+v, body %q", d2.Message().Module, d2.Body())
	}
	ack(t, d1)
	if err := d1.Ack(context.Background()); !errors.Is(err, ErrSettled) {
		t.Errorf("second Ack: %v, want ErrSettled", err)
	}
	ack(t, d2)
	bustest.ExpectNothing(t, c, 300*time.Millisecond)
	if got := bustest.Counter(t, reg, bus.MetricReceived, "amqp10"); got != 3 {
		t.Errorf("received %v, want 3 (two events, one malformed)", got)
	}
	if got := bustest.Counter(t, reg, bus.MetricMalformed, "amqp10"); got != 1 {
		t.Errorf("malformed %v, want 1", got)
	}
	if got := bustest.Counter(t, reg, bus.MetricConnected, "amqp10"); got != 1 {
		t.Errorf("connected gauge %v, want 1", got)
	}
	c.Close()
	// Settled on the broker: nothing is left in the queue.
	deadline := time.Now().Add(10 * time.Second)
	for queueDepth(t, b.AMQPURL, queue) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still queued after every event was accepted", queueDepth(t, b.AMQPURL, queue))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUnsettledComeBack: events handed to the service but not settled
// when the consumer goes away are delivered again to the next one.
func TestUnsettledComeBack(t *testing.T) {
	b := needBroker(t)
	queue, key := bustest.Unique("unsettled"), bustest.Unique("mbs")
	declareQueue(t, b.AMQPURL, queue, key)
	peer := sender(t, b, key)
	for i := range 3 {
		if err := peer.Send(string(bustest.Body(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	c := newConsumer(t, tlsConfig(b, queue))
	d := bustest.Receive(t, c, 30*time.Second)
	c.Close()
	if err := d.Ack(context.Background()); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Ack after the connection closed: %v, want ErrConnectionLost", err)
	}
	c2 := newConsumer(t, tlsConfig(b, queue))
	seen := map[int64]bool{}
	for range 3 {
		d := bustest.Receive(t, c2, 30*time.Second)
		seen[d.Message().Module.ID] = true
		ack(t, d)
	}
	if len(seen) != 3 {
		t.Fatalf("got events %v, want 0, 1 and 2", seen)
	}
}

// TestCreditBoundsPrefetch: the broker sends no more unsettled messages
// than the credit, whatever waits in the queue.
func TestCreditBoundsPrefetch(t *testing.T) {
	b := needBroker(t)
	queue, key := bustest.Unique("credit"), bustest.Unique("mbs")
	declareQueue(t, b.AMQPURL, queue, key)
	peer := sender(t, b, key)
	for i := range 10 {
		if err := peer.Send(string(bustest.Body(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	cfg := tlsConfig(b, queue)
	cfg.Prefetch = 5
	c := newConsumer(t, cfg)
	d := bustest.Receive(t, c, 30*time.Second)
	// One delivery held by the test, the rest of the credit in the
	// client: the broker keeps the other five.
	deadline := time.Now().Add(5 * time.Second)
	for {
		// A passive declare counts only the messages not sent to a
		// consumer.
		ready := queueDepth(t, b.AMQPURL, queue)
		if ready == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages ready on the broker, want 5 (credit 5 of 10)", ready)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ack(t, d)
}

// TestCreditRenewed: a long stream keeps flowing with a small credit,
// whether the messages were queued before the link attached or arrive
// while it is attached (the library's automatic credit stalled there).
func TestCreditRenewed(t *testing.T) {
	b := needBroker(t)
	queue, key := bustest.Unique("stream"), bustest.Unique("mbs")
	declareQueue(t, b.AMQPURL, queue, key)
	cfg := tlsConfig(b, queue)
	cfg.Prefetch = 2
	c := newConsumer(t, cfg)
	bustest.WaitConnected(t, c, 30*time.Second)
	p, err := NewPublisher(Config{URIs: []string{"amqp://" + b.Addr}, Broker: RabbitMQ,
		QueueAddressPrefix: new(string), TopicAddressPrefix: new(string)}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 600
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := p.Send(ctx, "/topic/"+key, bustest.Body(i), nil); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range n {
		d, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v (ready %d)", i, n, err, queueDepth(t, b.AMQPURL, queue))
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestPublish: what mts announces reaches a Proton receiver as a durable
// JSON data section on the topic's routing key; Send takes any address and
// application properties.
func TestPublish(t *testing.T) {
	b := needBroker(t)
	collect := bustest.Unique("collect")
	declareQueue(t, b.AMQPURL, collect, "VirtualTopic.eng.mts.#")
	rcv := receiver(t, b, collect)
	reg := prometheus.NewRegistry()
	p, err := NewPublisher(tlsConfig(b, ""), quiet, bus.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Address("build.tag.requested"); got != "/topic/VirtualTopic.eng.mts.build.tag.requested" {
		t.Errorf("address %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := []byte(`{"build": {"id": 1}, "nvr": "m-1-1.c1", "destination_tags": []}`)
	if err := p.Publish(ctx, "build.tag.requested", body); err != nil {
		t.Fatal(err)
	}
	park := bustest.Unique("parked")
	declareQueue(t, b.AMQPURL, park)
	if err := p.Send(ctx, "/queue/"+park, bustest.Body(7), map[string]any{"mts_reason": "koji down"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-rcv.Received():
		if m.Body != string(body) || m.BodyKind != "data" || !m.Durable || m.ContentType != "application/json" {
			t.Errorf("received %+v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received")
	}
	parked := receiver(t, b, park)
	select {
	case m := <-parked.Received():
		if m.Properties["mts_reason"] != "koji down" || m.Body != string(bustest.Body(7)) {
			t.Errorf("parked message %+v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("parked message not received")
	}
	if got := bustest.Counter(t, reg, bus.MetricPublished, "amqp10"); got != 2 {
		t.Errorf("published %v, want 2", got)
	}
	// An address the broker refuses is an error, not a silent loss.
	if err := p.Send(ctx, "topic://refused", body, nil); err == nil {
		t.Error("send to an address RabbitMQ refuses succeeded")
	}
	if err := p.Publish(ctx, "build.tag.unmatched", body); err != nil {
		t.Errorf("publish after a refused address: %v", err)
	}
	if got := bustest.Counter(t, reg, bus.MetricPublishErrors, "amqp10"); got != 1 {
		t.Errorf("publish errors %v, want 1", got)
	}
}

// TestFailover: with two brokers listed, the consumer moves to the second
// when the first goes away, and the publisher does on its next call.
func TestFailover(t *testing.T) {
	b := needBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first, err := testenv.StartRabbitMQAMQP10(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	queue, key := bustest.Unique("failover"), bustest.Unique("mbs")
	for _, n := range []*testenv.RabbitMQAMQP10{first, b} {
		declareQueue(t, n.AMQPURL, queue, key)
	}
	// The first broker over TLS with its own CA and certificate, the
	// second over plain TCP; PLAIN with the same login on both.
	cfg := tlsConfig(first, queue)
	cfg.URIs = []string{"amqps://" + first.TLSAddr + ", amqp://" + b.Addr}
	cfg.Login, cfg.Password = "guest", "guest"
	reg := prometheus.NewRegistry()
	c := newConsumer(t, cfg, bus.WithRegisterer(reg))
	p, err := NewPublisher(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	if err := sender(t, first, key).Send(string(bustest.Body(1)), false); err != nil {
		t.Fatal(err)
	}
	d := bustest.Receive(t, c, 30*time.Second)
	if d.Message().Module.ID != 1 {
		t.Fatalf("got event %d from the first broker", d.Message().Module.ID)
	}
	ack(t, d)
	if err := p.Publish(ctx, "build.tag.unmatched", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	first.Kill()
	// One attempt per call: the first publish after the kill may fail on
	// the dead connection; the next one dials the second broker.
	_ = p.Publish(ctx, "build.tag.unmatched", []byte(`{}`))
	if err := p.Publish(ctx, "build.tag.unmatched", []byte(`{}`)); err != nil {
		t.Fatalf("publish after failover: %v", err)
	}
	if err := sender(t, b, key).Send(string(bustest.Body(2)), false); err != nil {
		t.Fatal(err)
	}
	d = bustest.Receive(t, c, time.Minute)
	if d.Message().Module.ID != 2 {
		t.Fatalf("got event %d from the second broker", d.Message().Module.ID)
	}
	ack(t, d)
	if got := bustest.Counter(t, reg, bus.MetricReconnects, "amqp10"); got < 1 {
		t.Errorf("reconnects %v, want at least 1", got)
	}
}

// TestBrokerRestartMidStream: the broker restarts while events flow;
// every event is delivered at least once and the consumer comes back on
// its own.
func TestBrokerRestartMidStream(t *testing.T) {
	b := needBroker(t)
	queue, key := bustest.Unique("restart"), bustest.Unique("mbs")
	declareQueue(t, b.AMQPURL, queue, key)
	const n = 20
	peer := sender(t, b, key)
	for i := range n {
		if err := peer.Send(string(bustest.Body(i)), false); err != nil {
			t.Fatal(err)
		}
	}
	peer.Stop()
	c := newConsumer(t, tlsConfig(b, queue))
	seen := map[int64]bool{}
	for range n / 2 {
		d := bustest.Receive(t, c, 30*time.Second)
		seen[d.Message().Module.ID] = true
		ack(t, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for len(seen) < n {
		d, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("after restart, %d of %d events: %v", len(seen), n, err)
		}
		if err := d.Ack(ctx); err != nil {
			// Held from before the restart: it comes again.
			continue
		}
		seen[d.Message().Module.ID] = true
	}
	bustest.WaitConnected(t, c, 30*time.Second)
}

// TestTLSRefusals: without a client certificate, or with a CA bundle
// that does not hold the broker's CA, the connection is refused with an
// error that says so.
func TestTLSRefusals(t *testing.T) {
	b := needBroker(t)
	other, err := testenv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"no certificate", func(c *Config) { c.CertFile, c.KeyFile = "", "" }, ErrClientCertRefused},
		{"certificate of another CA", func(c *Config) { c.CertFile, c.KeyFile = other.ClientCert, other.ClientKey }, ErrClientCertRefused},
		{"wrong CA bundle", func(c *Config) { c.CAFile = other.CACert }, ErrServerCertUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tlsConfig(b, "unused")
			tc.edit(&cfg)
			p, err := NewPublisher(cfg, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = p.Publish(ctx, "build.tag.unmatched", []byte(`{}`))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestPlainLogin: rhmsg_login logs in with SASL PLAIN; a wrong password is
// refused.
func TestPlainLogin(t *testing.T) {
	b := needBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"guest", true}, {"wrong", false}} {
		cfg := Config{URIs: []string{"amqp://" + b.Addr}, Broker: RabbitMQ, Login: "guest", Password: tc.password}
		p, err := NewPublisher(cfg, quiet)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Publish(ctx, "build.tag.unmatched", []byte(`{}`))
		p.Close()
		if (err == nil) != tc.ok {
			t.Errorf("password %q: %v", tc.password, err)
		}
	}
}
