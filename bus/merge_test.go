package bus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/bus/lines"
)

// TestMergeReadsEveryConsumer: a merge hands over what each consumer
// delivers and ends (ErrClosed) once every one has ended.
func TestMergeReadsEveryConsumer(t *testing.T) {
	c := bus.Merge(
		lines.NewConsumer(strings.NewReader(string(bustest.Body(1))+"\n"+string(bustest.Body(2))+"\n"), nil),
		lines.NewConsumer(strings.NewReader(string(bustest.Body(3))+"\n"), nil),
	)
	defer c.Close()
	if !c.Connected() {
		t.Error("not connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ids []int64
	for {
		d, err := c.Receive(ctx)
		if errors.Is(err, bus.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.Message().Module.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Errorf("got %v, want 1, 2 and 3", ids)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestInputDecode(t *testing.T) {
	tag := []byte(bustest.FedoraTag)
	tests := []struct {
		name  string
		in    bus.Input
		topic string
		body  []byte
		want  string
	}{
		{"the topic names the kind", bus.Input{Address: "q"}, "/topic/VirtualTopic.eng.brew.build.tag", tag, "build.tag 1457909"},
		{"else the input's address", bus.Input{Address: "Consumer.mts.queue.VirtualTopic.eng.brew.build.untag"}, "", tag, "build.untag 1457909"},
		{"else the input's kind", bus.Input{Address: "mts-tags", Kind: "build.tag"}, "mts-tags", tag, "build.tag 1457909"},
		{"else MBS", bus.Input{Address: "mts"}, "mts", bustest.Body(7), "module.state.change 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.in.Decode(tt.topic, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(m.Kind) + " " + bus.EventID(m); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := (bus.Input{Address: "x.buildsys.tag"}).Decode("", []byte(`{"build_id": "one"}`)); err == nil {
		t.Error("a malformed Koji body decoded")
	}
}
