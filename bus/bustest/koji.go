package bustest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// protonmsg holds messages a Koji 1.35.3 hub's protonmsg plugin sent
// (Brew's topic prefix): a module build's build.complete, a build.tag
// and a build.untag.
//
//go:embed testdata/protonmsg-koji-1.35.3.jsonl
var protonmsg []byte

// KojiMessage is one message a hub sent, as recorded.
type KojiMessage struct {
	// Address is where the hub sent it, e.g.
	// "/topic/VirtualTopic.eng.brew.build.tag".
	Address string `json:"address"`
	// Body is the JSON the hub sent as the message's string body.
	Body       json.RawMessage `json:"body"`
	Properties map[string]any  `json:"properties"`
	Durable    bool            `json:"durable"`
}

// Topic is the address's topic after the hub's prefix: "build.tag".
func (m KojiMessage) Topic() string {
	return strings.TrimPrefix(m.Address, "/topic/VirtualTopic.eng.brew.")
}

// Protonmsg returns the recorded hub message sent on topic ("build.complete",
// "build.tag", "build.untag").
func Protonmsg(t testing.TB, topic string) KojiMessage {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(protonmsg))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m KojiMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Topic() == topic {
			return m
		}
	}
	t.Fatalf("no recorded protonmsg message on %s", topic)
	return KojiMessage{}
}

// Fedora's koji-fedoramessaging bodies, from the message schema's tests.
const (
	FedoraTag = `{"build_id": 1457909, "name": "http-parser", "tag_id": 6446, "instance": "primary",` +
		` "tag": "f31-updates-pending", "user": "bodhi", "version": "2.9.3", "owner": "sgallagh", "release": "1.fc31"}`
	FedoraUntag = `{"build_id": 1457909, "name": "http-parser", "tag_id": 6445, "instance": "primary",` +
		` "tag": "f31-updates-testing", "user": "bodhi", "version": "2.9.3", "owner": "sgallagh", "release": "1.fc31"}`
	FedoraStateChange = `{"build_id": 1478312, "old": 0, "new": 1, "name": "chromium", "task_id": 42561864,` +
		` "attribute": "state", "instance": "primary", "epoch": null, "version": "80.0.3987.132",` +
		` "owner": "spot", "release": "1.fc33", "creation_time": "2023-06-09T07:16:27.818161+00:00",` +
		` "completion_time": "2023-06-09T07:35:14.682273+00:00",` +
		` "request": ["git+https://src.fedoraproject.org/rpms/chromium.git#5f8f", "rawhide", {}],` +
		` "url": "https://koji.fedoraproject.org/koji/buildinfo?taskID=1478312", "task": null}`
)

// Want is what a test expects of one message: its kind, the build (the
// MBS build id of a module event, the Koji build id of Koji's) and the
// tag of a tag or untag.
type Want struct {
	Kind  build.Kind
	Build int64
	Tag   string
}

// ReceiveKinds receives and acknowledges one message of each wanted kind
// from c (in any order) within the time given, and fails the test when a
// message is of another kind, comes twice, or is not what was wanted.
func ReceiveKinds(t testing.TB, c bus.Consumer, within time.Duration, want ...Want) {
	t.Helper()
	byKind := map[build.Kind]Want{}
	for _, w := range want {
		byKind[w.Kind] = w
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for range want {
		d, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("receive (still waiting for %v): %v", byKind, err)
		}
		m := d.Message()
		w, ok := byKind[m.Kind]
		if !ok {
			t.Fatalf("got a %q message (%s), want one of %v", m.Kind, m.Subject(), byKind)
		}
		delete(byKind, m.Kind)
		var id int64
		tag := ""
		switch {
		case m.Module != nil:
			id = m.Module.ID
		case m.Koji != nil:
			id, tag = m.Koji.Build.ID, m.Koji.Tag
		}
		if id != w.Build || tag != w.Tag {
			t.Errorf("%s message: build %d tag %q, want build %d tag %q", m.Kind, id, tag, w.Build, w.Tag)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
