// Package historytest is what the tests of the decision store and of the
// web side share: builds of their testdata, a rule set a test swaps, a
// settable clock, a store in a temporary file, and decisions made as the
// service makes them. Paths are relative to the calling test's package.
package historytest

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

// Builds are builds of testdata/modulemd by MBS id: the broken rules tag only
// javapackages-tools; the fixed ones tag nodejs and 389-ds too.
var Builds = []struct {
	ID   int64
	File string
}{
	{101, "javapackages-tools-201801-f29.yaml"},
	{102, "nodejs-12-f31.yaml"},
	{103, "389-ds-1.4-f31.yaml"},
	{104, "ant-1-el8-upstream-nomatch.yaml"},
}

// SwitchableRules is a rule set in use that a test replaces, as a reload
// does.
type SwitchableRules struct {
	p atomic.Pointer[ruleset.Ruleset]
}

// Current is the rule set in use.
func (r *SwitchableRules) Current() *ruleset.Ruleset { return r.p.Load() }

// Set puts rs in use.
func (r *SwitchableRules) Set(rs *ruleset.Ruleset) { r.p.Store(rs) }

// LoadRules loads testdata/rules/dir.
func LoadRules(t testing.TB, dir string) *ruleset.Ruleset {
	t.Helper()
	rs, err := ruleset.Load([]string{filepath.Join("testdata", "rules", dir)}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Clock is a settable time.
type Clock struct{ ns atomic.Int64 }

// NewClock is a clock set at t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now, Add and Since read and move the clock.
func (c *Clock) Now() time.Time                  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *Clock) Add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *Clock) Since(d time.Duration) time.Time { return c.Now().Add(-d) }

// OpenStore opens a store in a temporary file, closed when the test ends.
func OpenStore(t testing.TB, rules history.Rules, opts history.Options) *history.Store {
	t.Helper()
	opts.Rules = rules
	s, err := history.Open(context.Background(), filepath.Join(t.TempDir(), "decisions.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Decision decides for a build of testdata/modulemd as the service does,
// with task ids from taskID on for the tagBuild calls.
func Decision(t testing.TB, rs *ruleset.Ruleset, id int64, file, msgID string, taskID int64) decision.Record {
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
	r := decision.Record{EventID: id, MessageID: msgID, Revision: rs.Revision, Modulemd: string(text)}
	r.Decision = decision.Decide(rs, ev, doc)
	for i := range r.Decision.Actions {
		tid := taskID
		taskID++
		r.Decision.Actions[i].TaskID = &tid
	}
	return r
}
