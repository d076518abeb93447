package app

import (
	"context"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/service"
)

// The --dev lines come from the decisions the pipeline records, one per
// decided event, and from the events it drops before deciding
// (service.Options.Dropped), so that every event gets its line.

// linesRecorder writes each decision's line (a service.Recorder).
type linesRecorder struct{ lines *report.Lines }

func (r linesRecorder) Record(_ context.Context, rec decision.Record) error {
	return r.lines.Record(rec)
}

// droppedLine writes the line of an event dropped before any decision:
// MBS's through report's own, one of Koji's (no rule on its kind) as
// filtered with the reason. A line that cannot be written is no reason
// to hold the event.
func droppedLine(lines *report.Lines) func(build.Message, string) {
	return func(m build.Message, reason string) {
		if m.Koji == nil {
			var ev build.Event
			if m.Module != nil {
				ev = *m.Module
			}
			lines.Dropped(ev, reason)
			return
		}
		_ = lines.Record(decision.Record{EventID: m.Koji.Build.ID,
			Decision: decision.Decision{Event: m, Outcome: service.OutcomeFiltered, Error: reason}})
	}
}
