package amqp10

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// holdTime is how long a worker keeps an event before settling it, drawn
// as the service's settlements come with a hub at its real task timing: most
// events settle at once (filtered, unmatched, already tagged), a few wait
// for their tags, from a moment up to 3 s, so settlements come out of order.
func holdTime(r *rand.Rand) time.Duration {
	if r.IntN(100) == 0 {
		return time.Duration(r.Int64N(int64(3 * time.Second)))
	}
	return time.Duration(r.Int64N(int64(10 * time.Millisecond)))
}

// settleAll sends n events to key with a Proton client as string values
// (as rhmsg does), as fast as the broker takes them, while workers take
// them from c and settle each after a drawn time. It fails unless every
// event is settled exactly once within the time and the queue is left
// empty.
func settleAll(t *testing.T, b *testenv.RabbitMQAMQP10, c bus.Consumer, reg prometheus.Gatherer, queue, key string, n, workers int) {
	t.Helper()
	bustest.WaitConnected(t, c, 30*time.Second)
	peer := sender(t, b, key)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := peer.Send(string(bustest.Body(i)), true); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for w := range workers {
		r := rand.New(rand.NewPCG(uint64(workers), uint64(w)))
		wg.Go(func() {
			for {
				mu.Lock()
				done := len(seen) == n
				mu.Unlock()
				if done {
					return
				}
				rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
				d, err := c.Receive(rctx)
				rcancel()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				time.Sleep(holdTime(r))
				if err := d.Ack(ctx); err != nil {
					t.Errorf("ack: %v", err)
					return
				}
				mu.Lock()
				seen[d.Message().Module.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d of %d events settled in time (links replaced: %v)", len(seen), n, replaced(t, reg))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("event %d settled %d times", id, k)
		}
	}
	if ready := queueDepth(t, b.AMQPURL, queue); ready != 0 {
		t.Errorf("%d messages left ready on the queue", ready)
	}
	t.Logf("links replaced: %v", replaced(t, reg))
}

// TestEverySettledUnderSlowSettlement: 1,000 events read over TLS with a
// client certificate by 1, 2, 4 and 16 workers (the prefetch follows the
// workers, as mts serve sets it) that settle out of order after a drawn
// time: every event is settled once and nothing is left on the queue.
func TestEverySettledUnderSlowSettlement(t *testing.T) {
	b := needBroker(t)
	for _, workers := range []int{1, 2, 4, 16} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			queue, key := bustest.Unique("settle"), bustest.Unique("mbs")
			declareQueue(t, b.AMQPURL, queue, key)
			cfg := tlsConfig(b, queue)
			cfg.Prefetch = workers
			reg := prometheus.NewRegistry()
			c := newConsumer(t, cfg, bus.WithRegisterer(reg))
			settleAll(t, b, c, reg, queue, key, 1000, workers)
		})
	}
}

// TestOverrunNeverStalls: a broker that sends one, two or three transfers
// more than every grant (the flows are raised on the way) never leaves
// the consumer without credit: the links that overran are replaced and
// every event is settled.
func TestOverrunNeverStalls(t *testing.T) {
	b := needBroker(t)
	for _, extra := range []uint32{1, 2, 3} {
		t.Run(fmt.Sprintf("extra=%d", extra), func(t *testing.T) {
			skew, err := testenv.StartAMQP10Proxy(b.Addr, extra)
			if err != nil {
				t.Fatal(err)
			}
			defer skew.Close()
			queue, key := bustest.Unique("overrun"), bustest.Unique("mbs")
			declareQueue(t, b.AMQPURL, queue, key)
			cfg := Config{URIs: []string{"amqp://" + skew.Addr}, Broker: RabbitMQ, Queue: queue,
				Login: "guest", Password: "guest", Prefetch: 4,
				MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
			reg := prometheus.NewRegistry()
			c := newConsumer(t, cfg, bus.WithRegisterer(reg))
			settleAll(t, b, c, reg, queue, key, 300, 4)
			if skew.Rewritten.Load() == 0 {
				t.Fatal("no flow frame was raised")
			}
			if replaced(t, reg)["overrun"] == 0 {
				t.Error("no link was replaced for an overrun")
			}
		})
	}
}

// replaced is the count of replaced links by reason.
func replaced(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != bus.MetricLinksReplaced {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestPublishWithheldTimesOut: while the broker withholds what a publish
// waits for (link credit, the disposition), a publish fails after the
// publish timeout instead of waiting for ever, and once the broker answers
// again the next one goes through on a fresh connection.
func TestPublishWithheldTimesOut(t *testing.T) {
	b := needBroker(t)
	proxy, err := testenv.StartAMQP10Proxy(b.Addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	queue, key := bustest.Unique("withheld"), bustest.Unique("mts")
	declareQueue(t, b.AMQPURL, queue, key)
	p, err := NewPublisher(Config{URIs: []string{"amqp://" + proxy.Addr}, Broker: RabbitMQ, Login: "guest", Password: "guest",
		TopicAddressPrefix: new(string), PublishTimeout: 2 * time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A first publish attaches the link while the broker answers.
	if err := p.Send(ctx, "/topic/"+key, bustest.Body(1), nil); err != nil {
		t.Fatal(err)
	}
	proxy.Hold(true)
	start := time.Now()
	err = p.Send(ctx, "/topic/"+key, bustest.Body(2), nil)
	if err == nil {
		t.Fatal("publish to a broker that answers nothing succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("publish failed after %s, want about the 2s timeout", took)
	}
	proxy.Hold(false)
	if err := p.Send(ctx, "/topic/"+key, bustest.Body(3), nil); err != nil {
		t.Fatalf("publish once the broker answers again: %v", err)
	}
}
