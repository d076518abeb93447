package service

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const (
	bashNVR   = "bash-5.2.26-3.fc40"
	nodejsNVR = "nodejs-10-20180816123225.6c81f848"
)

// kojiDelivery is one of Koji's messages as a bus delivers it.
type kojiDelivery struct {
	msg  build.Message
	id   string
	mu   sync.Mutex
	acks int
}

func (d *kojiDelivery) Message() build.Message { return d.msg }
func (d *kojiDelivery) MessageID() string      { return d.id }
func (d *kojiDelivery) Body() []byte           { b, _ := json.Marshal(d.msg.Koji); return b }
func (d *kojiDelivery) Ack(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acks++
	return nil
}

// hubEvents keeps the stand-in hub's messages for a test to deliver.
type hubEvents struct {
	mu   sync.Mutex
	evs  []kojitest.Event
	next int
}

func (e *hubEvents) add(ev kojitest.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

// take returns the next message of the hub in its protonmsg shape, or
// with fedora its koji-fedoramessaging one, skipping those of other
// kinds (tasks); false when none came within wait.
func (e *hubEvents) take(t *testing.T, fedora bool, wait time.Duration) (*kojiDelivery, bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		e.mu.Lock()
		for e.next < len(e.evs) {
			ev := e.evs[e.next]
			e.next++
			topic, body := "/topic/VirtualTopic.eng.brew."+ev.Address, ev.Body
			if fedora {
				topic, body = "org.fedoraproject.prod."+ev.Topic, ev.Fedora
			}
			if _, ok := build.TopicKind(topic); !ok || strings.Contains(topic, "task.") {
				continue
			}
			e.mu.Unlock()
			m, err := build.DecodeMessage(topic, "", body)
			if err != nil {
				t.Fatalf("decoding the hub's %s: %v", topic, err)
			}
			return &kojiDelivery{msg: m, id: fmt.Sprintf("k-%d", ev.Seq)}, true
		}
		e.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustTake is take that fails the test when no message comes.
func (e *hubEvents) mustTake(t *testing.T, fedora bool) *kojiDelivery {
	t.Helper()
	d, ok := e.take(t, fedora, 10*time.Second)
	if !ok {
		t.Fatal("the hub sent no message")
	}
	return d
}

var kojiTags = []string{"f40-candidate", "f40-testing", "f40-stable", "f40-pending", "f40-signed", "loop-x", "loop-y", "module-nodejs-testing"}

// newKojiHub is the stand-in hub with the builds of testdata/koji/builds
// (but the module build, which a test imports) and the tags of the Koji
// rule files, sending its messages to the returned hubEvents.
func newKojiHub(t *testing.T, opts ...kojitest.Option) (*kojitest.Hub, *hubEvents) {
	evs := &hubEvents{}
	opts = append([]kojitest.Option{kojitest.WithEvents(evs.add), kojitest.WithTaskTiming(20*time.Millisecond, 60*time.Millisecond)}, opts...)
	hub := kojitest.New(t, opts...)
	for _, tag := range kojiTags {
		hub.AddTag(tag)
		hub.AddPackage(tag, "bash")
		hub.AddPackage(tag, "nodejs")
	}
	hub.AddUser("mts", "tag")
	return hub, evs
}

// kojiBuilds are the builds of testdata/koji/builds, by NVR.
func kojiBuilds(t *testing.T) map[string]kojitest.Build {
	bs, err := kojitest.ReadBuilds(filepath.Join("..", "..", "testdata", "koji", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kojitest.Build{}
	for _, b := range bs {
		nvr, _ := b.Info["nvr"].(string)
		out[nvr] = b
	}
	return out
}

// waitTagged waits until the hub shows nvr in tag (in true) or not.
func waitTagged(t *testing.T, hub *kojitest.Hub, tag, nvr string, in bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(hub.Tagged(tag), nvr) != in {
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s: %v, want %v", nvr, tag, !in, in)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type kojiRecorded struct {
	mu   sync.Mutex
	recs []decision.Record
}

func (r *kojiRecorded) Record(_ context.Context, rec decision.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *kojiRecorded) last(t *testing.T) decision.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("nothing recorded")
	}
	return r.recs[len(r.recs)-1]
}

func kojiService(t *testing.T, hub *kojitest.Hub, rules string, cfg Config, opts Options) (*Service, *fakePub, *kojiRecorded) {
	t.Helper()
	pub := &fakePub{}
	rec := &kojiRecorded{}
	opts.Recorders = append(opts.Recorders, rec)
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	kc := newKoji(t, hub)
	svc, err := New(cfg, nil, pub, kc, dirSource(t), loadRules(t, filepath.Join("koji", rules)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc, pub, rec
}

func untagCalls(hub *kojitest.Hub) int { return len(hub.UntagCalls()) }

// TestKojiEvents takes Koji's build.tag messages through the pipeline:
// tags, untags and moves, with what the hub shows after and what is
// announced and recorded.
func TestKojiEvents(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(hub *kojitest.Hub, evs *hubEvents)
		trigger string // the tag the build is put into by someone else
		outcome string
		// Hub calls, announcements, and where the build ends up.
		tagCalls, untagCalls int
		topics               []string
		in, out              []string
		// actionError is a substring of the error of the action on the
		// tag given.
		actionError [2]string
		again       bool // a second delivery of the event changes nothing
		// againRequests is how many requests the second delivery makes
		// (0: not checked).
		againRequests int
		// late runs between the event and its handling, as when the
		// event comes late or is resent.
		late func(hub *kojitest.Hub)
		op   decision.Op // the recorded op of the first action, when set
		// announceUnmatched sets announce_unmatched_koji.
		announceUnmatched bool
	}{
		{name: "tag", trigger: "f40-candidate", outcome: OutcomeMatched, tagCalls: 1,
			topics: []string{decision.TopicRequested}, in: []string{"f40-testing", "f40-candidate"}, again: true},
		{name: "untag", trigger: "f40-pending", outcome: OutcomeMatched, untagCalls: 1,
			prepare: func(hub *kojitest.Hub, _ *hubEvents) { hub.Tag("f40-testing", bashNVR) },
			topics:  []string{decision.TopicUntagRequested}, in: []string{"f40-pending"}, out: []string{"f40-testing"}, again: true, againRequests: 1},
		{name: "move: one task, the build leaves fromtag", trigger: "f40-testing", outcome: OutcomeMatched, tagCalls: 1,
			topics: []string{decision.TopicRequested}, in: []string{"f40-stable"}, out: []string{"f40-testing"}, again: true, op: decision.OpMove},
		{name: "a move whose build left the source tag still tags", trigger: "f40-testing", outcome: OutcomeMatched, tagCalls: 1,
			late:   func(hub *kojitest.Hub) { hub.Untag("f40-testing", bashNVR) },
			topics: []string{decision.TopicRequested}, in: []string{"f40-stable"}, out: []string{"f40-testing"}, again: true, op: decision.OpTag},
		{name: "two tags then the untag", trigger: "f40-signed", outcome: OutcomeMatched, tagCalls: 2, untagCalls: 1,
			topics: []string{decision.TopicRequested, decision.TopicUntagRequested}, in: []string{"f40-testing", "f40-stable"}, out: []string{"f40-signed"}, again: true},
		{name: "untag refused for good (1004) is announced", trigger: "f40-pending", outcome: OutcomeMatched,
			prepare: func(hub *kojitest.Hub, _ *hubEvents) {
				hub.Tag("f40-testing", bashNVR)
				hub.DenyPolicy("f40-testing", "untag")
			},
			topics: []string{decision.TopicUntagRequested}, in: []string{"f40-testing"}, actionError: [2]string{"f40-testing", "policy"}},
		{name: "a refused tag leaves its untags undone", trigger: "f40-signed", outcome: OutcomeMatched, tagCalls: 1,
			prepare: func(hub *kojitest.Hub, _ *hubEvents) { hub.DenyPolicy("f40-stable", "tag") },
			topics:  []string{decision.TopicRequested, decision.TopicUntagRequested}, in: []string{"f40-signed", "f40-testing"},
			actionError: [2]string{"f40-signed", "not done: tag into f40-stable failed"}},
		{name: "no rule for the tag", trigger: "f40-stable", outcome: OutcomeUnmatched, in: []string{"f40-stable"}},
		{name: "no rule for the tag, announced when asked", trigger: "f40-stable", outcome: OutcomeUnmatched, in: []string{"f40-stable"},
			announceUnmatched: true, topics: []string{decision.TopicUnmatched}},
	}
	builds := kojiBuilds(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, evs := newKojiHub(t)
			hub.AddBuild(builds[bashNVR])
			if tt.prepare != nil {
				tt.prepare(hub, evs)
			}
			for {
				if _, ok := evs.take(t, false, 200*time.Millisecond); !ok {
					break
				}
			}
			cfg := testCfg
			cfg.AnnounceUnmatchedKoji = tt.announceUnmatched
			svc, pub, rec := kojiService(t, hub, "tag.cel.yaml", cfg, Options{})
			hub.Tag(tt.trigger, bashNVR)
			d := evs.mustTake(t, false)
			if d.msg.Koji == nil || d.msg.Koji.Tag != tt.trigger {
				t.Fatalf("delivered %+v, want the build.tag of %s", d.msg, tt.trigger)
			}
			if tt.late != nil {
				tt.late(hub)
			}
			outcome, err := svc.Handle(t.Context(), d)
			if err != nil || outcome != tt.outcome {
				t.Fatalf("Handle = %q, %v; want %q", outcome, err, tt.outcome)
			}
			if d.acks != 1 {
				t.Errorf("%d acks", d.acks)
			}
			if n := tagCalls(hub); n != tt.tagCalls {
				t.Errorf("%d tagBuild calls, want %d: %+v", n, tt.tagCalls, hub.TagCalls())
			}
			if n := untagCalls(hub); n != tt.untagCalls {
				t.Errorf("%d untags, want %d", n, tt.untagCalls)
			}
			var topics []string
			for _, m := range pub.published() {
				topics = append(topics, m.Topic)
			}
			if !slices.Equal(topics, tt.topics) {
				t.Errorf("announced %v, want %v", topics, tt.topics)
			}
			for _, tag := range tt.in {
				waitTagged(t, hub, tag, bashNVR, true)
			}
			for _, tag := range tt.out {
				waitTagged(t, hub, tag, bashNVR, false)
			}
			r := rec.last(t)
			if r.Decision.Outcome != tt.outcome && !(tt.outcome == OutcomeMatched && r.Decision.Matched()) {
				t.Errorf("recorded outcome %q", r.Decision.Outcome)
			}
			if tt.op != "" && (len(r.Decision.Actions) == 0 || r.Decision.Actions[0].Op != tt.op) {
				t.Errorf("recorded actions %+v, want a %s first", r.Decision.Actions, tt.op)
			}
			if tt.actionError[0] != "" {
				found := false
				for _, a := range r.Decision.Actions {
					if a.Tag == tt.actionError[0] && strings.Contains(a.Error, tt.actionError[1]) {
						found = true
					}
				}
				if !found {
					t.Errorf("recorded actions %+v, want an error %q on %s", r.Decision.Actions, tt.actionError[1], tt.actionError[0])
				}
				body := strings.Join(func() []string {
					var out []string
					for _, m := range pub.published() {
						out = append(out, m.Body)
					}
					return out
				}(), "\n")
				if !strings.Contains(body, tt.actionError[1]) {
					t.Errorf("announced %s, want the error %q", body, tt.actionError[1])
				}
			}
			if !tt.again {
				return
			}
			// The same message again, once the first one's work is done:
			// nothing is done twice.
			time.Sleep(100 * time.Millisecond)
			d.id += "-again"
			before := hubRequests(hub)
			if _, err := svc.Handle(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			if n := hubRequests(hub) - before; tt.againRequests > 0 && n != tt.againRequests {
				t.Errorf("again: %d requests to the hub, want %d", n, tt.againRequests)
			}
			if n := tagCalls(hub); n != tt.tagCalls {
				t.Errorf("again: %d tagBuild calls, want %d", n, tt.tagCalls)
			}
			if n := untagCalls(hub); n != tt.untagCalls {
				t.Errorf("again: %d untags, want %d", n, tt.untagCalls)
			}
			if n := hub.CallCount("untagBuild"); tt.untagCalls > 0 && n != tt.untagCalls {
				t.Errorf("again: untagBuild asked %d times, want %d: a build not in the tag is not untagged", n, tt.untagCalls)
			}
		})
	}
}

// TestKojiEventNoRuleForKind: an event of a kind no rule decides on is
// dropped as filtered, with no call to the hub.
func TestKojiEventNoRuleForKind(t *testing.T) {
	hub, evs := newKojiHub(t)
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	hub.Tag("f40-testing", bashNVR)
	hub.Untag("f40-testing", bashNVR)
	evs.mustTake(t, false)
	d := evs.mustTake(t, false)
	if d.msg.Kind != build.KindUntag {
		t.Fatalf("delivered %s, want build.untag", d.msg.Kind)
	}
	var dropped []string
	svc, pub, rec := kojiService(t, hub, "tag.cel.yaml", testCfg, Options{Dropped: func(m build.Message, reason string) {
		dropped = append(dropped, string(m.Kind)+": "+reason)
	}})
	before := len(hub.Calls())
	outcome, err := svc.Handle(t.Context(), d)
	if err != nil || outcome != OutcomeFiltered {
		t.Fatalf("Handle = %q, %v", outcome, err)
	}
	if n := len(hub.Calls()) - before; n != 0 {
		t.Errorf("%d hub calls for a filtered event", n)
	}
	if want := "build.untag: no rule decides on build.untag events"; !slices.Equal(dropped, []string{want}) {
		t.Errorf("dropped %q, want %q", dropped, want)
	}
	if len(pub.published()) != 0 || len(rec.recs) != 0 || d.acks != 1 {
		t.Errorf("published %v, recorded %d, acks %d", pub.published(), len(rec.recs), d.acks)
	}
}

// TestKojiEventPartialBody: Fedora's flat body carries only the build's
// identity; a rule reading its types costs one build info request, then
// the build is decided on and tagged.
func TestKojiEventPartialBody(t *testing.T) {
	hub, evs := newKojiHub(t)
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	svc, pub, _ := kojiService(t, hub, "types.cel.yaml", testCfg, Options{})
	hub.Tag("f40-candidate", bashNVR)
	d := evs.mustTake(t, true)
	if d.msg.Koji == nil || d.msg.Koji.Build.Complete {
		t.Fatalf("delivered %+v, want a partial build", d.msg.Koji)
	}
	outcome, err := svc.Handle(t.Context(), d)
	if err != nil || outcome != OutcomeMatched {
		t.Fatalf("Handle = %q, %v", outcome, err)
	}
	if n := hub.CallCount("getBuildType"); n != 1 {
		t.Errorf("getBuildType asked %d times, want 1", n)
	}
	if n := tagCalls(hub); n != 1 {
		t.Errorf("%d tagBuild calls", n)
	}
	if msgs := pub.published(); len(msgs) != 1 || !strings.Contains(msgs[0].Body, `"types":["rpm"]`) {
		t.Errorf("announced %v, want the build's types", msgs)
	}

	// A build the hub does not know: an error outcome, recorded.
	gone := *d.msg.Koji
	gone.Build.Name = "nosuch"
	rec := &kojiRecorded{}
	svc2, _, _ := kojiService(t, hub, "types.cel.yaml", testCfg, Options{Recorders: []Recorder{rec}})
	outcome, err = svc2.Handle(t.Context(), &kojiDelivery{msg: build.Message{Kind: gone.Kind, Koji: &gone}, id: "gone"})
	if err != nil || outcome != OutcomeBuildInfoError {
		t.Fatalf("unknown build: Handle = %q, %v", outcome, err)
	}
	if r := rec.last(t); r.Decision.Outcome != decision.OutcomeError || !strings.Contains(r.Decision.Error, "no build info") {
		t.Errorf("recorded %+v", r.Decision)
	}
}

// TestKojiEventModuleBuild: a module build's build.complete, as MBS's
// content generator import sends it, is decided on its modulemd.
func TestKojiEventModuleBuild(t *testing.T) {
	hub, evs := newKojiHub(t)
	svc, pub, rec := kojiService(t, hub, "module.cel.yaml", testCfg, Options{})
	hub.ImportBuild(kojiBuilds(t)[nodejsNVR])
	d := evs.mustTake(t, false)
	if d.msg.Kind != build.KindComplete {
		t.Fatalf("delivered %s", d.msg.Kind)
	}
	outcome, err := svc.Handle(t.Context(), d)
	if err != nil || outcome != OutcomeMatched {
		t.Fatalf("Handle = %q, %v", outcome, err)
	}
	waitTagged(t, hub, "module-nodejs-testing", nodejsNVR, true)
	if r := rec.last(t); r.Modulemd == "" || r.Decision.Rule == nil || r.Decision.Rule.ID != "module-by-modulemd" {
		t.Errorf("recorded %+v, modulemd %d bytes", r.Decision, len(r.Modulemd))
	}
	if len(pub.published()) != 1 {
		t.Errorf("announced %v", pub.published())
	}
}

// TestKojiEventHubOutage: the hub down while a Koji event is tagged holds
// it; it completes when the hub is back, with one task.
func TestKojiEventHubOutage(t *testing.T) {
	hub, evs := newKojiHub(t)
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	svc, pub, _ := kojiService(t, hub, "tag.cel.yaml", testCfg, Options{})
	hub.Tag("f40-candidate", bashNVR)
	d := evs.mustTake(t, false)
	hub.FailHTTP("tagBuild", 3, 503)
	hub.FailHTTP("multiCall", 2, 502)
	outcome, err := svc.Handle(t.Context(), d)
	if err != nil || outcome != OutcomeMatched {
		t.Fatalf("Handle = %q, %v", outcome, err)
	}
	if n := tagCalls(hub); n != 1 {
		t.Errorf("%d tagBuild tasks, want 1: %+v", n, hub.TagCalls())
	}
	waitTagged(t, hub, "f40-testing", bashNVR, true)
	if msgs := pub.published(); len(msgs) != 1 || strings.Contains(msgs[0].Body, "error") {
		t.Errorf("announced %v", msgs)
	}
}

// TestKojiEventDuplicate: a copy of an event delivered while the first
// copy's task is pending finds that task and starts none.
func TestKojiEventDuplicate(t *testing.T) {
	hub, evs := newKojiHub(t, kojitest.WithTaskDelay(300*time.Millisecond))
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	svc, pub, _ := kojiService(t, hub, "tag.cel.yaml", testCfg, Options{})
	hub.Tag("f40-testing", bashNVR)
	d := evs.mustTake(t, false)
	copyOf := &kojiDelivery{msg: d.msg, id: d.id + "-copy"}
	for _, dd := range []*kojiDelivery{d, copyOf} {
		if outcome, err := svc.Handle(t.Context(), dd); err != nil || outcome != OutcomeMatched {
			t.Fatalf("Handle = %q, %v", outcome, err)
		}
	}
	if n := tagCalls(hub); n != 1 {
		t.Errorf("%d tagBuild tasks, want 1", n)
	}
	msgs := pub.published()
	if len(msgs) != 2 || msgs[0].Body != msgs[1].Body {
		t.Errorf("announced %v, want the same task twice", msgs)
	}
}

// TestKojiEventLoopBounded: rules that move a build X -> Y and Y -> X,
// with the hub's messages (our own moves' included) delivered back: the
// chain of reactions to our own events stops at max_reaction_hops.
func TestKojiEventLoopBounded(t *testing.T) {
	hub, evs := newKojiHub(t)
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	cfg := testCfg
	cfg.MaxReactionHops = 3
	reg := prometheus.NewRegistry()
	svc, _, rec := kojiService(t, hub, "loop.cel.yaml", cfg, Options{Registerer: reg, WhoAmI: func(context.Context) (string, error) { return "mts", nil }})
	hub.Tag("loop-x", bashNVR)
	outcomes := map[string]int{}
	for {
		d, ok := evs.take(t, false, 3*time.Second)
		if !ok {
			break
		}
		outcome, err := svc.Handle(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		outcomes[outcome]++
		if outcome == OutcomeLoopStopped {
			break
		}
	}
	// The first move reacts to kojiadmin's tag; three more react to our
	// own; the fourth of our own is not acted on.
	if outcomes[OutcomeMatched] != 4 || outcomes[OutcomeLoopStopped] != 1 {
		t.Errorf("outcomes %v, want 4 matched and 1 loop_stopped", outcomes)
	}
	if n := tagCalls(hub); n != 4 {
		t.Errorf("%d moves, want 4", n)
	}
	r := rec.last(t)
	if want := "stopped after 3 of its own reactions on " + bashNVR + " (a rule loop?)"; r.Decision.Error != want || r.Decision.Outcome != decision.OutcomeError {
		t.Errorf("recorded %q %q, want %q", r.Decision.Outcome, r.Decision.Error, want)
	}
	if v := counterValue(t, reg, "mts_reaction_loop_stops_total"); v != 1 {
		t.Errorf("loop stops counter %v", v)
	}
	// Someone else tagging the build starts a new chain.
	time.Sleep(200 * time.Millisecond)
	hub.Tag("loop-y", bashNVR)
	for {
		d, ok := evs.take(t, false, time.Second)
		if !ok {
			t.Fatal("no build.tag of loop-y by kojiadmin")
		}
		if d.msg.Koji.Kind == build.KindTag && d.msg.Koji.User != "mts" {
			if outcome, err := svc.Handle(t.Context(), d); err != nil || outcome != OutcomeMatched {
				t.Fatalf("after someone else's tag: Handle = %q, %v", outcome, err)
			}
			break
		}
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// TestKojiEventDevNoHub: with no hub (serve --dev), a partial build whose
// rules need more of it is an error outcome naming what is missing; a
// complete one is decided, nothing called.
func TestKojiEventDevNoHub(t *testing.T) {
	hub, evs := newKojiHub(t)
	hub.AddBuild(kojiBuilds(t)[bashNVR])
	hub.Tag("f40-candidate", bashNVR)
	partial := evs.mustTake(t, true)
	// A protonmsg build.tag has the build without its types: as a
	// build.complete's, with them.
	whole := &kojiDelivery{msg: partial.msg, id: "whole"}
	kev := *partial.msg.Koji
	kev.Build.Complete, kev.Build.Types = true, map[string]any{"rpm": nil}
	whole.msg.Koji = &kev
	cfg := testCfg
	cfg.DryRun = true
	rec := &kojiRecorded{}
	svc, err := New(cfg, nil, nil, nil, dirSource(t), loadRules(t, filepath.Join("koji", "types.cel.yaml")), Options{Recorders: []Recorder{rec}})
	if err != nil {
		t.Fatal(err)
	}
	outcome, err := svc.Handle(t.Context(), partial)
	if err != nil || outcome != OutcomeBuildInfoError {
		t.Fatalf("partial: Handle = %q, %v", outcome, err)
	}
	if e := rec.last(t).Decision.Error; !strings.Contains(e, "the rules on build.tag read build.types") {
		t.Errorf("recorded error %q, want what is missing", e)
	}
	outcome, err = svc.Handle(t.Context(), whole)
	if err != nil || outcome != OutcomeMatched {
		t.Fatalf("whole: Handle = %q, %v", outcome, err)
	}
	if a := rec.last(t).Decision.Actions; len(a) != 1 || a[0].TaskID == nil || *a[0].TaskID != 1 {
		t.Errorf("dry run actions %+v", a)
	}
}

// TestKojiUserAskedOnce: workers meeting their first Koji events at the
// same moment ask the hub who the service is once, not once each.
func TestKojiUserAskedOnce(t *testing.T) {
	hub, _ := newKojiHub(t)
	var asked atomic.Int32
	whoAmI := func(context.Context) (string, error) {
		asked.Add(1)
		time.Sleep(50 * time.Millisecond)
		return "mts", nil
	}
	svc, _, _ := kojiService(t, hub, "loop.cel.yaml", testCfg, Options{WhoAmI: whoAmI})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := svc.learnUser(t.Context(), &hold{s: svc}, svc.log); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := asked.Load(); n != 1 {
		t.Errorf("the hub was asked %d times, want 1", n)
	}
}

// hubRequests is how many requests the hub has answered.
func hubRequests(hub *kojitest.Hub) int {
	n := 0
	for _, st := range hub.Stats() {
		n += st.Requests
	}
	return n
}

// TestKojiUserNamedNone: a hub that names no logged-in user holds the
// event (asked again) rather than leaving the service unable to tell its
// own events.
func TestKojiUserNamedNone(t *testing.T) {
	hub, _ := newKojiHub(t)
	var asked atomic.Int32
	whoAmI := func(context.Context) (string, error) {
		if asked.Add(1) == 1 {
			return "", nil
		}
		return "mts", nil
	}
	svc, _, _ := kojiService(t, hub, "loop.cel.yaml", testCfg, Options{WhoAmI: whoAmI})
	if err := svc.learnUser(t.Context(), &hold{s: svc}, svc.log); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 2 || !svc.ownEvent(build.KojiEvent{User: "mts"}) {
		t.Errorf("asked %d times; own user known: %v", n, svc.ownEvent(build.KojiEvent{User: "mts"}))
	}
}
