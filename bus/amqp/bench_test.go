package amqp

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// fill publishes n persistent events to key with one confirm wait at the
// end, so that setting up a consumer benchmark stays quick.
func fill(b *testing.B, key string, n int) {
	b.Helper()
	ch := testenv.RabbitChannel(b, machineURL)
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	var last *amqp.DeferredConfirmation
	for range n {
		var err error
		last, err = ch.PublishWithDeferredConfirm(DefaultExchange, key, false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: bustest.Body(1),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if !last.Wait() {
		b.Fatal("not confirmed")
	}
}

func BenchmarkConsumeAck(b *testing.B) {
	needRabbit(b)
	cc, _, _ := names(machineURL)
	c := newConsumer(b, cc)
	bustest.WaitConnected(b, c, wait)
	fill(b, cc.Bindings[0], b.N)
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := bustest.ConsumeAck(ctx, c, b.N, DefaultPrefetch); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkPublish(b *testing.B) {
	needRabbit(b)
	cc, pc, topic := names(machineURL)
	// A bound queue, so that the broker stores what is published.
	c := newConsumer(b, cc)
	bustest.WaitConnected(b, c, wait)
	c.Close()
	p := newPublisher(b, pc)
	body := bustest.Body(1)
	publish(b, p, topic, body)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := p.Publish(context.Background(), topic, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkPublishParallel publishes from 16 goroutines on one
// publisher: confirms of concurrent messages share the broker's disk
// syncs.
func BenchmarkPublishParallel(b *testing.B) {
	needRabbit(b)
	cc, pc, topic := names(machineURL)
	c := newConsumer(b, cc)
	bustest.WaitConnected(b, c, wait)
	c.Close()
	p := newPublisher(b, pc)
	body := bustest.Body(1)
	publish(b, p, topic, body)
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Publish(context.Background(), topic, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

var _ bus.Delivery = (*delivery)(nil)
