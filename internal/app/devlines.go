package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/report"
)

// The --dev lines come from the decisions the pipeline records, one per
// decided event; filterLines adds one for each event the pipeline drops
// before it decides (filtered by state, or a scratch build), so that every
// event gets its line.

// linesRecorder writes each decision's line (a service.Recorder).
type linesRecorder struct{ lines *report.Lines }

func (r linesRecorder) Record(_ context.Context, rec eval.Record) error { return r.lines.Record(rec) }

// filterLines writes the line of each event the state filter or the
// scratch rule drops, as the consumer hands it over.
type filterLines struct {
	bus.Consumer
	lines  *report.Lines
	filter []string
}

func (f filterLines) Receive(ctx context.Context) (bus.Delivery, error) {
	d, err := f.Consumer.Receive(ctx)
	if err != nil {
		return d, err
	}
	ev := d.Event()
	reason := ""
	switch {
	case !slices.Contains(f.filter, ev.StateName):
		reason = fmt.Sprintf("state %q is not in build_state_msg_filter (%s)", ev.StateName, strings.Join(f.filter, ", "))
	case ev.Scratch:
		reason = "scratch builds are never tagged"
	}
	if reason != "" {
		writeDropped(f.lines, ev, "filtered", reason)
	}
	return d, nil
}

func writeDropped(l *report.Lines, ev build.Event, outcome, reason string) {
	// A line that cannot be written is no reason to hold the event.
	_ = l.Record(eval.Record{Event: ev, Result: eval.Result{Outcome: outcome, Error: &reason}})
}
