package fedmsg

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// TestPark: a parked event is published on the parking topic, under the
// publisher's prefix, as a fedmsg message that a subscriber written by
// someone else reads: the reason in its headers, the original message as
// it came. As the message reaches only the subscribers connected at the
// time, the log keeps it too.
func TestPark(t *testing.T) {
	needZMQ(t)
	ep := endpoint(t)
	var logged bytes.Buffer
	pub, err := NewPublisher(Config{PublishEndpoint: ep, Environment: "stg", Username: "mts", ParkingTopic: "parked"},
		bus.WithLogger(slog.New(slog.NewJSONHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sub, err := testenv.StartZMQSubscriber(ctx, t.TempDir(), ep, "org.fedoraproject.stg.mts.parked")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	original := `{"id": 7, "name": "n", "stream": "s", "version": "1", "context": "c", "state_name": "ready"}`
	headers := map[string]string{bus.HeaderParkReason: "retry_give_up_after: koji down", bus.HeaderParkMessageID: "2019-abc"}
	// PUB/SUB: what is sent before the subscription is in place is lost.
	var frames []string
	for frames == nil {
		if err := pub.Park(ctx, []byte(original), headers); err != nil {
			t.Fatal(err)
		}
		select {
		case frames = <-sub.Received():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("nothing received on the parking topic")
		}
	}
	if len(frames) != 2 || frames[0] != "org.fedoraproject.stg.mts.parked" {
		t.Fatalf("frames %q", frames)
	}
	env, err := ParseEnvelope([]byte(frames[1]))
	if err != nil {
		t.Fatal(err)
	}
	var parked struct {
		Headers map[string]string `json:"headers"`
		Msg     json.RawMessage   `json:"msg"`
	}
	if err := json.Unmarshal(env.Msg, &parked); err != nil {
		t.Fatal(err)
	}
	// The envelope carries JSON compacted: the same message, not the same
	// bytes.
	var want, got any
	_ = json.Unmarshal([]byte(original), &want)
	if err := json.Unmarshal(parked.Msg, &got); err != nil || !reflect.DeepEqual(got, want) || parked.Headers[bus.HeaderParkReason] != headers[bus.HeaderParkReason] ||
		parked.Headers[bus.HeaderParkMessageID] != "2019-abc" {
		t.Errorf("parked %s", env.Msg)
	}
	// One log line per Park, the message in full.
	var line struct {
		Topic   string `json:"topic"`
		Message string `json:"message"`
	}
	first, _, _ := bytes.Cut(logged.Bytes(), []byte("\n"))
	if err := json.Unmarshal(first, &line); err != nil || line.Topic != frames[0] || !strings.Contains(line.Message, `"mts-park-reason":"retry_give_up_after: koji down"`) ||
		!strings.Contains(line.Message, `"context":"c"`) {
		t.Errorf("logged %s", logged.Bytes())
	}
	noParking, err := NewPublisher(Config{PublishEndpoint: endpoint(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer noParking.Close()
	if err := noParking.Park(ctx, []byte(original), headers); err == nil {
		t.Error("parked without a parking_routing_key")
	}
}
