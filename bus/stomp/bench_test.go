package stomp

import (
	"context"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
)

// fill sends n persistent events to dest over a plain connection, without
// waiting for a receipt per message, so that setting up a consumer
// benchmark stays quick; the last send waits for its receipt.
func fill(b *testing.B, addr string, rabbit bool, dest string, n int) {
	b.Helper()
	opts := []func(*stomp.Conn) error{stomp.ConnOpt.HeartBeat(0, 0)}
	if rabbit {
		opts = append(opts, stomp.ConnOpt.Host("/"), stomp.ConnOpt.Login("guest", "guest"))
	}
	conn, err := stomp.Dial("tcp", addr, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Disconnect()
	body := bustest.Body(1)
	for i := range n {
		sendOpts := []func(*frame.Frame) error{stomp.SendOpt.Header("persistent", "true")}
		if i == n-1 {
			sendOpts = append(sendOpts, stomp.SendOpt.Receipt)
		}
		if err := conn.Send(dest, "application/json", body, sendOpts...); err != nil {
			b.Fatal(err)
		}
	}
}

// consume receives and acknowledges n events with as many workers as the
// prefetch allows, the way the service runs its consumer.
func consume(b *testing.B, c bus.Consumer, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := bustest.ConsumeAck(ctx, c, n, MaxPrefetch); err != nil {
		b.Fatal(err)
	}
}

func benchPairs(b *testing.B) []pair {
	var ps []pair
	if amq, ok := activeMQ.Get(); ok {
		u := bustest.Unique("b")
		prefix := "VirtualTopic." + u
		ps = append(ps, pair{name: "activemq",
			consumer: Config{URIs: []string{amq.STOMPAddr}, Queue: "Consumer.mts.queue." + prefix + ".x"},
			producer: Config{URIs: []string{amq.STOMPAddr}, TopicPrefix: prefix}, topic: "x"})
	} else {
		needActiveMQ(b)
	}
	needRabbitSTOMP(b)
	u := bustest.Unique("b")
	ps = append(ps, pair{name: "rabbitmq",
		consumer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest", Queue: "mts-" + u, Topic: u + ".x"},
		producer: Config{URIs: []string{rabbitSTOMP}, Broker: RabbitMQ, Login: "guest", Passcode: "guest", TopicPrefix: u}, topic: "x"})
	return ps
}

func BenchmarkConsumeAck(b *testing.B) {
	for _, p := range benchPairs(b) {
		b.Run(p.name, func(b *testing.B) {
			c := newConsumer(b, p.consumer)
			bustest.WaitConnected(b, c, wait)
			pub := newPublisher(b, p.producer)
			fill(b, p.producer.URIs[0], p.name == "rabbitmq", pub.Destination(p.topic), b.N)
			b.ResetTimer()
			start := time.Now()
			consume(b, c, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, p := range benchPairs(b) {
		b.Run(p.name, func(b *testing.B) {
			pub := newPublisher(b, p.producer)
			ctx := context.Background()
			body := bustest.Body(1)
			publish(b, pub, p.topic, body)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := pub.Publish(ctx, p.topic, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
