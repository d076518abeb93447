// Package history keeps the decisions of `mts serve` in an embedded SQLite
// file, so that a release engineer can ask why a build got its decision
// (`mts why`, the API, the status page) and decide stored events again
// after a rule fix (`mts replay`). Every decision is kept with the event,
// the modulemd document and the rule files it was made with, each rule
// revision stored once. It owns the store and its queries; it must not
// serve HTTP (internal/web does) or write command output (internal/report
// does).
package history

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// schemaVersion is kept in PRAGMA user_version; a store written by a
// newer mts is refused rather than misread, one written by an older one is
// upgraded when opened for writing (migrate).
const schemaVersion = 2

// schema creates the tables. The pages pruning frees are kept in the file
// and used again by the next decisions, so the file stays about the size
// of the bound. (auto_vacuum, which would hand them back, cannot be set
// once journal_mode is WAL, and would write a page more per new page.)
//
// Each b-tree a decision goes into costs a page in the write-ahead log of
// its commit, most of what recording an event costs; so the decision has
// one unique index that also serves lookups by event id (event_id, key),
// and its modulemd document is kept in its own row (compressed when
// large): a document is rarely seen by more than one event, and a table
// of their own cost a page and, for documents over a kilobyte, an
// overflow page more.
const schema = `
CREATE TABLE IF NOT EXISTS revisions (
	revision      TEXT PRIMARY KEY,
	default_state TEXT NOT NULL,
	files         TEXT NOT NULL,
	names         TEXT NOT NULL,
	first_seen    INTEGER NOT NULL
);
` + decisionsTable + decisionIndexes + `
CREATE TABLE IF NOT EXISTS task_states (
	task_id INTEGER PRIMARY KEY,
	state   TEXT NOT NULL,
	checked INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// decisionsTable is the decisions table of schema 2; modulemd is the
// document's text, or a BLOB of it compressed with DEFLATE (docValue).
const decisionsTable = `
CREATE TABLE IF NOT EXISTS decisions (
	id         INTEGER PRIMARY KEY,
	key        TEXT NOT NULL,
	message_id TEXT NOT NULL,
	event_id   INTEGER NOT NULL,
	nsvc       TEXT NOT NULL,
	nvr        TEXT NOT NULL,
	state      TEXT NOT NULL,
	first_time INTEGER NOT NULL,
	time       INTEGER NOT NULL,
	deliveries INTEGER NOT NULL,
	outcome    TEXT NOT NULL,
	rule_id    TEXT,
	revision   TEXT NOT NULL,
	error      TEXT,
	dry_run    INTEGER NOT NULL,
	record     TEXT NOT NULL,
	tasks      TEXT NOT NULL,
	open_tasks INTEGER NOT NULL,
	failed_tasks INTEGER NOT NULL,
	modulemd   BLOB
);
`

const decisionIndexes = `
CREATE UNIQUE INDEX IF NOT EXISTS decisions_key ON decisions(event_id, key);
CREATE INDEX IF NOT EXISTS decisions_nsvc ON decisions(nsvc, time);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(time);
`

// Rules gives the rule set in use; *reload.Coordinator has it. The store
// asks it for the rule files of a revision it has not kept yet.
type Rules interface {
	Current() *ruleset.Ruleset
}

// Options tune a store opened for writing.
type Options struct {
	// Rules is where the rule files of new revisions come from.
	Rules Rules
	// DefaultState is build_state, kept with each revision: legacy rules
	// that name no state are compiled with it when explained again.
	DefaultState string
	// Retention is how long decisions are kept (decision_retention); 90
	// days when zero.
	Retention time.Duration
	// MaxBytes bounds the data kept: above it the oldest decisions go
	// first. 0 means no bound.
	MaxBytes int64
	// Tasks looks up Koji task states; nil leaves them unknown.
	Tasks  TaskInfoGetter
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultRetention is decision_retention's default.
const DefaultRetention = 90 * 24 * time.Hour

// Store is one decision store file. Its methods are safe for concurrent
// use; several processes may open the same file.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
	opts     Options
	log      *slog.Logger

	mu        sync.Mutex
	revisions map[string]bool // kept already
	lastErr   error           // of the last write, for readiness
	compiled  map[string]*ruleset.Ruleset

	upsert *sql.Stmt // the statement of the hot path, prepared once
	// deflaters are reused: a new DEFLATE writer allocates half a megabyte.
	deflaters sync.Pool

	// queue holds the decisions waiting for a commit; writing is set
	// while one caller commits for everyone queued.
	qmu     sync.Mutex
	queue   []*prepared
	writing bool
}

// The statements of Record. The tasks of a decision are kept in its row;
// their states, looked up later, by Koji task id (task_states), so that a
// redelivery that announced the same tasks keeps what is known of them.
const (
	upsertDecision = `INSERT INTO decisions(key, message_id, event_id, nsvc, nvr, state, first_time, time, deliveries,
	outcome, rule_id, revision, error, dry_run, record, tasks, open_tasks, failed_tasks, modulemd)
	VALUES(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT(event_id, key) DO UPDATE SET time = excluded.time, deliveries = deliveries + 1, outcome = excluded.outcome,
	rule_id = excluded.rule_id, revision = excluded.revision, error = excluded.error, dry_run = excluded.dry_run,
	record = excluded.record, tasks = excluded.tasks, modulemd = excluded.modulemd,
	open_tasks = CASE WHEN decisions.tasks = excluded.tasks THEN decisions.open_tasks ELSE excluded.open_tasks END,
	failed_tasks = CASE WHEN decisions.tasks = excluded.tasks THEN decisions.failed_tasks ELSE excluded.failed_tasks END`
)

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// A committed decision survives the process being killed; a lost
	// power supply may cost the last few, whose outcome Koji and the bus
	// hold anyway.
	q.Add("_pragma", "synchronous(NORMAL)")
	// Checkpoints run in the background (Run), not in an event's commit.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_txlock", "immediate")
	if readOnly {
		q.Set("mode", "ro")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens or creates the store at path for `mts serve` and `mts replay
// --apply`.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("decision_store %s: %w", path, err)
		}
	}
	s, err := open(ctx, path, false, opts)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("decision_store %s: %w", path, err)
	}
	if s.upsert, err = s.db.PrepareContext(ctx, upsertDecision); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("decision_store %s: %w", path, err)
	}
	return s, nil
}

// OpenReadOnly opens an existing store for reading (`mts why --store`).
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("decision store: %w", err)
	}
	s, err := open(ctx, path, true, Options{Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("decision store %s: %w", path, err)
	}
	if v != schemaVersion {
		s.db.Close()
		if v < schemaVersion {
			return nil, fmt.Errorf("decision store %s: schema version %d, this mts reads %d: %w", path, v, schemaVersion, ErrOldSchema)
		}
		return nil, fmt.Errorf("decision store %s: schema version %d, this mts reads %d", path, v, schemaVersion)
	}
	return s, nil
}

func open(ctx context.Context, path string, readOnly bool, opts Options) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path, readOnly))
	if err != nil {
		return nil, fmt.Errorf("decision store %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("decision store %s: %w", path, err)
	}
	return &Store{
		db: db, path: path, readOnly: readOnly, opts: opts, log: opts.Logger,
		revisions: map[string]bool{}, compiled: map[string]*ruleset.Ruleset{},
	}, nil
}

// ErrOldSchema is returned when a store written by an older mts is opened
// read-only: it is upgraded when opened for writing, by mts serve or mts
// replay --apply of this version.
var ErrOldSchema = errors.New("written by an older mts: upgraded when this mts serve (or mts replay --apply) opens it")

// migrate creates the tables of a new store or upgrades an older one, in
// one transaction, so that another process opening the file at the same
// time finds either schema whole.
func (s *Store) migrate(ctx context.Context) error {
	start := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this mts (%d)", v, schemaVersion)
	case v == 1:
		if err := s.fromV1(ctx, tx); err != nil {
			return fmt.Errorf("upgrading schema 1 to %d: %w", schemaVersion, err)
		}
	default:
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("creating tables: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if v > 0 {
		s.log.Info("decision store upgraded", "path", s.path, "from_schema", v, "to_schema", schemaVersion,
			"took", time.Since(start).Round(time.Millisecond).String())
	}
	return nil
}

// fromV1 upgrades a store of schema 1, where documents had a table of
// their own (by SHA-256 of the text) and the decision key its own unique
// index: the decisions are copied into the table of schema 2 with their
// documents compressed in their rows.
func (s *Store) fromV1(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, strings.Replace(decisionsTable, "decisions", "decisions_v2", 1)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO decisions_v2(id, key, message_id, event_id, nsvc, nvr, state, first_time, time,
		deliveries, outcome, rule_id, revision, error, dry_run, record, tasks, open_tasks, failed_tasks)
		SELECT id, key, message_id, event_id, nsvc, nvr, state, first_time, time,
		deliveries, outcome, rule_id, revision, error, dry_run, record, tasks, open_tasks, failed_tasks FROM decisions`); err != nil {
		return err
	}
	// In pages of rows, so that a large store is not read into memory.
	for last := int64(-1); ; {
		rows, err := tx.QueryContext(ctx, `SELECT d.id, m.text FROM decisions d JOIN documents m ON m.hash = d.doc
			WHERE d.id > ? ORDER BY d.id LIMIT 500`, last)
		if err != nil {
			return err
		}
		type doc struct {
			id   int64
			text string
		}
		var docs []doc
		for rows.Next() {
			var d doc
			if err := rows.Scan(&d.id, &d.text); err != nil {
				rows.Close()
				return err
			}
			docs = append(docs, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(docs) == 0 {
			break
		}
		for _, d := range docs {
			z, err := s.docValue(d.text)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE decisions_v2 SET modulemd = ? WHERE id = ?`, z, d.id); err != nil {
				return err
			}
			last = d.id
		}
	}
	_, err := tx.ExecContext(ctx, `DROP TABLE decisions; DROP TABLE documents;
		ALTER TABLE decisions_v2 RENAME TO decisions;`+decisionIndexes)
	return err
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the file.
//
// It first folds the write-ahead log into the file: SQLite does that by
// itself only when the last connection to the file closes, and a reader
// (mts why, a status page) may still have it open, which would leave the
// file alone without the latest decisions, or without its schema.
func (s *Store) Close() error {
	if s.readOnly {
		return s.db.Close()
	}
	_, cerr := s.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`)
	return errors.Join(cerr, s.db.Close())
}

// Record keeps one decision before its event is acknowledged. A decision
// for a message already recorded (a redelivery: same message id and event
// id) updates that record and counts the delivery; it never adds a second
// one. An error means the decision is not durable: the caller holds the
// event. Decisions recorded at the same time by several workers are
// committed together.
func (s *Store) Record(ctx context.Context, r decision.Record) error {
	p, err := s.prepare(r)
	if err == nil {
		err = s.commit(ctx, p)
	}
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("decision store %s: %w", s.path, err)
	}
	return nil
}

// Key is what makes two deliveries the same event: the message id with
// the event id, or for a message without id (the --dev line bus) the build
// and its state.
func Key(r decision.Record) string {
	if r.MessageID != "" {
		return "msg:" + r.MessageID + ":" + strconv.FormatInt(r.EventID, 10)
	}
	c := columnsOf(r.Decision.Event)
	return "event:" + strconv.FormatInt(r.EventID, 10) + ":" + c.build + ":" + c.state
}

// columns are the build and state columns a decision is found by: an MBS
// event's N:S:V:C, NVR and state name; a Koji event's NVR (twice) and
// kind.
type columns struct{ build, nvr, state string }

func columnsOf(m build.Message) columns {
	switch {
	case m.Koji != nil:
		return columns{m.Koji.Build.NVR(), m.Koji.Build.NVR(), string(m.Kind)}
	case m.Module != nil:
		return columns{m.Module.NSVC(), m.Module.NVR(), m.Module.StateName}
	}
	var ev build.Event
	return columns{ev.NSVC(), ev.NVR(), ev.StateName}
}

// prepared is a decision ready to be written.
type prepared struct {
	r      decision.Record
	t, now time.Time
	body   string
	doc    any    // the modulemd as kept (docValue); nil for none
	tasks  string // JSON of the tagBuild calls
	open   int    // task ids whose end is not known
	failed int    // calls refused
	rev    *ruleset.Ruleset
	done   chan error
}

func (s *Store) prepare(r decision.Record) (*prepared, error) {
	now := s.opts.Now().UTC()
	t := now
	if r.Time != "" {
		if pt, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
			t = pt
		}
	} else {
		r.Time = now.Format(time.RFC3339Nano)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the decision: %w", err)
	}
	p := &prepared{r: r, t: t, now: now, body: string(body), rev: s.revisionToKeep(r.Revision)}
	tasks := tasksOf(r.Decision)
	for _, tk := range tasks {
		switch {
		case tk.TaskID != nil && !r.DryRun:
			p.open++
		case tk.TaskID == nil && tk.Error != "" && tk.Error != alreadyTagged:
			p.failed++
		}
	}
	tj, err := json.Marshal(tasks)
	if err != nil {
		return nil, err
	}
	p.tasks = string(tj)
	if r.Modulemd != "" {
		if p.doc, err = s.docValue(r.Modulemd); err != nil {
			return nil, fmt.Errorf("compressing the modulemd: %w", err)
		}
	}
	return p, nil
}

// maxBatch bounds the decisions of one commit.
const maxBatch = 64

// commit writes p. A caller that finds no commit going on writes its own
// decision, and with it those that other workers queued meanwhile, in one
// transaction: SQLite writes the pages they share once, which is most of
// the cost of a commit. Others wait for that commit.
func (s *Store) commit(ctx context.Context, p *prepared) error {
	p.done = make(chan error, 1)
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	if s.writing {
		s.qmu.Unlock()
		select {
		case err := <-p.done:
			return err
		case <-ctx.Done():
			// The write may still land; the event is held and its
			// redelivery updates the same record.
			return ctx.Err()
		}
	}
	s.writing = true
	for len(s.queue) > 0 {
		batch := s.queue[:min(len(s.queue), maxBatch)]
		s.queue = s.queue[len(batch):]
		s.qmu.Unlock()
		s.writeAll(batch)
		s.qmu.Lock()
	}
	s.writing = false
	s.qmu.Unlock()
	return <-p.done
}

// writeAll commits a batch and tells each decision how it went.
func (s *Store) writeAll(batch []*prepared) {
	err := s.writeBatch(batch)
	if err != nil && len(batch) > 1 {
		// One at a time, so that a decision that cannot be written does
		// not hold the others.
		for _, p := range batch {
			p.done <- s.writeBatch([]*prepared{p})
		}
		return
	}
	for _, p := range batch {
		p.done <- err
	}
}

func (s *Store) writeBatch(batch []*prepared) error {
	// A commit is not cancelled: the workers it writes for may give up
	// waiting (commit), the write itself is bounded by the busy timeout.
	// Given a context that can end, the driver would also watch each
	// statement from a goroutine of its own.
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, p := range batch {
		if err := s.write(ctx, tx, p); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, p := range batch {
		if p.rev != nil {
			s.mu.Lock()
			s.revisions[p.rev.Revision] = true
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *Store) write(ctx context.Context, tx *sql.Tx, p *prepared) error {
	r := p.r
	c := columnsOf(r.Decision.Event)
	if p.rev != nil {
		files, err := json.Marshal(p.rev.Sources)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revisions(revision, default_state, files, names, first_seen) VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.rev.Revision, s.opts.DefaultState, string(files), fileNames(p.rev), p.now.UnixMilli()); err != nil {
			return fmt.Errorf("keeping the rules: %w", err)
		}
	}
	// One statement inserts the decision or, for a redelivery, updates it.
	_, err := tx.StmtContext(ctx, s.upsert).ExecContext(ctx,
		Key(r), r.MessageID, r.EventID, c.build, c.nvr, c.state, p.t.UnixMilli(), p.t.UnixMilli(),
		r.Decision.Outcome, ruleID(r.Decision), r.Revision, errorText(r.Decision), r.DryRun, p.body, p.tasks, p.open, p.failed, p.doc)
	if err != nil {
		return fmt.Errorf("keeping the decision: %w", err)
	}
	return nil
}

// revisionToKeep returns the rule set of revision when the store has not
// kept its files yet and the rules in use are that revision.
func (s *Store) revisionToKeep(revision string) *ruleset.Ruleset {
	s.mu.Lock()
	kept := s.revisions[revision]
	s.mu.Unlock()
	if kept || s.opts.Rules == nil {
		return nil
	}
	rs := s.opts.Rules.Current()
	if rs == nil || rs.Revision != revision || len(rs.Sources) == 0 {
		return nil
	}
	return rs
}

// KeepRules stores the files of a rule set's revision now, before any
// decision is made with it (at start and after each reload).
func (s *Store) KeepRules(ctx context.Context, rs *ruleset.Ruleset) error {
	files, err := json.Marshal(rs.Sources)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO revisions(revision, default_state, files, names, first_seen) VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		rs.Revision, s.opts.DefaultState, string(files), fileNames(rs), s.opts.Now().UTC().UnixMilli())
	if err != nil {
		return fmt.Errorf("decision store %s: keeping rules %s: %w", s.path, rs.Revision, err)
	}
	s.mu.Lock()
	s.revisions[rs.Revision] = true
	s.mu.Unlock()
	return nil
}

// fileNames is the JSON list of a rule set's file names, kept apart from
// their contents so that listing revisions reads no rule text.
func fileNames(rs *ruleset.Ruleset) string {
	names := make([]string, len(rs.Sources))
	for i, src := range rs.Sources {
		names[i] = src.Name
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// compressAbove is the document size from which documents are kept
// compressed. A shorter one fits in its decision's page as it is; there,
// compressing would cost more time (tens of microseconds, mostly building
// the Huffman codes) than writing the page saves. A document that lists
// a build's artifacts can be tens of kilobytes: compressed to half or
// less, it saves pages of the write-ahead log and of the file.
const compressAbove = 2048

// docValue is how a document is kept in its row: the text itself, or a
// BLOB of it compressed at DEFLATE's fastest level (on the fixtures'
// documents the slowest level saves 5 % more, at a multiple of the time).
func (s *Store) docValue(text string) (any, error) {
	if len(text) < compressAbove {
		return text, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(text)/2 + 64)
	w, _ := s.deflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(&buf, flate.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		w.Reset(&buf)
	}
	defer s.deflaters.Put(w)
	if _, err := io.WriteString(w, text); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// docText is the text of a document kept by docValue.
func docText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		r := flate.NewReader(bytes.NewReader(v))
		defer r.Close()
		b, err := io.ReadAll(r)
		return string(b), err
	}
	return "", fmt.Errorf("kept as %T", v)
}

// Check is the readiness condition "decision_store": the last decision was
// written, and the file takes a write now.
func (s *Store) Check(ctx context.Context) error {
	s.mu.Lock()
	last := s.lastErr
	s.mu.Unlock()
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		s.opts.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("%s not writable: %w", s.path, err)
	}
	if last != nil {
		return fmt.Errorf("last decision not recorded: %w", last)
	}
	return nil
}

// alreadyTagged is the announced error of a destination where the build
// already was (the service's AlreadyTagged): not a failure.
const alreadyTagged = "already tagged"

// tagTask is one tagBuild call of a decision as announced.
type tagTask struct {
	Tag    string `json:"tag"`
	NVR    string `json:"nvr"`
	TaskID *int64 `json:"task_id"`
	Error  string `json:"error,omitempty"`
}

// tasksOf lists the tagBuild calls of a decision (its tag and move
// actions) with their results.
func tasksOf(d decision.Decision) []tagTask {
	out := []tagTask{}
	for _, a := range d.Actions {
		if a.Op == decision.OpTag || a.Op == decision.OpMove {
			out = append(out, tagTask{Tag: a.Tag, NVR: a.NVR, TaskID: a.TaskID, Error: a.Error})
		}
	}
	return out
}

// ruleID is the rule column: NULL when no rule decided.
func ruleID(d decision.Decision) *string {
	if d.Rule == nil {
		return nil
	}
	return &d.Rule.ID
}

// errorText is the error column: NULL when there is none.
func errorText(d decision.Decision) *string {
	if d.Error == "" {
		return nil
	}
	return &d.Error
}
