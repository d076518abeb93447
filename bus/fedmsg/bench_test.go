package fedmsg

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus/bustest"
)

// BenchmarkRoundTrip publishes from the Go publisher to a Go consumer over
// loopback TCP and counts events decoded and handed over. ZeroMQ drops
// what a subscriber cannot take, so the figure is what arrives.
func BenchmarkRoundTrip(b *testing.B) {
	ep := endpoint(b)
	pub, err := NewPublisher(Config{PublishEndpoint: ep})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	c := newConsumer(b, Config{Endpoints: []string{ep}, Topics: []string{"org.fedoraproject.prod.mts."}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := bustest.Body(1)
	// Wait for the subscription to reach the publisher.
	for {
		if err := pub.Publish(ctx, "x", body); err != nil {
			b.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := c.Receive(rctx)
		rcancel()
		if err == nil {
			break
		}
	}
	drain := func() {
		for {
			rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			_, err := c.Receive(rctx)
			rcancel()
			if err != nil {
				return
			}
		}
	}
	drain()
	b.ResetTimer()
	start := time.Now()
	got := make(chan int)
	go func() {
		n := 0
		for n < b.N {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			_, err := c.Receive(rctx)
			rcancel()
			if err != nil {
				break
			}
			n++
		}
		got <- n
	}()
	for range b.N {
		if err := pub.Publish(ctx, "x", body); err != nil {
			b.Fatal(err)
		}
	}
	pubElapsed := time.Since(start)
	n := <-got
	b.ReportMetric(float64(b.N)/pubElapsed.Seconds(), "published/s")
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N-n), "lost")
}
