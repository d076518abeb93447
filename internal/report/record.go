package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/policy"
)

// Record writes one decision of the service as a line a person can read:
// the build, its state, the outcome and the rule with the destinations,
// or the reason it was skipped or failed.
func Record(w io.Writer, r eval.Record) error {
	ev := r.Event
	var b strings.Builder
	fmt.Fprintf(&b, "%s (id %d) %s: %s", ev.NSVC(), ev.ID, ev.StateName, r.Outcome)
	switch r.Outcome {
	case string(policy.Matched):
		fmt.Fprintf(&b, " by rule %d %q -> %s", deref(r.RuleIndex), derefs(r.RuleID), strings.Join(r.Destinations, ", "))
		if r.DryRun {
			b.WriteString(" (dry run: nothing tagged)")
		}
	case string(policy.Unmatched):
		b.WriteString(": no rule matched, build.tag.unmatched announced")
	case string(policy.Skipped):
		fmt.Fprintf(&b, ": no rule for state %q", ev.StateName)
	case eval.OutcomeError:
		if r.RuleID != nil {
			fmt.Fprintf(&b, " in rule %d %q", deref(r.RuleIndex), *r.RuleID)
		}
	}
	decided := r.Outcome == string(policy.Matched) || r.Outcome == string(policy.Unmatched) || r.Outcome == string(policy.Skipped)
	switch {
	case r.Error != nil && decided:
		// A decision made but not carried out (Koji or the bus failed).
		fmt.Fprintf(&b, "; not done: %s", *r.Error)
	case r.Error != nil:
		// Why there is no decision: a failure, or the event was dropped
		// before any rule (filtered).
		fmt.Fprintf(&b, ": %s", *r.Error)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func derefs(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Lines writes the service's decisions as Record lines and counts their
// outcomes, for `serve --dev`. As an io.Writer it takes decision log lines
// (JSON eval.Record, one per line, as the service writes its
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
		var r eval.Record
		if err := json.Unmarshal(line, &r); err != nil {
			return len(p), fmt.Errorf("decision line: %w", err)
		}
		if err := l.record(r); err != nil {
			return len(p), err
		}
	}
}

// Record writes one record.
func (l *Lines) Record(r eval.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.record(r)
}

// Dropped writes the line of an event dropped before any decision, as
// filtered with the reason (the service's Options.Dropped). A line that
// cannot be written is no reason to hold the event.
func (l *Lines) Dropped(ev build.Event, reason string) {
	_ = l.Record(eval.Record{Event: ev, Result: eval.Result{Outcome: "filtered", Error: &reason}})
}

func (l *Lines) record(r eval.Record) error {
	if _, ok := l.counts[r.Outcome]; !ok {
		l.order = append(l.order, r.Outcome)
	}
	l.counts[r.Outcome]++
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
