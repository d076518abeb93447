package kojitest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const (
	candidate = "f40-modular-updates-candidate"
	pending   = "f40-modular-pending"
)

// recorded reads the messages a real 1.35.3 hub sent, by address.
func recorded(t *testing.T) map[string]map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "koji", "protonmsg-koji-1.35.3.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		addr := strings.TrimPrefix(m["address"].(string), "/topic/VirtualTopic.eng.brew.")
		out[addr] = m
	}
	return out
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

// collect starts a hub whose messages arrive on the returned channel.
func collect(t *testing.T, opts ...kojitest.Option) (*kojitest.Hub, <-chan kojitest.Event) {
	t.Helper()
	ch := make(chan kojitest.Event, 100)
	var hub *kojitest.Hub
	hub = kojitest.New(t, append(opts, kojitest.WithEvents(func(ev kojitest.Event) {
		hub.Tagged(candidate) // the hub is not locked while fn runs
		ch <- ev
	}))...)
	return hub, ch
}

func next(t *testing.T, ch <-chan kojitest.Event) kojitest.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the hub")
	}
	return kojitest.Event{}
}

// decodeBoth reads both shapes of ev as a consumer does.
func decodeBoth(t *testing.T, ev kojitest.Event) (proton, fedora *build.KojiEvent) {
	t.Helper()
	pm, err := build.DecodeMessage("/topic/VirtualTopic.eng.brew."+ev.Address, "", ev.Body)
	if err != nil {
		t.Fatalf("protonmsg %s: %v\n%s", ev.Address, err, ev.Body)
	}
	fm, err := build.DecodeMessage("org.fedoraproject.prod."+ev.Topic, "", ev.Fedora)
	if err != nil {
		t.Fatalf("fedora-messaging %s: %v\n%s", ev.Topic, err, ev.Fedora)
	}
	return pm.Koji, fm.Koji
}

// TestEventsOfTagsUntagsAndStates: every tag and untag, ours included,
// and every build state change goes out in both shapes, with the fields
// of the messages a real hub sent, and decodes as what happened.
func TestEventsOfTagsUntagsAndStates(t *testing.T) {
	rec := recorded(t)
	hub, ch := collect(t, kojitest.WithTaskDelay(20*time.Millisecond))
	builds, err := kojitest.ReadBuilds(filepath.Join("..", "..", "testdata", "koji", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []string{candidate, pending} {
		hub.AddTag(tg)
		hub.AddPackage(tg, "nodejs")
		hub.AddPackage(tg, "bash")
	}
	var bash, nodejs kojitest.Build
	for _, b := range builds {
		switch b.Info["name"] {
		case "bash":
			bash = b
		case "nodejs":
			nodejs = b
		}
	}
	hub.AddBuild(bash)
	nodejsNVR := nodejs.Info["nvr"].(string)
	bashNVR := bash.Info["nvr"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := koji.New(&koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	type want struct {
		address, topic string
		kind           build.Kind
		nvr, tag, user string
		old, new       string
	}
	check := func(ev kojitest.Event, w want) {
		t.Helper()
		if ev.Address != w.address || ev.Topic != w.topic {
			t.Fatalf("message %s / %s, want %s / %s", ev.Address, ev.Topic, w.address, w.topic)
		}
		r := rec[w.address]
		if w.topic == "buildsys.build.state.change" {
			r = rec["build.complete"] // every state change has its shape
		}
		if got, want := keys(ev.Properties), keys(r["properties"]); !slices.Equal(got, want) {
			t.Errorf("%s properties %v, a real hub's %v", w.address, got, want)
		}
		var body map[string]any
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatal(err)
		}
		if got, want := keys(body), keys(r["body"]); !slices.Equal(got, want) {
			t.Errorf("%s body %v, a real hub's %v", w.address, got, want)
		}
		rb := r["body"].(map[string]any)
		for _, k := range []string{"build", "info", "tag", "user"} {
			if _, ok := rb[k]; ok {
				if got, want := keys(body[k]), keys(rb[k]); !slices.Equal(got, want) {
					t.Errorf("%s body.%s %v, a real hub's %v", w.address, k, got, want)
				}
			}
		}
		p, f := decodeBoth(t, ev)
		for _, e := range []*build.KojiEvent{p, f} {
			if e.Kind != w.kind || e.Build.NVR() != w.nvr || e.Tag != w.tag || e.User != w.user || e.Old != w.old || e.New != w.new {
				t.Errorf("%s decodes as %+v, want %+v", w.address, e, w)
			}
		}
		if f.Instance != "primary" {
			t.Errorf("fedora-messaging instance %q", f.Instance)
		}
	}

	hub.Tag(candidate, bashNVR)
	check(next(t, ch), want{"build.tag", "buildsys.tag", build.KindTag, bashNVR, candidate, "kojiadmin", "", ""})

	hub.ImportBuild(nodejs)
	ev := next(t, ch)
	check(ev, want{"build.complete", "buildsys.build.state.change", build.KindComplete, nodejsNVR, "", "", "", "complete"})
	var body struct {
		Old    *int           `json:"old"`
		BTypes map[string]any `json:"btypes"`
	}
	if err := json.Unmarshal(ev.Body, &body); err != nil || body.Old != nil || body.BTypes == nil || len(body.BTypes) != 0 {
		t.Errorf("a content-generator import's build.complete: %s, want old null and btypes {}", ev.Body)
	}
	if ev.Properties["old"] != nil || ev.Properties["new"] != "COMPLETE" {
		t.Errorf("import properties %v", ev.Properties)
	}

	// Our own tagBuild comes back, with our user, once the task ran.
	id, err := c.TagBuild(ctx, candidate, nodejsNVR)
	if err != nil {
		t.Fatal(err)
	}
	ev = next(t, ch)
	check(ev, want{"build.tag", "buildsys.tag", build.KindTag, nodejsNVR, candidate, "mts", "", ""})
	p, _ := decodeBoth(t, ev)
	if !p.Build.Complete || !slices.Equal(p.Build.TypeNames(), []string{"module"}) {
		t.Errorf("tag of a module build: types %v, complete %v", p.Build.TypeNames(), p.Build.Complete)
	}
	if st, _ := hub.TaskState(id); st != koji.TaskClosed {
		t.Errorf("task %d in state %d after its build.tag", id, st)
	}

	// A move: untag from the one, tag into the other, by the task's owner.
	if _, err := c.MoveBuild(ctx, candidate, pending, nodejsNVR); err != nil {
		t.Fatal(err)
	}
	check(next(t, ch), want{"build.untag", "buildsys.untag", build.KindUntag, nodejsNVR, candidate, "mts", "", ""})
	check(next(t, ch), want{"build.tag", "buildsys.tag", build.KindTag, nodejsNVR, pending, "mts", "", ""})

	if err := c.UntagBuild(ctx, candidate, bashNVR); err != nil {
		t.Fatal(err)
	}
	ev = next(t, ch)
	check(ev, want{"build.untag", "buildsys.untag", build.KindUntag, bashNVR, candidate, "mts", "", ""})
	if !strings.Contains(string(ev.Body), `"strict":false`) {
		t.Errorf("untag body %s, want strict false", ev.Body)
	}
	// Nothing to untag: nothing sent.
	if err := c.UntagBuild(ctx, candidate, bashNVR); err != nil {
		t.Fatal(err)
	}
	hub.SetBuildState(bashNVR, koji.BuildDeleted)
	ev = next(t, ch)
	check(ev, want{"build.deleted", "buildsys.build.state.change", build.KindDeleted, bashNVR, "", "", "complete", "deleted"})
	if !strings.Contains(string(ev.Body), `"btypes":{"rpm":null}`) {
		t.Errorf("state change of a build with its types: %s", ev.Body)
	}
	select {
	case ev := <-ch:
		t.Errorf("unexpected message %s", ev.Address)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestEventDuplicates: a message sent again keeps its number and comes
// after the one that followed it.
func TestEventDuplicates(t *testing.T) {
	hub, ch := collect(t, kojitest.WithEventDuplicates(2))
	hub.AddTag(candidate)
	for _, n := range []string{"a-1-1", "b-1-1", "c-1-1"} {
		hub.AddBuild(kojitest.Build{NVR: n})
		hub.Tag(candidate, n)
	}
	var seqs []int
	var resent []bool
	for range 4 {
		ev := next(t, ch)
		seqs, resent = append(seqs, ev.Seq), append(resent, ev.Resent)
	}
	if !slices.Equal(seqs, []int{1, 2, 3, 2}) || !slices.Equal(resent, []bool{false, false, false, true}) {
		t.Errorf("messages %v resent %v, want 1 2 3 2, the last resent", seqs, resent)
	}
}

// TestTaskEvents: with task messages, a tagBuild task announces itself
// FREE, ASSIGNED, OPEN, and its build.tag comes before its task.closed,
// with the shapes a real hub sent.
func TestTaskEvents(t *testing.T) {
	rec := recorded(t)
	hub, ch := collect(t, kojitest.WithTaskEvents(), kojitest.WithTaskDelay(50*time.Millisecond))
	hub.AddTag(candidate)
	hub.AddPackage(candidate, "p")
	hub.AddBuild(kojitest.Build{NVR: "p-1-1"})
	c, err := koji.New(&koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := c.TagBuild(ctx, candidate, "p-1-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, want := range []string{"task.free", "task.assigned", "task.open", "build.tag", "task.closed"} {
		ev := next(t, ch)
		got = append(got, ev.Address)
		if ev.Address != want {
			continue
		}
		r := rec[want]
		if g, w := keys(ev.Properties), keys(r["properties"]); !slices.Equal(g, w) {
			t.Errorf("%s properties %v, a real hub's %v", want, g, w)
		}
		var body map[string]any
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatal(err)
		}
		if g, w := keys(body), keys(r["body"]); !slices.Equal(g, w) {
			t.Errorf("%s body %v, a real hub's %v", want, g, w)
		}
		if strings.HasPrefix(want, "task.") && (ev.Properties["id"] != id || ev.Topic != "buildsys.task.state.change") {
			t.Errorf("%s: %v on %s, want task %d", want, ev.Properties, ev.Topic, id)
		}
	}
	if !slices.Equal(got, []string{"task.free", "task.assigned", "task.open", "build.tag", "task.closed"}) {
		t.Errorf("messages %v", got)
	}
}
