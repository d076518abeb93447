package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/policy"
)

// Record writes one decision of the service as a line a person can read:
// the build, its state, the outcome and the rule with the destinations,
// or the reason it was skipped or failed.
func Record(w io.Writer, r decision.Record) error {
	d := r.Decision
	id, subject, state := subjectOf(r)
	var b strings.Builder
	fmt.Fprintf(&b, "%s (id %d) %s: %s", subject, id, state, d.Outcome)
	switch d.Outcome {
	case string(policy.Matched):
		fmt.Fprintf(&b, " by rule %d %q -> %s", ruleIndex(d.Rule), ruleID(d.Rule), strings.Join(d.Destinations, ", "))
		if len(d.Untag) > 0 {
			fmt.Fprintf(&b, ", untag %s", strings.Join(d.Untag, ", "))
		}
		if r.DryRun {
			b.WriteString(" (dry run: nothing tagged)")
		}
	case string(policy.Unmatched):
		if d.Event.Koji == nil {
			b.WriteString(": no rule matched, build.tag.unmatched announced")
		} else {
			b.WriteString(": no rule matched")
		}
	case string(policy.Skipped):
		if d.Event.Koji != nil {
			b.WriteString(": no rule applies")
		} else {
			fmt.Fprintf(&b, ": no rule for state %q", state)
		}
	case decision.OutcomeError:
		if d.Rule != nil {
			fmt.Fprintf(&b, " in rule %d %q", d.Rule.Index, d.Rule.ID)
		}
	}
	decided := d.Outcome == string(policy.Matched) || d.Outcome == string(policy.Unmatched) || d.Outcome == string(policy.Skipped)
	switch {
	case d.Error != "" && decided:
		// A decision made but not carried out (Koji or the bus failed).
		fmt.Fprintf(&b, "; not done: %s", d.Error)
	case d.Error != "":
		// Why there is no decision: a failure, or the event was dropped
		// before any rule (filtered).
		fmt.Fprintf(&b, ": %s", d.Error)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// subjectOf is what a record's line names: an MBS event's module build id,
// N:S:V:C and state; a Koji event's build id, NVR and kind, with the tag
// of a tag or untag.
func subjectOf(r decision.Record) (int64, string, string) {
	m := r.Decision.Event
	switch {
	case m.Koji != nil:
		what := string(m.Kind)
		if m.Koji.Tag != "" {
			what += " " + m.Koji.Tag
		}
		return m.Koji.Build.ID, m.Koji.Build.NVR(), what
	case m.Module != nil:
		return m.Module.ID, m.Module.NSVC(), m.Module.StateName
	}
	var ev build.Event
	return ev.ID, ev.NSVC(), ev.StateName
}

func ruleIndex(r *decision.Rule) int {
	if r == nil {
		return 0
	}
	return r.Index
}

func ruleID(r *decision.Rule) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// Lines writes the service's decisions as Record lines and counts their
// outcomes, for `serve --dev`. As an io.Writer it takes decision log lines
// (JSON decision.Record, one per line, as the service writes its
// decision_log); Record adds one directly.
type Lines struct {
	mu     sync.Mutex
	w      io.Writer
	buf    bytes.Buffer
	counts map[string]int
	order  []string
}

// NewLines writes to w.
func NewLines(w io.Writer) *Lines { return &Lines{w: w, counts: map[string]int{}} }

// Write takes decision log lines; a partial line waits for its end.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadBytes('\n')
		if err != nil {
			l.buf.Write(line)
			return len(p), nil
		}
		var r decision.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return len(p), fmt.Errorf("decision line: %w", err)
		}
		if err := l.record(r); err != nil {
			return len(p), err
		}
	}
}

// Record writes one record.
func (l *Lines) Record(r decision.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.record(r)
}

// Dropped writes the line of an event dropped before any decision, as
// filtered with the reason (the service's Options.Dropped). A line that
// cannot be written is no reason to hold the event.
func (l *Lines) Dropped(ev build.Event, reason string) {
	_ = l.Record(decision.Record{Decision: decision.Decision{Event: build.ModuleMessage(ev), Outcome: "filtered", Error: reason}})
}

func (l *Lines) record(r decision.Record) error {
	o := r.Decision.Outcome
	if _, ok := l.counts[o]; !ok {
		l.order = append(l.order, o)
	}
	l.counts[o]++
	return Record(l.w, r)
}

// Summary writes the count of events per outcome, in the order the
// outcomes first came.
func (l *Lines) Summary() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	var parts []string
	for _, o := range l.order {
		total += l.counts[o]
		parts = append(parts, fmt.Sprintf("%d %s", l.counts[o], o))
	}
	if total == 0 {
		_, err := fmt.Fprintln(l.w, "no events")
		return err
	}
	_, err := fmt.Fprintf(l.w, "%d events: %s\n", total, strings.Join(parts, ", "))
	return err
}
