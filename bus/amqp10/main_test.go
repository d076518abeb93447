package amqp10

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// The package's tests share one RabbitMQ node with the AMQP 1.0 plugin,
// started here; tests that need a second broker start their own.
var (
	rmq    *testenv.RabbitMQAMQP10
	rmqErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mts-amqp10-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if rmqErr = testenv.RabbitMQAvailable(); rmqErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		rmq, rmqErr = testenv.StartRabbitMQAMQP10(ctx, dir)
		cancel()
		if rmqErr != nil {
			// A broker that is installed but does not start is a failure.
			fmt.Fprintln(os.Stderr, "rabbitmq:", rmqErr)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	if rmq != nil {
		rmq.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBroker(t testing.TB) *testenv.RabbitMQAMQP10 {
	t.Helper()
	if rmq == nil {
		testenv.Missing(t, "rabbitmq-server: %v", rmqErr)
	}
	if err := testenv.ProtonAvailable(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	return rmq
}

// declareQueue makes a durable queue bound to amq.topic with keys, as an
// operator sets a RabbitMQ broker up for the service (AMQP 1.0 cannot
// bind queues on RabbitMQ 3).
func declareQueue(t testing.TB, amqpURL, queue string, keys ...string) {
	t.Helper()
	ch := testenv.RabbitChannel(t, amqpURL)
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := ch.QueueBind(queue, k, "amq.topic", false, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// queueDepth is how many messages wait in queue.
func queueDepth(t testing.TB, amqpURL, queue string) int {
	t.Helper()
	ch := testenv.RabbitChannel(t, amqpURL)
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}
