package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/koji"
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
	ev          build.Event
	acks, nacks int
}

func (d *fakeDelivery) Event() build.Event         { return d.ev }
func (d *fakeDelivery) MessageID() string          { return fmt.Sprint("m-", d.ev.ID) }
func (d *fakeDelivery) Body() []byte               { b, _ := json.Marshal(d.ev); return b }
func (d *fakeDelivery) Ack(context.Context) error  { d.acks++; return nil }
func (d *fakeDelivery) Nack(context.Context) error { d.nacks++; return nil }
func (d *fakeDelivery) settled() (acked, nacked bool) {
	return d.acks == 1 && d.nacks == 0, d.nacks == 1 && d.acks == 0
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
	mu   sync.Mutex
	fail int
	msgs []published
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

type fakeTagger struct {
	mu     sync.Mutex
	tagged map[string]bool
	faults map[string]error // by tag
	calls  []string
	nextID int
}

func (k *fakeTagger) TagBuild(_ context.Context, tag, nvr string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, tag+" "+nvr)
	if err := k.faults[tag]; err != nil {
		return 0, err
	}
	k.nextID++
	if k.tagged == nil {
		k.tagged = map[string]bool{}
	}
	k.tagged[tag+" "+nvr] = true
	return k.nextID, nil
}

func (k *fakeTagger) IsTagged(_ context.Context, tag, nvr string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.faults[tag]; err != nil && koji.Retryable(err) {
		return false, err
	}
	return k.tagged[tag+" "+nvr], nil
}

type sourceFunc func(ev build.Event) ([]byte, error)

func (f sourceFunc) Modulemd(_ context.Context, ev build.Event) ([]byte, error) { return f(ev) }

func dirSource(t testing.TB) ModulemdSource {
	d, err := mbs.NewDir(filepath.Join(serveData, "modulemd"))
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

var testCfg = Config{Workers: 2, CheckTagged: true, RetryAttempts: 3, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond}

func TestHandle(t *testing.T) {
	transportDown := &koji.TransportError{Err: errors.New("connection refused")}
	locked := &koji.Fault{Code: koji.CodeActionNotAllowed, String: "tag is locked"}
	tests := []struct {
		name       string
		ev         build.Event
		rules      string
		tagger     *fakeTagger
		pubFail    int
		src        sourceFunc
		outcome    string
		nack       bool
		tagCalls   int
		wantTopics []string
		wantInBody string
		failedTags float64
	}{
		{name: "matched", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeMatched,
			tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"destination_tags":[{"tag":"f29-modular-ursamajor","task_id":1}]`},
		{name: "two destinations", ev: evMulti, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeMatched,
			tagCalls: 4, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `{"tag":"f29-modular-ursamajor","task_id":2}`},
		{name: "unmatched", ev: evAnt, rules: "mts-test-for-no-match.yaml", tagger: &fakeTagger{}, outcome: OutcomeUnmatched,
			wantTopics: []string{"build.tag.unmatched"}, wantInBody: `{"build":{"id":104,"name":"ant","stream":"1","version":"1","context":"c1"}}`},
		{name: "state filtered", ev: withState(evJava, "build"), rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeFiltered},
		{name: "scratch", ev: scratch(evJava), rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeFiltered},
		{name: "done skipped by rules", ev: withState(evJava, "done"), rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeSkipped},
		{name: "rule error", ev: evDwm, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, outcome: OutcomeRuleError},
		{name: "permanent fault", ev: evJava, rules: "fedora-mts-rules.yaml",
			tagger: &fakeTagger{faults: map[string]error{"f29-modular-ursamajor": locked}}, outcome: OutcomeMatched,
			tagCalls: 2, failedTags: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"task_id":null,"error":"` + locked.Error()},
		{name: "koji down", ev: evJava, rules: "fedora-mts-rules.yaml",
			tagger: &fakeTagger{faults: map[string]error{"f29-modular-ursamajor": transportDown}}, nack: true, outcome: OutcomeRequeued},
		{name: "already tagged", ev: evJava, rules: "fedora-mts-rules.yaml",
			tagger: &fakeTagger{tagged: map[string]bool{
				"f29-modular-ursamajor javapackages-tools-201801-2920190110130105.118bbc34": true,
			}}, outcome: OutcomeMatched, tagCalls: 1,
			wantTopics: []string{"build.tag.requested", "build.tag.requested"},
			wantInBody: `"task_id":null,"error":"already tagged"`},
		{name: "publish refused then taken", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, pubFail: 2,
			outcome: OutcomeMatched, tagCalls: 2, wantTopics: []string{"build.tag.requested", "build.tag.requested"}},
		{name: "publish refused", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{}, pubFail: 100,
			outcome: OutcomeRequeued, nack: true, tagCalls: 2},
		{name: "no modulemd", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{},
			src:     func(build.Event) ([]byte, error) { return nil, fmt.Errorf("x: %w", mbs.ErrNotFound) },
			outcome: OutcomeModulemdError},
		{name: "invalid modulemd", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{},
			src:     func(build.Event) ([]byte, error) { return []byte("- a list\n"), nil },
			outcome: OutcomeModulemdError},
		{name: "mbs down", ev: evJava, rules: "fedora-mts-rules.yaml", tagger: &fakeTagger{},
			src:     func(build.Event) ([]byte, error) { return nil, &mbs.StatusError{Code: 503} },
			outcome: OutcomeRequeued, nack: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			pub := &fakePub{fail: tt.pubFail}
			var src ModulemdSource = dirSource(t)
			if tt.src != nil {
				src = tt.src
			}
			var dlog bytes.Buffer
			svc, err := New(testCfg, &chanConsumer{}, pub, tt.tagger, src, loadRules(t, tt.rules),
				Options{Registerer: reg, DecisionLog: &dlog})
			if err != nil {
				t.Fatal(err)
			}
			d := &fakeDelivery{ev: tt.ev}
			if got := svc.Handle(context.Background(), d); got != tt.outcome {
				t.Errorf("outcome %q, want %q", got, tt.outcome)
			}
			acked, nacked := d.settled()
			if tt.nack != nacked || tt.nack == acked {
				t.Errorf("acks %d nacks %d, want nack=%v", d.acks, d.nacks, tt.nack)
			}
			var topics []string
			var bodies []string
			for _, m := range pub.msgs {
				topics = append(topics, m.Topic)
				bodies = append(bodies, m.Body)
			}
			if tt.nack && len(topics) > 0 {
				t.Errorf("published %v for an event handed back", topics)
			}
			if strings.Join(topics, ",") != strings.Join(tt.wantTopics, ",") {
				t.Errorf("published %v, want %v", topics, tt.wantTopics)
			}
			if tt.wantInBody != "" && !strings.Contains(strings.Join(bodies, "\n"), tt.wantInBody) {
				t.Errorf("bodies %s\nwant them to contain %s", bodies, tt.wantInBody)
			}
			if !tt.nack && len(tt.tagger.calls) != tt.tagCalls {
				t.Errorf("tagBuild calls %v, want %d", tt.tagger.calls, tt.tagCalls)
			}
			if got := value(svc.m.failedTag); got != tt.failedTags {
				t.Errorf("failed_tag_build_requests_total = %v, want %v", got, tt.failedTags)
			}
			if got := value(svc.m.events.WithLabelValues(tt.outcome)); got != 1 {
				t.Errorf("mts_events_total{outcome=%q} = %v", tt.outcome, got)
			}
			if tt.outcome == OutcomeMatched || tt.outcome == OutcomeUnmatched || tt.outcome == OutcomeRuleError {
				var line map[string]any
				if err := json.Unmarshal(dlog.Bytes(), &line); err != nil {
					t.Fatalf("decision log %q: %v", dlog.String(), err)
				}
				for _, k := range []string{"outcome", "rule_id", "rule_index", "destinations", "tag_calls", "messages", "error", "event_id", "revision"} {
					if _, ok := line[k]; !ok {
						t.Errorf("decision log line lacks %q: %s", k, dlog.String())
					}
				}
			}
		})
	}
}

func withState(ev build.Event, s string) build.Event { ev.StateName = s; return ev }
func scratch(ev build.Event) build.Event             { ev.Scratch = true; return ev }

func TestDryRunCallsNoKoji(t *testing.T) {
	cfg := testCfg
	cfg.DryRun = true
	svc, err := New(cfg, &chanConsumer{}, nil, nil, dirSource(t), loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDelivery{ev: evJava}
	if got := svc.Handle(context.Background(), d); got != OutcomeMatched || d.acks != 1 {
		t.Fatalf("outcome %q acks %d", got, d.acks)
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
	tagger := &fakeTagger{}
	svc, err := New(Config{Workers: 4, CheckTagged: true}, &chanConsumer{ch}, &fakePub{}, tagger, dirSource(t),
		loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.acks != 1 {
			t.Errorf("event %d acked %d times", d.ev.ID, d.acks)
		}
	}
	// Same NVR each time: only the first event tags, the others find it tagged.
	if len(tagger.calls) != 2 {
		t.Errorf("tagBuild calls %d, want 2", len(tagger.calls))
	}
}

func TestLineConsumerAndPublisher(t *testing.T) {
	in := strings.NewReader(`{"id": 1, "name": "a", "stream": "s", "version": 20190101, "context": "c", "state_name": "ready"}

not json
{"msg": {"id": 2, "name": "b", "stream": "s", "version": "1", "context": "c", "state_name": "done"}}
`)
	c := NewLineConsumer(in, nil)
	var ids []int64
	for {
		d, err := c.Receive(context.Background())
		if errors.Is(err, bus.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.Event().ID)
	}
	if fmt.Sprint(ids) != "[1 2]" {
		t.Errorf("ids %v", ids)
	}
	var out bytes.Buffer
	p := NewLinePublisher(&out)
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
		c := NewLineConsumer(bytes.NewReader(in), nil)
		for range 1000 {
			if _, err := c.Receive(context.Background()); err != nil {
				return
			}
		}
	})
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

// pendingTagger starts tasks that never run: Koji does not show the build
// in the tag until its task has run.
type pendingTagger struct{ fakeTagger }

func (k *pendingTagger) TagBuild(_ context.Context, tag, nvr string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, tag+" "+nvr)
	k.nextID++
	return k.nextID, nil
}

func TestCopiesOfAnEventStartOneTask(t *testing.T) {
	ch := make(chan bus.Delivery, 20)
	for range 20 {
		ch <- &fakeDelivery{ev: evJava}
	}
	close(ch)
	tagger := &pendingTagger{}
	pub := &fakePub{}
	svc, err := New(Config{Workers: 4, CheckTagged: true}, &chanConsumer{ch}, pub, tagger, dirSource(t),
		loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tagger.calls) != 2 {
		t.Errorf("tagBuild calls %v, want one for the build and one for its -devel twin", tagger.calls)
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
