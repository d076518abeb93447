package app

import (
	"context"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/report"
)

// The --dev lines come from the decisions the pipeline records, one per
// decided event, and from the events it drops before deciding
// (service.Options.Dropped), so that every event gets its line.

// linesRecorder writes each decision's line (a service.Recorder).
type linesRecorder struct{ lines *report.Lines }

func (r linesRecorder) Record(_ context.Context, rec decision.Record) error {
	return r.lines.Record(rec)
}
