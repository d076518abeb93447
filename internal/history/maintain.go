package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fedora-modularity/mts/koji"
)

// TaskInfoGetter is the Koji call the task updater makes; *koji.Client has
// it.
type TaskInfoGetter interface {
	GetTaskInfo(ctx context.Context, taskID int) (*koji.TaskInfo, error)
}

// Intervals of the background work.
const (
	pruneEvery = time.Hour
	// checkpointEvery: the write-ahead log is copied into the file off the
	// event path, often enough that it stays small.
	checkpointEvery = time.Second
	tasksEvery      = 30 * time.Second
	// taskBatch bounds the Koji calls of one round.
	taskBatch = 100
	// taskHorizon: tasks of older decisions are no longer looked up; a
	// tagBuild task that has not finished in a day is someone's to look at.
	taskHorizon = 24 * time.Hour
)

// Run prunes the store and looks up task states in the background until
// ctx ends. Failures are logged and tried again on the next round.
func (s *Store) Run(ctx context.Context) {
	checkpoint := time.NewTicker(checkpointEvery)
	defer checkpoint.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	tasks := time.NewTicker(tasksEvery)
	defer tasks.Stop()
	if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("pruning the decision store", "error", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-checkpoint.C:
			// PASSIVE: readers and the next commit never wait for it.
			if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
				s.log.Warn("checkpointing the decision store", "error", err)
			}
		case <-prune.C:
			if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("pruning the decision store", "error", err)
			}
		case <-tasks.C:
			if s.opts.Tasks == nil {
				continue
			}
			if _, err := s.UpdateTasks(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("looking up Koji task states", "error", err)
			}
		}
	}
}

// Prune deletes the decisions older than the retention, then the oldest
// ones while the data kept is above MaxBytes (their documents with them),
// then the task states looked up before the retention and the rule
// revisions no decision refers to (the revision in use stays). It returns
// how many decisions went.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	cutoff := s.opts.Now().Add(-s.opts.Retention).UnixMilli()
	n, err := s.deleteDecisions(ctx, `time < ?`, cutoff)
	if err != nil {
		return n, err
	}
	if s.opts.MaxBytes > 0 {
		for {
			used, err := s.usedBytes(ctx)
			if err != nil {
				return n, err
			}
			if used <= s.opts.MaxBytes {
				break
			}
			var count int64
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM decisions`).Scan(&count); err != nil {
				return n, err
			}
			if count == 0 {
				break
			}
			// A tenth at a time: few rounds, and never much more than needed.
			k, err := s.deleteDecisions(ctx, `id IN (SELECT id FROM decisions ORDER BY time, id LIMIT ?)`, max(count/10, 1))
			n += k
			if err != nil {
				return n, err
			}
			if err := s.orphans(ctx); err != nil {
				return n, err
			}
		}
	}
	if err := s.orphans(ctx); err != nil {
		return n, err
	}
	if n > 0 {
		s.log.Info("decision store pruned", "decisions", n)
	}
	return n, nil
}

func (s *Store) deleteDecisions(ctx context.Context, cond string, arg any) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE `+cond, arg)
	if err != nil {
		return 0, fmt.Errorf("pruning decisions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

func (s *Store) orphans(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM task_states WHERE checked < ?`, s.opts.Now().Add(-s.opts.Retention).UnixMilli()); err != nil {
		return fmt.Errorf("pruning task states: %w", err)
	}
	current := ""
	if s.opts.Rules != nil {
		if rs := s.opts.Rules.Current(); rs != nil {
			current = rs.Revision
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM revisions WHERE revision != ? AND revision NOT IN (SELECT revision FROM decisions)`, current); err != nil {
		return fmt.Errorf("pruning rule revisions: %w", err)
	}
	return nil
}

// usedBytes is the size of the pages in use.
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := s.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return 0, err
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, err
	}
	return (pages - free) * size, nil
}

// taskStateNames are Koji's task states.
var taskStateNames = map[int]string{
	koji.TaskFree: "free", koji.TaskOpen: "open", koji.TaskClosed: "closed",
	koji.TaskCanceled: "canceled", koji.TaskAssigned: "assigned", koji.TaskFailed: "failed",
}

// finalStates are the task states after which a task does not change.
var finalStates = map[string]bool{"closed": true, "canceled": true, "failed": true, "unknown": true}

// UpdateTasks looks up in Koji the state of tagBuild tasks not known to
// have finished, for recent decisions that really tagged (not dry runs).
// It returns how many tasks it looked up.
func (s *Store) UpdateTasks(ctx context.Context) (int, error) {
	if s.opts.Tasks == nil {
		return 0, nil
	}
	horizon := s.opts.Now().Add(-taskHorizon).UnixMilli()
	rows, err := s.db.QueryContext(ctx, `SELECT id, tasks FROM decisions WHERE time >= ? AND dry_run = 0 AND open_tasks > 0
		ORDER BY time LIMIT ?`, horizon, taskBatch)
	if err != nil {
		return 0, err
	}
	type open struct {
		id    int64
		tasks []Task
	}
	var decisions []open
	for rows.Next() {
		var o open
		var tasks string
		if err := rows.Scan(&o.id, &tasks); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal([]byte(tasks), &o.tasks); err != nil {
			rows.Close()
			return 0, fmt.Errorf("decision %d: tasks: %w", o.id, err)
		}
		decisions = append(decisions, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, o := range decisions {
		if err := s.addTasks(ctx, []Decision{{ID: o.id, Tasks: o.tasks}}); err != nil {
			return n, err
		}
		stillOpen, failed := 0, 0
		for _, t := range o.tasks {
			if t.TaskID == nil {
				if t.Error != "" && t.Error != alreadyTagged {
					failed++
				}
				continue
			}
			state := t.State
			if !finalStates[state] {
				info, err := s.opts.Tasks.GetTaskInfo(ctx, int(*t.TaskID))
				switch {
				case errors.Is(err, koji.ErrNotFound), koji.FaultCode(err) != 0 && !koji.Retryable(err):
					// The hub has no such task (or refuses to say):
					// asking again will not help.
					state = "unknown"
				case err != nil:
					return n, fmt.Errorf("task %d: %w", *t.TaskID, err)
				default:
					state = taskStateNames[info.State]
				}
				n++
				if _, err := s.db.ExecContext(ctx, `INSERT INTO task_states(task_id, state, checked) VALUES(?, ?, ?)
					ON CONFLICT(task_id) DO UPDATE SET state = excluded.state, checked = excluded.checked`,
					*t.TaskID, state, s.opts.Now().UnixMilli()); err != nil {
					return n, err
				}
			}
			switch {
			case state == "failed", state == "canceled":
				failed++
			case !finalStates[state]:
				stillOpen++
			}
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE decisions SET open_tasks = ?, failed_tasks = ? WHERE id = ?`, stillOpen, failed, o.id); err != nil {
			return n, err
		}
	}
	return n, nil
}
