// Package bustest holds what the bus implementations' tests share: MBS
// event bodies, Koji hub messages as recorded and Fedora's, a unique name
// per test, metric reading, draining a consumer and checking the kinds
// it delivers.
// It is for tests only: no production package imports it.
package bustest

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
)

// Body is an MBS module build state change for build id.
func Body(id int) []byte {
	return fmt.Appendf(nil, `{"id": %d, "name": "testmodule", "stream": "1.0", "version": "20190101000000",`+
		` "context": "c2c572ec", "state": 5, "state_name": "ready", "scratch": false, "owner": "mts"}`, id)
}

// Unique returns a name no other test run uses, for queues and topics.
func Unique(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// Counter reads the value of counter family name for bus label busName
// from reg; 0 when absent.
func Counter(t testing.TB, reg prometheus.Gatherer, name, busName string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "bus" && l.GetValue() == busName {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// WaitConnected waits until c reports a live connection.
func WaitConnected(t testing.TB, c bus.Consumer, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !c.Connected() {
		if time.Now().After(deadline) {
			t.Fatalf("consumer not connected after %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Receive takes one delivery from c or fails the test after within.
func Receive(t testing.TB, c bus.Consumer, within time.Duration) bus.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return d
}

// ExpectNothing fails the test if c delivers anything within d.
func ExpectNothing(t testing.TB, c bus.Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if got, err := c.Receive(ctx); err == nil {
		t.Fatalf("unexpected delivery %s: %s", got.MessageID(), got.Body())
	}
}

// ExpectShared drains the consumers at once, acknowledging each event a
// little slowly so that every consumer gets its share, until n distinct
// events arrived; it fails the test unless each came exactly once and
// every consumer handled some (competing consumers on one queue).
func ExpectShared(t testing.TB, n int, within time.Duration, consumers ...bus.Consumer) {
	t.Helper()
	var mu sync.Mutex
	seen := map[int64]int{}
	per := make([]int, len(consumers))
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range consumers {
		wg.Go(func() {
			for {
				d, err := c.Receive(ctx)
				if err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
				if err := d.Ack(ctx); err != nil {
					t.Error(err)
				}
				mu.Lock()
				seen[d.Message().Module.ID]++
				per[i]++
				done := len(seen) == n
				mu.Unlock()
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct events, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("event %d delivered %d times", id, k)
		}
	}
	for i, k := range per {
		if k == 0 {
			t.Errorf("consumer %d got no event: not shared %v", i, per)
		}
	}
}

// ConsumeAck receives and acknowledges n events with workers goroutines,
// the way the service runs its consumer, and reports the first failure
// with how many events had been taken by then. ctx bounds the whole run,
// so that a stalled consumer fails a benchmark instead of hanging it.
func ConsumeAck(ctx context.Context, c bus.Consumer, n, workers int) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		left  = n
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = fmt.Errorf("after %d of %d events: %w", n-left, n, err)
		}
	}
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if left == 0 || first != nil {
					mu.Unlock()
					return
				}
				left--
				mu.Unlock()
				d, err := c.Receive(ctx)
				if err != nil {
					fail(err)
					return
				}
				if err := d.Ack(ctx); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
