package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/service"
)

// The --dev lines come from the decision log, which has a line per
// decision; these wrappers add one for each event the service drops before
// it decides (filtered by state or scratch, or without a document), so that
// every event gets its line.

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

// documentLines writes the line of each event whose document cannot be
// had; transient MBS failures are retried by the service and not written.
type documentLines struct {
	service.ModulemdSource
	lines *report.Lines
}

func (s documentLines) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	text, err := s.ModulemdSource.Modulemd(ctx, ev)
	if err != nil && ctx.Err() == nil && !mbs.Transient(err) {
		writeDropped(s.lines, ev, eval.OutcomeError, "no modulemd: "+err.Error())
	}
	return text, err
}

func writeDropped(l *report.Lines, ev build.Event, outcome, reason string) {
	// A line that cannot be written is no reason to hold the event.
	_ = l.Record(eval.Record{Event: ev, Result: eval.Result{Outcome: outcome, Error: &reason}})
}
