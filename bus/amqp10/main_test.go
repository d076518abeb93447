package amqp10

import (
	"testing"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// The package's tests share one RabbitMQ node with the AMQP 1.0 plugin,
// started here; tests that need a second broker start their own.
var rabbitMQ = &testenv.SharedBroker[*testenv.RabbitMQAMQP10]{
	Name: "rabbitmq", Available: testenv.RabbitMQAvailable, Start: testenv.StartRabbitMQAMQP10,
	Stop: func(b *testenv.RabbitMQAMQP10) { b.Close() },
}

func TestMain(m *testing.M) { testenv.MainWithBroker(m, rabbitMQ) }

func needBroker(t testing.TB) *testenv.RabbitMQAMQP10 {
	t.Helper()
	b := rabbitMQ.Need(t)
	if err := testenv.ProtonAvailable(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	return b
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
