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

// TestEverySettledUnderSlowSettlement: 1,000 events sent by a Proton
// client as string values as fast as the broker takes them, read over TLS
// with a client certificate by 1, 2, 4 and 16 workers (the prefetch
// follows the workers, as mts serve sets it) that settle after a drawn
// time: every event arrives once, is settled, and nothing is left on the
// queue.
func TestEverySettledUnderSlowSettlement(t *testing.T) {
	b := needBroker(t)
	for _, workers := range []int{1, 2, 4, 16} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			const n = 1000
			queue, key := bustest.Unique("settle"), bustest.Unique("mbs")
			declareQueue(t, b.AMQPURL, queue, key)
			cfg := tlsConfig(b, queue)
			cfg.Prefetch = workers
			reg := prometheus.NewRegistry()
			c := newConsumer(t, cfg, bus.WithRegisterer(reg))
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
						seen[d.Event().ID]++
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
