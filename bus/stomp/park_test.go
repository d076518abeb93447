package stomp

import (
	"context"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
)

// TestPark: a parked event reaches the parking queue on ActiveMQ, as it
// came, persistent, with the reason in headers; not ActiveMQ.DLQ.
func TestPark(t *testing.T) {
	a := needActiveMQ(t)
	queue := bustest.Unique("mts.parked.")
	p := newPublisher(t, Config{URIs: []string{a.STOMPAddr}, ParkingQueue: queue})
	body := []byte(`{"id": 7, "name": "n", "stream": "s", "version": "1", "context": "c", "state_name": "ready"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Park(ctx, body, map[string]string{bus.HeaderParkReason: "retry_give_up_after: koji down", bus.HeaderParkMessageID: "ID:1"}); err != nil {
		t.Fatal(err)
	}
	conn, err := gostomp.Dial("tcp", a.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Disconnect() }()
	sub, err := conn.Subscribe("/queue/"+queue, gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		if string(m.Body) != string(body) || m.Header.Get(bus.HeaderParkReason) != "retry_give_up_after: koji down" ||
			m.Header.Get(bus.HeaderParkMessageID) != "ID:1" || m.Header.Get("persistent") != "true" {
			t.Fatalf("parked %q with headers %v", m.Body, m.Header)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing in the parking queue")
	}
	if err := newPublisher(t, Config{URIs: []string{a.STOMPAddr}}).Park(ctx, body, nil); err == nil {
		t.Fatal("parked without a parking_queue")
	}
}
