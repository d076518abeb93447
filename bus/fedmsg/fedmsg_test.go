package fedmsg

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/testenv"
)

const (
	wait  = 15 * time.Second
	topic = "org.fedoraproject.test.mbs.module.state.change"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func needZMQ(t testing.TB) {
	t.Helper()
	if err := testenv.ZMQAvailable(); err != nil {
		testenv.Missing(t, "%v", err)
	}
}

func endpoint(t testing.TB) string {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", port)
}

func startPeer(t testing.TB, ep string) *testenv.ZMQPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, err := testenv.StartZMQPublisher(ctx, t.TempDir(), ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func envelope(id, i int, msgID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"topic": topic, "msg": json.RawMessage(bustest.Body(id)), "msg_id": msgID,
		"timestamp": 1546300800.5, "i": i, "username": "mbs", "crypto": "x509",
	})
	return b
}

func newConsumer(t testing.TB, cfg Config, opts ...bus.Option) *Consumer {
	t.Helper()
	if cfg.Topics == nil {
		cfg.Topics = []string{topic}
	}
	if cfg.ReconnectInterval == 0 {
		cfg.ReconnectInterval = 50 * time.Millisecond
	}
	c, err := NewConsumer(cfg, append([]bus.Option{bus.WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// probe sends marker messages from peer until c receives one, since a
// PUB socket drops what it sends before the subscription reaches it. The
// markers carry i=0, which counts as a sender restart, not a gap.
func probe(t testing.TB, c *Consumer, peer *testenv.ZMQPeer) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for n := 0; ; n++ {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never received a probe")
		}
		if err := peer.Send(topic, envelope(-1, 0, fmt.Sprintf("probe-%d-%d", time.Now().UnixNano(), n))); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		d, err := c.Receive(ctx)
		cancel()
		if err == nil && d.Message().Module.ID == -1 {
			// Drain probes still in flight.
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				_, err := c.Receive(ctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
}

func TestTwoEndpointsDuplicatesAndGaps(t *testing.T) {
	needZMQ(t)
	ep1, ep2 := endpoint(t), endpoint(t)
	p1, p2 := startPeer(t, ep1), startPeer(t, ep2)
	reg := prometheus.NewRegistry()
	c := newConsumer(t, Config{Endpoints: []string{ep1, ep2}}, bus.WithRegisterer(reg))
	probe(t, c, p1)
	probe(t, c, p2)
	dupsBefore := bustest.Counter(t, reg, bus.MetricDuplicates, "fedmsg")

	// The same message through both endpoints (a relay) arrives once.
	for _, p := range []*testenv.ZMQPeer{p1, p2} {
		if err := p.Send(topic, envelope(10, 1, "2019-dup")); err != nil {
			t.Fatal(err)
		}
	}
	d := bustest.Receive(t, c, wait)
	if d.Message().Module.ID != 10 || d.MessageID() != "2019-dup" {
		t.Fatalf("got %+v %s", d.Message().Module, d.MessageID())
	}
	if err := d.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Endpoint 2 then skips i=2..4 from its sender: one gap.
	for _, i := range []int{2, 5} {
		if err := p2.Send(topic, envelope(10+i, i, fmt.Sprintf("2019-m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A topic outside the subscription is filtered out by the socket.
	if err := p1.Send("org.fedoraproject.test.other", envelope(99, 2, "2019-other")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{12, 15} {
		if got := bustest.Receive(t, c, wait).Message().Module.ID; got != want {
			t.Fatalf("got build %d, want %d", got, want)
		}
	}
	bustest.ExpectNothing(t, c, 300*time.Millisecond)
	if got := bustest.Counter(t, reg, bus.MetricDuplicates, "fedmsg") - dupsBefore; got != 1 {
		t.Errorf("duplicates dropped %v, want 1", got)
	}
	if got := bustest.Counter(t, reg, bus.MetricGaps, "fedmsg"); got != 1 {
		t.Errorf("gaps %v, want 1", got)
	}
}

func TestPublisherRestart(t *testing.T) {
	needZMQ(t)
	ep := endpoint(t)
	p := startPeer(t, ep)
	c := newConsumer(t, Config{Endpoints: []string{ep}})
	probe(t, c, p)
	if !c.Connected() {
		t.Error("not connected")
	}
	p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	probe(t, c, p)
	if err := p.Send(topic, envelope(20, 1, "2019-after-restart")); err != nil {
		t.Fatal(err)
	}
	if got := bustest.Receive(t, c, wait).Message().Module.ID; got != 20 {
		t.Fatalf("got %d", got)
	}
}

func TestMalformedCounted(t *testing.T) {
	needZMQ(t)
	ep := endpoint(t)
	p := startPeer(t, ep)
	reg := prometheus.NewRegistry()
	c := newConsumer(t, Config{Endpoints: []string{ep}}, bus.WithRegisterer(reg))
	probe(t, c, p)
	bad := []string{`not json`, `{"topic": "x", "msg_id": "2019-a"}`, `{"msg": {"name": "no id"}, "msg_id": "2019-b", "i": 1}`}
	for _, b := range bad {
		if err := p.Send(topic, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Send(topic, envelope(30, 2, "2019-good")); err != nil {
		t.Fatal(err)
	}
	if got := bustest.Receive(t, c, wait).Message().Module.ID; got != 30 {
		t.Fatalf("got %d", got)
	}
	if got := bustest.Counter(t, reg, bus.MetricMalformed, "fedmsg"); got != 3 {
		t.Errorf("malformed %v, want 3", got)
	}
}

// A subscriber written by someone else reads what the publisher sends.
func TestPublishReadByPython(t *testing.T) {
	needZMQ(t)
	ep := endpoint(t)
	pub, err := NewPublisher(Config{PublishEndpoint: ep, Environment: "stg", Username: "mts"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sub, err := testenv.StartZMQSubscriber(ctx, t.TempDir(), ep, "org.fedoraproject.stg.mts.")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	body := []byte(`{"build": {"id": 1, "name": "m"}, "nvr": "m-1-1.c1"}`)
	var frames []string
	for frames == nil {
		if err := pub.Publish(ctx, "build.tag.requested", body); err != nil {
			t.Fatal(err)
		}
		select {
		case frames = <-sub.Received():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("nothing received")
		}
	}
	if len(frames) != 2 || frames[0] != "org.fedoraproject.stg.mts.build.tag.requested" {
		t.Fatalf("frames %q", frames)
	}
	env, err := ParseEnvelope([]byte(frames[1]))
	if err != nil {
		t.Fatal(err)
	}
	if env.Topic != frames[0] || env.Username != "mts" || env.I < 1 || env.Timestamp < 1.5e9 ||
		!strings.HasPrefix(env.MsgID, fmt.Sprint(time.Now().Year())+"-") || len(env.MsgID) != 41 {
		t.Errorf("envelope %+v", env)
	}
	var msg map[string]any
	if err := json.Unmarshal(env.Msg, &msg); err != nil || msg["nvr"] != "m-1-1.c1" {
		t.Errorf("msg %s: %v", env.Msg, err)
	}
	if err := pub.Publish(ctx, "x", []byte("not json")); err == nil {
		t.Error("published a body that is not JSON")
	}
}

func TestRoundTripGoToGo(t *testing.T) {
	ep := endpoint(t)
	pub, err := NewPublisher(Config{PublishEndpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	c := newConsumer(t, Config{Endpoints: []string{ep}, Topics: []string{"org.fedoraproject.prod.mts."}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		if err := pub.Publish(ctx, "module.state.change", bustest.Body(50)); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		d, err := c.Receive(rctx)
		rcancel()
		if err == nil {
			if d.Message().Module.ID != 50 || d.(*delivery).Topic() != "org.fedoraproject.prod.mts.module.state.change" {
				t.Fatalf("got %+v", d.Message().Module)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatal("nothing received")
		}
	}
}

func TestSeenIsBounded(t *testing.T) {
	s := newSeen(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("%s reported as seen", id)
		}
	}
	if s.add("a") {
		t.Fatal("duplicate a not detected")
	}
	s.add("d") // forgets a
	if len(s.ids) != 3 {
		t.Fatalf("remembers %d ids, want 3", len(s.ids))
	}
	if !s.add("a") {
		t.Fatal("a should have been forgotten")
	}
}

func TestCounterGaps(t *testing.T) {
	tests := []struct {
		seq  []int64
		want int64
	}{
		{[]int64{1, 2, 3}, 0},
		{[]int64{1, 3}, 1},
		{[]int64{1, 5}, 3},
		{[]int64{7, 1, 2}, 0}, // sender restarted
		{[]int64{4}, 0},       // first message seen
	}
	for _, tt := range tests {
		c := counters{}
		var missed int64
		for _, i := range tt.seq {
			missed += c.gap("tcp://x", i)
		}
		if missed != tt.want {
			t.Errorf("%v: missed %d, want %d", tt.seq, missed, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewConsumer(Config{}); err == nil {
		t.Error("consumer without endpoints")
	}
	if _, err := NewPublisher(Config{}); err == nil {
		t.Error("publisher without endpoint")
	}
	if _, err := NewPublisher(Config{PublishEndpoint: "bogus://x"}); err == nil {
		t.Error("publisher with a bad endpoint")
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(envelope(1, 1, "2019-x"))
	f.Add([]byte(`{"msg": null}`))
	f.Add([]byte(`{"i": "1", "msg": {}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if len(e.Msg) == 0 {
			t.Fatal("accepted an envelope without msg")
		}
		_, _ = build.Decode(e.Msg)
	})
}
