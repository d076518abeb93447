package lines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/bus"
)

func TestLineConsumerAndPublisher(t *testing.T) {
	in := strings.NewReader(`{"id": 1, "name": "a", "stream": "s", "version": 20190101, "context": "c", "state_name": "ready"}

not json
{"msg": {"id": 2, "name": "b", "stream": "s", "version": "1", "context": "c", "state_name": "done"}}
`)
	c := NewConsumer(in, nil)
	var ids []int64
	for {
		d, err := c.Receive(context.Background())
		if errors.Is(err, bus.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.Message().Module.ID)
	}
	if fmt.Sprint(ids) != "[1 2]" {
		t.Errorf("ids %v", ids)
	}
	var out bytes.Buffer
	p := NewPublisher(&out)
	if err := p.Publish(context.Background(), "build.tag.unmatched", []byte(`{"build":{"id":1}}`)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"topic":"build.tag.unmatched","body":{"build":{"id":1}}}`+"\n" {
		t.Errorf("line %q", got)
	}
}

func FuzzLineConsumer(f *testing.F) {
	data, err := os.ReadFile("../../testdata/events/sample.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("{\"msg\": null}\n[1]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := NewConsumer(bytes.NewReader(in), nil)
		for range 1000 {
			if _, err := c.Receive(context.Background()); err != nil {
				return
			}
		}
	})
}

// TestKojiLines: a line {"topic": T, "body": B} is read as the kind T
// names, beside MBS lines; a Koji body that does not decode is skipped.
func TestKojiLines(t *testing.T) {
	f, err := os.Open("testdata/koji.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := NewConsumer(f, nil)
	var got []string
	for {
		d, err := c.Receive(context.Background())
		if errors.Is(err, bus.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m := d.Message()
		got = append(got, fmt.Sprintf("%s %s %s", m.Kind, bus.EventID(m), d.MessageID()))
		if m.Koji != nil && !bytes.HasPrefix(d.Body(), []byte("{")) {
			t.Errorf("body of %s is not the message body: %q", d.MessageID(), d.Body())
		}
	}
	want := []string{
		"module.state.change 1001 line-1",
		"build.complete 1 line-2",
		"build.tag 3 line-3",
		"build.untag 8 line-4",
		"build.tag 1457909 line-5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
