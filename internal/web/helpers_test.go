package web_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/plan"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

// builds of testdata/modulemd by MBS id: the broken rules tag only
// javapackages-tools; the fixed ones tag nodejs and 389-ds too.
var builds = []struct {
	id   int64
	file string
}{
	{101, "javapackages-tools-201801-f29.yaml"},
	{102, "nodejs-12-f31.yaml"},
	{103, "389-ds-1.4-f31.yaml"},
	{104, "ant-1-el8-upstream-nomatch.yaml"},
}

// switchableRules is a rule set in use that a test replaces, as a reload
// does.
type switchableRules struct {
	p atomic.Pointer[ruleset.Ruleset]
}

func (r *switchableRules) Current() *ruleset.Ruleset { return r.p.Load() }

func loadRules(t testing.TB, dir string) *ruleset.Ruleset {
	t.Helper()
	rs, err := ruleset.Load([]string{filepath.Join("testdata", "rules", dir)}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// clock is a settable time.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func openStore(t testing.TB, rules history.Rules, opts history.Options) *history.Store {
	t.Helper()
	opts.Rules = rules
	s, err := history.Open(context.Background(), filepath.Join(t.TempDir(), "decisions.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// decision decides for a build of testdata/modulemd as the service does,
// with task ids from taskID on for the tagBuild calls.
func decision(t testing.TB, rs *ruleset.Ruleset, id int64, file, msgID string, taskID int64) eval.Record {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "modulemd", file))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := modulemd.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	ev := ruletest.EventFor(text, ruletest.Event{ID: id}, "ready")
	ev.State = 5
	dec, err := rs.Decide(ev, doc)
	r := eval.Record{EventID: id, MessageID: msgID, Revision: rs.Revision, Event: ev, Modulemd: string(text)}
	if err != nil {
		r.Result = eval.FromError(err)
		return r
	}
	r.Result = eval.FromDecision(ev, dec)
	p := plan.For(ev, dec)
	var results []plan.TagResult
	for _, c := range p.TagCalls() {
		tid := taskID
		taskID++
		results = append(results, plan.TagResult{Tag: c.Tag, TaskID: &tid})
	}
	r.Messages = p.Messages(results)
	return r
}
