package amqp10

import (
	"context"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// fill puts n persistent events in queue through AMQP 0-9-1 with one
// confirm wait at the end, so that setting up a consumer benchmark stays
// quick; RabbitMQ hands them to AMQP 1.0 readers as data sections.
func fill(b *testing.B, amqpURL, key string, n int) {
	b.Helper()
	ch := testenv.RabbitChannel(b, amqpURL)
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	var last *amqp091.DeferredConfirmation
	for range n {
		var err error
		last, err = ch.PublishWithDeferredConfirm("amq.topic", key, false, false, amqp091.Publishing{
			ContentType: "application/json", DeliveryMode: amqp091.Persistent, Body: bustest.Body(1),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if !last.Wait() {
		b.Fatal("not confirmed")
	}
}

// BenchmarkConsumeSettle receives, decodes and accepts events over TLS
// with 16 workers and credit 16, as mts serve reads with 16 workers. The
// queue is filled in rounds of at most 1,000 events, outside the timer.
func BenchmarkConsumeSettle(b *testing.B) {
	bb := needBroker(b)
	queue, key := bustest.Unique("bench"), bustest.Unique("mbs")
	declareQueue(b, bb.AMQPURL, queue, key)
	cfg := tlsConfig(bb, queue)
	cfg.Prefetch = 16
	c, err := NewConsumer(cfg, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var elapsed time.Duration
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		b.StopTimer()
		fill(b, bb.AMQPURL, key, n)
		b.StartTimer()
		start := time.Now()
		// A stalled link fails the benchmark instead of hanging it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := bustest.ConsumeAck(ctx, c, n, 16)
		cancel()
		if err != nil {
			b.Fatalf("after %d events before this round: %v", done, err)
		}
		elapsed += time.Since(start)
		done += n
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func benchPublisher(b *testing.B) (*Publisher, []byte) {
	bb := needBroker(b)
	queue := bustest.Unique("bench-out")
	// A bound queue, so that the broker stores what is published.
	declareQueue(b, bb.AMQPURL, queue, "VirtualTopic.eng.mts.#")
	p, err := NewPublisher(tlsConfig(bb, ""), quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	body := bustest.Body(1)
	if err := p.Publish(context.Background(), "build.tag.requested", body); err != nil {
		b.Fatal(err)
	}
	return p, body
}

// BenchmarkPublish sends from one goroutine, each message's disposition
// awaited.
func BenchmarkPublish(b *testing.B) {
	p, body := benchPublisher(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := p.Publish(context.Background(), "build.tag.requested", body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkPublishParallel sends from 16 goroutines on one publisher:
// their messages share the link and the broker's disk syncs.
func BenchmarkPublishParallel(b *testing.B) {
	p, body := benchPublisher(b)
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Publish(context.Background(), "build.tag.requested", body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
