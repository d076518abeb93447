package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// Decision is one recorded decision, in the shape of the API and of `mts
// why -o json` (see the README, "Decision history").
type Decision struct {
	ID int64 `json:"id"`
	// Store is the file the decision was read from.
	Store string `json:"store,omitempty"`
	// Time is when it was last decided; FirstTime when first.
	Time       time.Time   `json:"time"`
	FirstTime  time.Time   `json:"first_time"`
	Deliveries int         `json:"deliveries"`
	MessageID  string      `json:"message_id"`
	EventID    int64       `json:"event_id"`
	Build      string      `json:"build"`
	NVR        string      `json:"nvr"`
	State      string      `json:"state"`
	Revision   string      `json:"revision"`
	Event      build.Event `json:"event"`
	// Kind and Koji are set for a decision on one of Koji's build
	// events (Event is then empty); Build and NVR are its build's NVR,
	// State its kind.
	Kind build.Kind       `json:"kind,omitempty"`
	Koji *build.KojiEvent `json:"koji,omitempty"`
	decision.Result
	DryRun bool   `json:"dry_run"`
	Tasks  []Task `json:"tasks"`

	hasDoc bool
}

// Task is one tagBuild call of a decision: the task id announced (null
// when the call was refused or not needed), the announced error, and the
// task's state in Koji once looked up (free, open, closed, canceled,
// assigned, failed, or unknown when the hub has no such task; empty until
// looked up).
type Task struct {
	Tag    string `json:"tag"`
	NVR    string `json:"nvr"`
	TaskID *int64 `json:"task_id"`
	Error  string `json:"error,omitempty"`
	State  string `json:"state,omitempty"`
}

// Filter selects decisions.
type Filter struct {
	// Build is N:S:V:C (or a prefix of whole fields, such as N:S), an NVR,
	// or the MBS module build id.
	Build string
	// Outcomes keeps these outcomes only (matched, unmatched, skipped,
	// error).
	Outcomes []string
	Rule     string
	Since    time.Time
	// Limit bounds the answer; 100 when zero.
	Limit int
}

const decisionColumns = `id, first_time, time, deliveries, message_id, event_id, nsvc, nvr, state, revision, dry_run, modulemd IS NOT NULL, record, tasks`

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	if b := strings.TrimSpace(f.Build); b != "" {
		switch {
		case isDigits(b):
			id, _ := strconv.ParseInt(b, 10, 64)
			conds = append(conds, "event_id = ?")
			args = append(args, id)
		case strings.Contains(b, ":"):
			if strings.Count(b, ":") >= 3 {
				conds = append(conds, "nsvc = ?")
				args = append(args, b)
			} else {
				// A range, so that the nsvc index serves it: ';' follows ':'.
				conds = append(conds, "nsvc >= ? AND nsvc < ?")
				args = append(args, b+":", b+";")
			}
		default:
			// The NVR's name comes before its last two dashes; the rows
			// of that name are found through the nsvc index. The -devel
			// twin's NVR names the same decision.
			nvr := b
			if name, ok := nvrName(b); ok {
				if n, ok := strings.CutSuffix(name, "-devel"); ok {
					nvr = n + strings.TrimPrefix(b, name)
				}
			}
			// A Koji build's decisions have its NVR for N:S:V:C: its
			// -devel twin, if any, is a build of its own.
			name, _ := nvrName(nvr)
			conds = append(conds, "(nsvc >= ? AND nsvc < ? AND nvr = ? OR nsvc = ?)")
			args = append(args, name+":", name+";", nvr, b)
		}
	}
	if len(f.Outcomes) > 0 {
		conds = append(conds, "outcome IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Outcomes)), ",")+")")
		for _, o := range f.Outcomes {
			args = append(args, o)
		}
	}
	if f.Rule != "" {
		conds = append(conds, "rule_id = ?")
		args = append(args, f.Rule)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// nvrName is the name part of name-version-release.
func nvrName(nvr string) (string, bool) {
	i := strings.LastIndexByte(nvr, '-')
	if i <= 0 {
		return nvr, false
	}
	j := strings.LastIndexByte(nvr[:i], '-')
	if j <= 0 {
		return nvr, false
	}
	return nvr[:j], true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// List returns the decisions f selects, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Decision, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx, `SELECT `+decisionColumns+` FROM decisions`+where+` ORDER BY time DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	out, err := s.scanDecisions(rows)
	if err != nil {
		return nil, err
	}
	if err := s.addTasks(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ErrNotFound is returned for a decision id the store does not have.
var ErrNotFound = errors.New("no such decision")

// Get returns one decision.
func (s *Store) Get(ctx context.Context, id int64) (*Decision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	out, err := s.scanDecisions(rows)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("decision %d: %w", id, ErrNotFound)
	}
	if err := s.addTasks(ctx, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

func (s *Store) scanDecisions(rows *sql.Rows) ([]Decision, error) {
	defer rows.Close()
	out := []Decision{}
	for rows.Next() {
		var d Decision
		var first, last int64
		var record, tasks string
		if err := rows.Scan(&d.ID, &first, &last, &d.Deliveries, &d.MessageID, &d.EventID, &d.Build, &d.NVR, &d.State,
			&d.Revision, &d.DryRun, &d.hasDoc, &record, &tasks); err != nil {
			return nil, fmt.Errorf("decision store %s: %w", s.path, err)
		}
		// The decision as it was kept: its messages as they were
		// announced.
		var r decision.Record
		if err := json.Unmarshal([]byte(record), &r); err != nil {
			return nil, fmt.Errorf("decision store %s: decision %d: %w", s.path, d.ID, err)
		}
		if m := r.Decision.Event; m.Koji != nil {
			d.Kind, d.Koji = m.Kind, m.Koji
		} else if m.Module != nil {
			d.Event = *m.Module
		}
		d.Store, d.Result = s.path, recordResult(record)
		d.Time, d.FirstTime = time.UnixMilli(last).UTC(), time.UnixMilli(first).UTC()
		d.Tasks = []Task{}
		if err := json.Unmarshal([]byte(tasks), &d.Tasks); err != nil {
			return nil, fmt.Errorf("decision store %s: decision %d: tasks: %w", s.path, d.ID, err)
		}
		if d.Tasks == nil {
			d.Tasks = []Task{}
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	return out, nil
}

// addTasks fills in the task states known.
func (s *Store) addTasks(ctx context.Context, ds []Decision) error {
	var ids []any
	for _, d := range ds {
		for _, t := range d.Tasks {
			if t.TaskID != nil {
				ids = append(ids, *t.TaskID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	states := map[int64]string{}
	// SQLite takes at most 32,766 parameters; a page of decisions has far
	// fewer tasks, but `mts why` may ask for many.
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		rows, err := s.db.QueryContext(ctx, `SELECT task_id, state FROM task_states WHERE task_id IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`)`, chunk...)
		if err != nil {
			return fmt.Errorf("decision store %s: %w", s.path, err)
		}
		for rows.Next() {
			var id int64
			var state string
			if err := rows.Scan(&id, &state); err != nil {
				rows.Close()
				return err
			}
			states[id] = state
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for i := range ds {
		for j, t := range ds[i].Tasks {
			if t.TaskID != nil {
				ds[i].Tasks[j].State = states[*t.TaskID]
			}
		}
	}
	return nil
}

// Document returns the modulemd text a decision was made on.
func (s *Store) Document(ctx context.Context, d *Decision) (string, error) {
	if !d.hasDoc {
		return "", fmt.Errorf("decision %d: no modulemd document kept", d.ID)
	}
	var v any
	if err := s.db.QueryRowContext(ctx, `SELECT modulemd FROM decisions WHERE id = ?`, d.ID).Scan(&v); err != nil {
		return "", fmt.Errorf("decision %d: modulemd: %w", d.ID, err)
	}
	text, err := docText(v)
	if err != nil {
		return "", fmt.Errorf("decision %d: modulemd: %w", d.ID, err)
	}
	return text, nil
}

// Ruleset compiles the kept rule files of a revision.
func (s *Store) Ruleset(ctx context.Context, revision string) (*ruleset.Ruleset, error) {
	// The rules in use need no second copy: a large rule set takes
	// seconds and a hundred megabytes to compile.
	if s.opts.Rules != nil {
		if cur := s.opts.Rules.Current(); cur != nil && cur.Revision == revision {
			return cur, nil
		}
	}
	s.mu.Lock()
	rs := s.compiled[revision]
	s.mu.Unlock()
	if rs != nil {
		return rs, nil
	}
	var files, state string
	err := s.db.QueryRowContext(ctx, `SELECT files, default_state FROM revisions WHERE revision = ?`, revision).Scan(&files, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("rules revision %s: not kept in %s", revision, s.path)
	}
	if err != nil {
		return nil, err
	}
	var srcs []ruleset.Source
	if err := json.Unmarshal([]byte(files), &srcs); err != nil {
		return nil, fmt.Errorf("rules revision %s: %w", revision, err)
	}
	rs, err = ruleset.LoadSources(srcs, ruleset.Options{DefaultState: state})
	if err != nil {
		return nil, fmt.Errorf("rules revision %s: %w", revision, err)
	}
	s.mu.Lock()
	// Explanations mostly ask for the last revision or two; each kept
	// set costs what the rules in use cost.
	if len(s.compiled) >= 2 {
		clear(s.compiled)
	}
	s.compiled[revision] = rs
	s.mu.Unlock()
	return rs, nil
}

// Explain decides the decision's event again against the rules revision
// that made it, with the per-rule, per-criterion trace of `mts explain`.
func (s *Store) Explain(ctx context.Context, d *Decision) (*decision.Explanation, error) {
	if d.Koji != nil {
		// A Koji build's decision is explained on the event as kept,
		// whose build info holds a module build's modulemd.
		rs, err := s.Ruleset(ctx, d.Revision)
		if err != nil {
			return nil, err
		}
		x, err := decision.ExplainKoji(ctx, rs, d.Message(), nil)
		if err != nil {
			return nil, fmt.Errorf("decision %d: %w", d.ID, err)
		}
		return &x, nil
	}
	text, err := s.Document(ctx, d)
	if err != nil {
		return nil, err
	}
	doc, err := modulemd.Parse([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("decision %d: %w", d.ID, err)
	}
	rs, err := s.Ruleset(ctx, d.Revision)
	if err != nil {
		return nil, err
	}
	x := decision.Explain(rs, d.Event, doc)
	return &x, nil
}

// recordResult is the decision part of a kept record as it was written
// (its messages as they were announced).
func recordResult(record string) decision.Result {
	var r struct{ decision.Result }
	_ = json.Unmarshal([]byte(record), &r)
	return r.Result
}

// Message is the event the decision was made on.
func (d *Decision) Message() build.Message {
	if d.Koji != nil {
		return build.Message{Kind: d.Kind, Koji: d.Koji}
	}
	return build.ModuleMessage(d.Event)
}

// Revision is one kept rules revision.
type Revision struct {
	Revision     string     `json:"revision"`
	FirstSeen    time.Time  `json:"first_seen"`
	Files        []string   `json:"files"`
	Decisions    int        `json:"decisions"`
	LastDecision *time.Time `json:"last_decision"`
}

// Revisions lists the kept revisions, newest first.
func (s *Store) Revisions(ctx context.Context) ([]Revision, error) {
	// One pass over the decisions for all revisions.
	rows, err := s.db.QueryContext(ctx, `SELECT r.revision, r.first_seen, r.names, coalesce(c.n, 0), c.last
		FROM revisions r LEFT JOIN (SELECT revision, count(*) AS n, max(time) AS last FROM decisions GROUP BY revision) c
		ON c.revision = r.revision ORDER BY r.first_seen DESC, r.revision`)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	defer rows.Close()
	out := []Revision{}
	for rows.Next() {
		var r Revision
		var first int64
		var names string
		var last sql.NullInt64
		if err := rows.Scan(&r.Revision, &first, &names, &r.Decisions, &last); err != nil {
			return nil, err
		}
		r.FirstSeen = time.UnixMilli(first).UTC()
		if last.Valid {
			t := time.UnixMilli(last.Int64).UTC()
			r.LastDecision = &t
		}
		if err := json.Unmarshal([]byte(names), &r.Files); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RuleHits is how many kept decisions each rule matched, per revision.
type RuleHits struct {
	Revision string `json:"revision"`
	RuleID   string `json:"rule_id"`
	Hits     int    `json:"hits"`
	// Last is the time of the rule's latest match.
	Last time.Time `json:"last"`
}

// Hits counts the matches of each rule over the kept decisions, most hits
// first.
func (s *Store) Hits(ctx context.Context) ([]RuleHits, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT revision, rule_id, count(*), max(time) FROM decisions
		WHERE outcome = 'matched' AND rule_id IS NOT NULL GROUP BY revision, rule_id ORDER BY count(*) DESC, rule_id, revision`)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	defer rows.Close()
	out := []RuleHits{}
	for rows.Next() {
		var h RuleHits
		var last int64
		if err := rows.Scan(&h.Revision, &h.RuleID, &h.Hits, &last); err != nil {
			return nil, err
		}
		h.Last = time.UnixMilli(last).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// Failures are the latest decisions that went wrong: outcome error, an
// error carrying the decision out, a refused tagBuild or a failed task.
func (s *Store) Failures(ctx context.Context, limit int) ([]Decision, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+decisionColumns+` FROM decisions
		WHERE outcome = 'error' OR error IS NOT NULL OR failed_tasks > 0
		ORDER BY time DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", s.path, err)
	}
	out, err := s.scanDecisions(rows)
	if err != nil {
		return nil, err
	}
	return out, s.addTasks(ctx, out)
}

// ParseSince reads an RFC 3339 time or a period back from now (7d, 36h).
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a time (RFC 3339) or a period such as 7d or 36h", v)
	}
	return now.Add(-d), nil
}
