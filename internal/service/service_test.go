package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const serveData = "../../testdata/serve"

// Events matching documents of testdata/serve/modulemd.
var (
	evJava = build.Event{ID: 101, Name: "javapackages-tools", Stream: "201801", Version: "2920190110130105",
		Context: "118bbc34", State: 5, StateName: "ready"}
	evMulti = build.Event{ID: 102, Name: "javapackages-tools", Stream: "201902", Version: "3020190402101010",
		Context: "7673e29c", State: 5, StateName: "ready"}
	evAnt = build.Event{ID: 104, Name: "ant", Stream: "1", Version: "1", Context: "c1", State: 5, StateName: "ready"}
	evDwm = build.Event{ID: 103, Name: "dwm", Stream: "6.2", Version: "3320200901000000",
		Context: "e58bbea8", State: 5, StateName: "ready"}
)

type fakeDelivery struct {
	ev   build.Event
	mu   sync.Mutex
	acks int
}

func (d *fakeDelivery) Message() build.Message { return build.ModuleMessage(d.ev) }
func (d *fakeDelivery) MessageID() string      { return fmt.Sprint("m-", d.ev.ID) }
func (d *fakeDelivery) Body() []byte           { b, _ := json.Marshal(d.ev); return b }
func (d *fakeDelivery) Ack(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acks++
	return nil
}
func (d *fakeDelivery) acked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.acks
}

func (c *chanConsumer) Receive(ctx context.Context) (bus.Delivery, error) {
	select {
	case d, ok := <-c.ch:
		if !ok {
			return nil, bus.ErrClosed
		}
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type chanConsumer struct{ ch chan bus.Delivery }

func (c *chanConsumer) Connected() bool { return true }
func (c *chanConsumer) Close() error    { return nil }

type published struct{ Topic, Body string }

type fakePub struct {
	mu     sync.Mutex
	fail   int
	msgs   []published
	parked []parkedMsg
}

func (p *fakePub) Publish(_ context.Context, topic string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != 0 {
		p.fail--
		return errors.New("broker refused the message")
	}
	p.msgs = append(p.msgs, published{topic, string(body)})
	return nil
}
func (p *fakePub) Close() error { return nil }

func (p *fakePub) Park(_ context.Context, body []byte, headers map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked = append(p.parked, parkedMsg{body, headers})
	return nil
}

type parkedMsg struct {
	body    []byte
	headers map[string]string
}

func (p *fakePub) published() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// newHub is the stand-in hub with the tags and builds of the events above.
func newHub(t testing.TB, opts ...kojitest.Option) *kojitest.Hub {
	hub := kojitest.New(t, opts...)
	for _, tag := range []string{"f29-modular-ursamajor", "f30-modular-ursamajor", "f29-modular-updates-candidate", "f30-modular-updates-candidate"} {
		hub.AddTag(tag)
		hub.AddPackage(tag, "javapackages-tools")
		hub.AddPackage(tag, "javapackages-tools-devel")
	}
	for _, ev := range []build.Event{evJava, evMulti} {
		hub.AddBuild(kojitest.Build{NVR: ev.NVR()})
		hub.AddBuild(kojitest.Build{NVR: ev.NVRFor(ev.Name + "-devel")})
	}
	hub.AddUser("mts", "tag")
	return hub
}

func newKoji(t testing.TB, hub *kojitest.Hub) *koji.Client {
	kc, err := koji.New(&koji.Config{
		Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"), Timeout: 5 * time.Second,
	}, koji.WithSessions(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return kc
}

// tagCalls counts the tagBuild calls the hub ran (not refused).
func tagCalls(hub *kojitest.Hub) int {
	n := 0
	for _, c := range hub.TagCalls() {
		if c.Fault == 0 {
			n++
		}
	}
	return n
}

type sourceFunc func(ev build.Event) ([]byte, error)

func (f sourceFunc) Modulemd(_ context.Context, ev build.Event) ([]byte, error) { return f(ev) }
func (f sourceFunc) Dependency() string                                         { return source.DependencyMBS }

func dirSource(t testing.TB) source.Source {
	d, err := source.NewDir(filepath.Join(serveData, "modulemd"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type staticRules struct{ rs *ruleset.Ruleset }

func (s staticRules) Current() *ruleset.Ruleset { return s.rs }

func loadRules(t testing.TB, file string) Rules {
	rs, err := ruleset.Load([]string{filepath.Join(serveData, "rules", file)}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return staticRules{rs}
}

var testCfg = Config{Workers: 2, RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond, TaskPoll: 20 * time.Millisecond}

type recorderFunc func(decision.Record) error

func (f recorderFunc) Record(_ context.Context, r decision.Record) error { return f(r) }

func TestHandle(t *testing.T) {
	locked := "tag f29-modular-ursamajor is locked"
	tests := []struct {
		name       string
		ev         build.Event
		rules      string
		prepare    func(hub *kojitest.Hub, pub *fakePub)
		src        sourceFunc
		outcome    string
		tagCalls   int
		retries    bool
		wantTopics []string
		wantInBody string
		failedTags float64
		recorded   bool
	}{
		{name: "matched", ev: evJava, rules: "fedora-mts-rules.yaml", outcome: OutcomeMatched, recorded: true,
			tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"destination_tags":[{"tag":"f29-modular-ursamajor","task_id":`},
		{name: "two destinations", ev: evMulti, rules: "fedora-mts-rules.yaml", outcome: OutcomeMatched, recorded: true,
			tagCalls: 4, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `{"tag":"f30-modular-ursamajor","task_id":`},
		{name: "unmatched", ev: evAnt, rules: "mts-test-for-no-match.yaml", outcome: OutcomeUnmatched, recorded: true,
			wantTopics: []string{"build.tag.unmatched"}, wantInBody: `{"build":{"id":104,"name":"ant","stream":"1","version":"1","context":"c1"}}`},
		{name: "state filtered", ev: withState(evJava, "build"), rules: "fedora-mts-rules.yaml", outcome: OutcomeFiltered},
		{name: "scratch", ev: scratch(evJava), rules: "fedora-mts-rules.yaml", outcome: OutcomeFiltered},
		{name: "done skipped by rules", ev: withState(evJava, "done"), rules: "fedora-mts-rules.yaml", outcome: OutcomeSkipped, recorded: true},
		{name: "rule error", ev: evDwm, rules: "fedora-mts-rules.yaml", outcome: OutcomeRuleError, recorded: true},
		{name: "permanent fault", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true,
			prepare: func(h *kojitest.Hub, _ *fakePub) { h.LockTag("f29-modular-ursamajor", true) }, outcome: OutcomeMatched,
			failedTags: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"task_id":null,"error":"koji ActionNotAllowed (1004): ` + locked},
		{name: "koji down a while", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true, retries: true,
			prepare: func(h *kojitest.Hub, _ *fakePub) { h.FailHTTP("multiCall", 5, 503) }, outcome: OutcomeMatched,
			tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"}},
		{name: "lost tagBuild answer", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true, retries: true,
			prepare: func(h *kojitest.Hub, _ *fakePub) { h.DropResponses("tagBuild", 1) }, outcome: OutcomeMatched,
			tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"}},
		{name: "already tagged", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true,
			prepare: func(h *kojitest.Hub, _ *fakePub) { h.Tag("f29-modular-ursamajor", evJava.NVR()) },
			outcome: OutcomeMatched, tagCalls: 1,
			wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"task_id":null,"error":"already tagged"`},
		{name: "publish refused a while", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true, retries: true,
			prepare: func(_ *kojitest.Hub, p *fakePub) { p.fail = 5 },
			outcome: OutcomeMatched, tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"}},
		{name: "no modulemd", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true,
			src:     func(build.Event) ([]byte, error) { return nil, fmt.Errorf("x: %w", source.ErrNotFound) },
			outcome: OutcomeModulemdError},
		{name: "invalid modulemd", ev: evJava, rules: "fedora-mts-rules.yaml", recorded: true,
			src:     func(build.Event) ([]byte, error) { return []byte("- a list\n"), nil },
			outcome: OutcomeModulemdError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			hub := newHub(t, kojitest.WithTaskTiming(50*time.Millisecond, 100*time.Millisecond))
			pub := &fakePub{}
			if tt.prepare != nil {
				tt.prepare(hub, pub)
			}
			var src source.Source = dirSource(t)
			if tt.src != nil {
				src = tt.src
			}
			var records []decision.Record
			rec := recorderFunc(func(r decision.Record) error { records = append(records, r); return nil })
			svc, err := New(testCfg, nil, pub, newKoji(t, hub), src, loadRules(t, tt.rules),
				Options{Registerer: reg, Recorders: []Recorder{rec}})
			if err != nil {
				t.Fatal(err)
			}
			d := &fakeDelivery{ev: tt.ev}
			got, err := svc.Handle(context.Background(), d)
			if err != nil || got != tt.outcome {
				t.Errorf("outcome %q (%v), want %q", got, err, tt.outcome)
			}
			if d.acked() != 1 {
				t.Errorf("acked %d times", d.acked())
			}
			var topics, bodies []string
			for _, m := range pub.published() {
				topics = append(topics, m.Topic)
				bodies = append(bodies, m.Body)
			}
			if strings.Join(topics, ",") != strings.Join(tt.wantTopics, ",") {
				t.Errorf("published %v, want %v", topics, tt.wantTopics)
			}
			if tt.wantInBody != "" && !strings.Contains(strings.Join(bodies, "\n"), tt.wantInBody) {
				t.Errorf("bodies %s\nwant them to contain %s", bodies, tt.wantInBody)
			}
			if n := tagCalls(hub); n != tt.tagCalls {
				t.Errorf("tagBuild calls %v, want %d", hub.TagCalls(), tt.tagCalls)
			}
			if got := value(svc.m.failedTag); got != tt.failedTags {
				t.Errorf("failed_tag_build_requests_total = %v, want %v", got, tt.failedTags)
			}
			if got := value(svc.m.events.WithLabelValues(tt.outcome)); got != 1 {
				t.Errorf("mts_events_total{outcome=%q} = %v", tt.outcome, got)
			}
			if retried := gatheredSum(reg, "mts_retries_total") > 0; retried != tt.retries {
				t.Errorf("retried = %v, want %v", retried, tt.retries)
			}
			if held := value(svc.m.held); held != 0 {
				t.Errorf("mts_events_held = %v after the event", held)
			}
			if (len(records) == 1) != tt.recorded || len(records) > 1 {
				t.Errorf("%d records, want recorded=%v", len(records), tt.recorded)
			}
		})
	}
}

func gatheredSum(g prometheus.Gatherer, name string) float64 {
	fams, _ := g.Gather()
	var sum float64
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func withState(ev build.Event, s string) build.Event { ev.StateName = s; return ev }
func scratch(ev build.Event) build.Event             { ev.Scratch = true; return ev }

func TestDryRunCallsNoKoji(t *testing.T) {
	cfg := testCfg
	cfg.DryRun = true
	svc, err := New(cfg, nil, nil, nil, dirSource(t), loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDelivery{ev: evJava}
	if got, err := svc.Handle(context.Background(), d); got != OutcomeMatched || err != nil || d.acked() != 1 {
		t.Fatalf("outcome %q (%v) acks %d", got, err, d.acked())
	}
}

// TestHeldUntilTheStoreAnswers: a decision store that fails holds the
// event (readable through Held and Dependencies), retried until it takes
// the record; the announcement is not sent twice.
func TestHeldUntilTheStoreAnswers(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskTiming(10*time.Millisecond, 20*time.Millisecond))
	pub := &fakePub{}
	var mu sync.Mutex
	fail := true
	rec := recorderFunc(func(decision.Record) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errors.New("database is locked")
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	svc, err := New(testCfg, nil, pub, newKoji(t, hub), dirSource(t), loadRules(t, "fedora-mts-rules.yaml"),
		Options{Registerer: reg, Recorders: []Recorder{rec}})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDelivery{ev: evJava}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = svc.Handle(context.Background(), d)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(svc.Held()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	held := svc.Held()
	if len(held) != 1 || held[0].Dependency != DependencyDecisionStore || held[0].LastError != "database is locked" || held[0].MessageID != d.MessageID() {
		t.Fatalf("held = %+v", held)
	}
	var down []string
	for _, dep := range svc.Dependencies() {
		if !dep.Up {
			down = append(down, dep.Name)
		}
	}
	if fmt.Sprint(down) != "[decision_store]" || d.acked() != 0 {
		t.Fatalf("down = %v, acks %d", down, d.acked())
	}
	if v := gatheredSum(reg, "mts_events_held"); v != 1 {
		t.Fatalf("mts_events_held = %v", v)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	<-done
	if d.acked() != 1 || len(pub.published()) != 2 || len(svc.Held()) != 0 {
		t.Fatalf("acks %d, %d published, held %v", d.acked(), len(pub.published()), svc.Held())
	}
}

// TestParkedAfterGiveUp: with retry_give_up_after, an event held that
// long goes to the parking destination with the reason, and is
// acknowledged.
func TestParkedAfterGiveUp(t *testing.T) {
	pub := &fakePub{}
	cfg := testCfg
	cfg.GiveUpAfter = 200 * time.Millisecond
	down := sourceFunc(func(build.Event) ([]byte, error) { return nil, errors.New("connection refused") })
	svc, err := New(cfg, nil, pub, newKoji(t, newHub(t)), down, loadRules(t, "fedora-mts-rules.yaml"),
		Options{Parker: pub})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDelivery{ev: evJava}
	start := time.Now()
	got, err := svc.Handle(context.Background(), d)
	if err != nil || got != OutcomeParked || d.acked() != 1 || time.Since(start) < cfg.GiveUpAfter {
		t.Fatalf("outcome %q (%v), acks %d after %v", got, err, d.acked(), time.Since(start))
	}
	if len(pub.parked) != 1 || string(pub.parked[0].body) != string(d.Body()) ||
		pub.parked[0].headers[bus.HeaderParkDependency] != "mbs" || pub.parked[0].headers[bus.HeaderParkError] != "connection refused" {
		t.Fatalf("parked %+v", pub.parked)
	}
}

// TestStopLeavesHeldEventsUnacknowledged: a service stopping does not
// wait out a dependency, nor hand the event back: it stays unacknowledged.
func TestStopLeavesHeldEventsUnacknowledged(t *testing.T) {
	ch := make(chan bus.Delivery, 1)
	d := &fakeDelivery{ev: evJava}
	ch <- d
	down := sourceFunc(func(build.Event) ([]byte, error) { return nil, errors.New("connection refused") })
	svc, err := New(testCfg, &chanConsumer{ch}, &fakePub{}, newKoji(t, newHub(t)), down, loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	for len(svc.Held()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if d.acked() != 0 {
		t.Fatal("a held event was acknowledged")
	}
}

func TestRunDrainsAndStops(t *testing.T) {
	ch := make(chan bus.Delivery, 20)
	var ds []*fakeDelivery
	for i := range 20 {
		ev := evJava
		ev.ID = int64(1000 + i)
		d := &fakeDelivery{ev: ev}
		ds = append(ds, d)
		ch <- d
	}
	close(ch)
	hub := newHub(t)
	cfg := testCfg
	cfg.Workers = 4
	svc, err := New(cfg, &chanConsumer{ch}, &fakePub{}, newKoji(t, hub), dirSource(t),
		loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.acked() != 1 {
			t.Errorf("event %d acked %d times", d.ev.ID, d.acked())
		}
	}
	// Same NVR each time: the first event starts the tasks, the others
	// wait on them.
	if n := tagCalls(hub); n != 2 {
		t.Errorf("tagBuild calls %d, want 2", n)
	}
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestCopiesOfAnEventStartOneTask(t *testing.T) {
	ch := make(chan bus.Delivery, 20)
	for range 20 {
		ch <- &fakeDelivery{ev: evJava}
	}
	close(ch)
	hub := newHub(t)
	pub := &fakePub{}
	cfg := testCfg
	cfg.Workers = 4
	svc, err := New(cfg, &chanConsumer{ch}, pub, newKoji(t, hub), dirSource(t),
		loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := tagCalls(hub); n != 2 {
		t.Errorf("tagBuild calls %v, want one for the build and one for its -devel twin", hub.TagCalls())
	}
	// Every copy announces the task that was started.
	for _, m := range pub.msgs {
		var body struct {
			DestinationTags []struct {
				TaskID *int64 `json:"task_id"`
			} `json:"destination_tags"`
		}
		if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.DestinationTags) != 1 || body.DestinationTags[0].TaskID == nil {
			t.Errorf("announced %s", m.Body)
		}
	}
	if len(pub.msgs) != 40 {
		t.Errorf("%d announcements, want 40", len(pub.msgs))
	}
}

// TestTwinsInTwoProcesses runs one event through two pipelines at the
// same moment, as two processes on one queue would each get a copy: the
// looks at the hub race, yet only one task runs; the other process
// cancels its own before a builder takes it, and both announce the task
// that stands.
func TestTwinsInTwoProcesses(t *testing.T) {
	for round := range 10 {
		hub := newHub(t)
		pubs := []*fakePub{{}, {}}
		var svcs []*Service
		for i := range 2 {
			svc, err := New(testCfg, nil, pubs[i], newKoji(t, hub), dirSource(t), loadRules(t, "fedora-mts-rules.yaml"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			svcs = append(svcs, svc)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, svc := range svcs {
			wg.Go(func() {
				<-start
				if _, err := svc.Handle(context.Background(), &fakeDelivery{ev: evJava}); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if err := hub.WaitTasks(context.Background()); err != nil {
			t.Fatal(err)
		}
		canceled := hub.Canceled()
		ran := map[string][]int{}
		for _, c := range hub.TagCalls() {
			if c.TaskID != 0 && !slices.Contains(canceled, c.TaskID) {
				ran[c.NVR] = append(ran[c.NVR], c.TaskID)
			}
		}
		for nvr, ids := range ran {
			if len(ids) != 1 {
				t.Errorf("round %d: %s has tasks %v, want one", round, nvr, ids)
			}
		}
		for _, p := range pubs {
			for _, m := range p.published() {
				var body struct {
					NVR  string `json:"nvr"`
					Tags []struct {
						TaskID *int64 `json:"task_id"`
					} `json:"destination_tags"`
				}
				if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
					t.Fatal(err)
				}
				if ids := ran[body.NVR]; len(ids) != 1 || body.Tags[0].TaskID == nil || int(*body.Tags[0].TaskID) != ids[0] {
					t.Errorf("round %d: %s announced %s, tasks %v", round, body.NVR, m.Body, ids)
				}
			}
		}
	}
}

// TestSharedBackoff: events held on one dependency probe it one at a
// time, the oldest first, on one backoff: four held events make about as
// many attempts as one would, and no new event is taken meanwhile.
func TestSharedBackoff(t *testing.T) {
	var mu sync.Mutex
	attempts, down := 0, true
	var order []int64
	held := map[int64]bool{}
	src := sourceFunc(func(ev build.Event) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if down {
			held[ev.ID] = true
			return nil, errors.New("connection refused")
		}
		order = append(order, ev.ID)
		return nil, fmt.Errorf("done: %w", source.ErrNotFound)
	})
	ch := make(chan bus.Delivery, 10)
	for i := range 10 {
		ev := evJava
		ev.ID = int64(i + 1)
		ev.Version = fmt.Sprint(20240101000000 + i) // builds of their own
		ch <- &fakeDelivery{ev: ev}
	}
	close(ch)
	cfg := testCfg
	cfg.Workers = 4
	cfg.RetryMin, cfg.RetryMax = 100*time.Millisecond, 200*time.Millisecond
	svc, err := New(cfg, &chanConsumer{ch}, &fakePub{}, newKoji(t, newHub(t)), src, loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(context.Background()) }()
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	during := attempts
	down = false
	mu.Unlock()
	<-done
	// 4 first attempts, then one probe per 100-200 ms pause.
	if during < 6 || during > 4+16 {
		t.Errorf("%d attempts in 1.5 s with 4 events held, want one probe per pause", during)
	}
	// The held events (those taken before intake stopped) go on before
	// any new one is taken.
	if len(order) != 10 || len(held) == 0 || slices.ContainsFunc(order[:len(held)], func(id int64) bool { return !held[id] }) {
		t.Errorf("handled in the order %v, held %v: held events first, then the rest", order, held)
	}
}
