package history

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/rulediff"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

// Latest returns, for each build and state, its newest decision, when
// that decision satisfies f (limit aside): what replay decides again. A
// build tagged by an earlier replay thus counts with the replay's
// decision, and a second replay finds nothing to change.
func (s *Store) Latest(ctx context.Context, f Filter) ([]Decision, error) {
	f.Limit = 0
	where, args := f.where()
	cond := ` WHERE `
	if where != "" {
		cond = where + ` AND `
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+decisionColumns+` FROM decisions`+cond+
		`id = (SELECT d2.id FROM decisions d2 WHERE d2.nsvc = decisions.nsvc AND d2.state = decisions.state ORDER BY d2.time DESC, d2.id DESC LIMIT 1)
		ORDER BY time, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	out, err := s.scanDecisions(rows)
	if err != nil {
		return nil, err
	}
	return out, s.addTasks(ctx, out)
}

// Replay is the result of deciding stored events again: the changes in
// the `mts diff` shape, and what --apply would run through the pipeline.
type Replay struct {
	Report *rulediff.Report
	// Skipped are decisions that cannot be decided again offline (no
	// modulemd document was kept: the event failed before a decision).
	Skipped []string
	pending []pending
	docs    map[int64]string
}

type pending struct {
	d   Decision
	rev string
}

// NewReplay decides the newest decision of every build f selects again
// with rs and compares it with what was decided.
func (s *Store) NewReplay(ctx context.Context, rs *ruleset.Ruleset, f Filter) (*Replay, error) {
	ds, err := s.Latest(ctx, f)
	if err != nil {
		return nil, err
	}
	r := &Replay{
		Report: &rulediff.Report{Old: []string{"decisions recorded in " + s.path}, New: rs.Files, Changes: []rulediff.Change{},
			Errors: []rulediff.Problem{}},
		Skipped: []string{},
		docs:    map[int64]string{},
	}
	for _, d := range ds {
		m := d.Message()
		var now decision.Decision
		var text string
		if d.Koji != nil {
			// What a Koji event is decided on is all in its record: the
			// build info as it was decided on, a module build's modulemd
			// in it.
			now = decision.DecideKoji(ctx, rs, m, nil)
		} else {
			var err error
			if text, err = s.Document(ctx, &d); err != nil {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s#%d %s %s: %v", s.path, d.ID, d.Build, d.State, err))
				continue
			}
			if doc, err := modulemd.Parse([]byte(text)); err != nil {
				now = decision.FromError(m, fmt.Errorf("modulemd: %w", err))
			} else {
				now = decision.Decide(rs, d.Event, doc)
			}
		}
		r.Report.Cases++
		r.Report.Compared++
		was := d.Result.Decision(m)
		ch, changed := rulediff.Diff(s.path+"#"+strconv.FormatInt(d.ID, 10), m, ruletest.FromDecision(was), ruletest.FromDecision(now))
		if !changed {
			continue
		}
		r.Report.Changes = append(r.Report.Changes, ch)
		// Only a build the rules now tag (or, for a Koji event, untag)
		// is taken through the pipeline: what a build was given under
		// the old rules is not taken back, and a build the fix no longer
		// matches keeps its tags and its announcement.
		if now.Matched() {
			r.pending = append(r.pending, pending{d: d, rev: rs.Revision})
			if d.Koji == nil {
				r.docs[d.Event.ID] = text
			}
		}
	}
	r.Report.Changed = len(r.Report.Changes)
	return r, nil
}

// ToApply is how many changed builds --apply would tag.
func (r *Replay) ToApply() int { return len(r.pending) }

// Modulemd gives the pipeline the document each replayed decision was made
// on (it implements the service's modulemd source), so that the build is
// decided on exactly what was stored.
func (r *Replay) Modulemd(_ context.Context, ev build.Event) ([]byte, error) {
	text, ok := r.docs[ev.ID]
	if !ok {
		return nil, fmt.Errorf("replay: no stored modulemd for module build %d", ev.ID)
	}
	return []byte(text), nil
}

// Dependency names what the pipeline waits on when a stored document
// cannot be read: the store.
func (r *Replay) Dependency() string { return "decision_store" }

// Handler takes one event through the pipeline and settles it; the
// service's Handle.
type Handler interface {
	Handle(ctx context.Context, d bus.Delivery) (string, error)
}

// Applied is the end of one replayed event.
type Applied struct {
	Decision Decision
	// Outcome is the pipeline's; Settled "ack" when the outcome is
	// durable, "" when the replay stopped before (run it again).
	Outcome string
	Settled string
}

// Apply runs each changed build that the rules now tag through h, one at
// a time, as a delivery of its stored event. Its message id is made of the
// stored decision and the new revision: an interrupted replay run again
// updates the decisions it made instead of adding new ones, and the
// pipeline's own checks keep a build from getting a second task.
func (r *Replay) Apply(ctx context.Context, h Handler) []Applied {
	var out []Applied
	for _, p := range r.pending {
		m := p.d.Message()
		var body []byte
		if m.Koji != nil {
			body, _ = json.Marshal(m.Koji)
		} else {
			body, _ = json.Marshal(p.d.Event)
		}
		d := &replayDelivery{m: m, body: body,
			id: "replay:" + strconv.FormatInt(p.d.ID, 10) + ":" + p.rev}
		outcome, err := h.Handle(ctx, d)
		if err != nil {
			outcome = err.Error()
		}
		out = append(out, Applied{Decision: p.d, Outcome: outcome, Settled: d.settled()})
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// replayDelivery is a stored event handed to the pipeline as if the bus
// had delivered it; settling it records how it ended.
type replayDelivery struct {
	m    build.Message
	id   string
	body []byte

	mu  sync.Mutex
	end string
}

func (d *replayDelivery) Message() build.Message { return d.m }
func (d *replayDelivery) MessageID() string      { return d.id }
func (d *replayDelivery) Body() []byte           { return d.body }

func (d *replayDelivery) Ack(context.Context) error { return d.settle("ack") }

func (d *replayDelivery) settle(how string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.end = how
	return nil
}

func (d *replayDelivery) settled() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.end
}
