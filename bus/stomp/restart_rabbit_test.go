package stomp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// The same as TestActiveMQRestartMidStream on an isolated RabbitMQ node:
// the durable queue keeps the persistent messages across the restart.
func TestRabbitMQRestartMidStream(t *testing.T) {
	if err := testenv.RabbitMQAvailable(); err != nil {
		testenv.Missing(t, "rabbitmq-server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := testenv.StartRabbitMQ(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	u := bustest.Unique("t")
	reg := prometheus.NewRegistry()
	c := newConsumer(t, Config{URIs: []string{node.STOMPAddr}, Broker: RabbitMQ, Login: "guest", Passcode: "guest",
		Queue: "mts-" + u, Topic: u + ".x", MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond},
		bus.WithRegisterer(reg))
	bustest.WaitConnected(t, c, wait)
	pub := newPublisher(t, Config{URIs: []string{node.STOMPAddr}, Broker: RabbitMQ, Login: "guest", Passcode: "guest", TopicPrefix: u})
	const n = 100
	for i := range n {
		publish(t, pub, "x", bustest.Body(i))
	}
	acked := map[int64]bool{}
	restarted := false
	for len(acked) < n+1 {
		d, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d acknowledged: %v", len(acked), err)
		}
		if len(acked) == n/2 && !restarted {
			restarted = true
			if err := node.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := d.Ack(ctx); !errors.Is(err, ErrConnectionLost) {
				t.Fatalf("Ack across a restart: %v, want ErrConnectionLost", err)
			}
			publishAfterRestart(t, pub, "x", bustest.Body(n))
			continue
		}
		if err := d.Ack(ctx); err != nil {
			if errors.Is(err, ErrConnectionLost) {
				continue
			}
			t.Fatal(err)
		}
		acked[d.Message().Module.ID] = true
	}
	if got := bustest.Counter(t, reg, bus.MetricReconnects, "stomp"); got < 1 {
		t.Errorf("reconnects counter %v", got)
	}
}
