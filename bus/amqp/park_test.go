package amqp

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// TestPark: a parked event lands in the durable parking queue as it came,
// with the reason in headers.
func TestPark(t *testing.T) {
	needRabbit(t)
	queue := bustest.Unique("mts-parked-")
	t.Cleanup(func() { deleteQueue(machineURL, queue) })
	_, pc, _ := names(machineURL)
	pc.ParkingQueue = queue
	p := newPublisher(t, pc)
	body := []byte(`{"id": 7}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Park(ctx, body, map[string]string{bus.HeaderParkReason: "retry_give_up_after: mbs down"}); err != nil {
		t.Fatal(err)
	}
	ch := testenv.RabbitChannel(t, machineURL)
	m, ok, err := ch.Get(queue, true)
	if err != nil || !ok {
		t.Fatalf("nothing in the parking queue: %v", err)
	}
	if string(m.Body) != string(body) || m.Headers[bus.HeaderParkReason] != "retry_give_up_after: mbs down" || m.DeliveryMode != 2 {
		t.Fatalf("parked %q with headers %v, mode %d", m.Body, m.Headers, m.DeliveryMode)
	}
}
