package testenv

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitChannel opens an AMQP 0-9-1 channel on the broker at url, as a
// test sets up or inspects queues and exchanges the service's own clients
// do not declare; the connection is closed when the test ends.
func RabbitChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
