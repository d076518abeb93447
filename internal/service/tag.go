package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/koji"
)

// kojiPermanent reports a fault that belongs in the announcement: the
// request itself is wrong (unknown tag or build, not allowed, tag error)
// and a retry cannot help. Authentication and TLS problems are not: they
// are the service's own, and the event is held until they are fixed.
func kojiPermanent(err error) bool {
	return koji.FaultCode(err) != 0 && !koji.Retryable(err) && !koji.IsAuthError(err)
}

// tag carries out the decision's tag actions, filling in each one's
// result: the build is put in each tag with one tagBuild task at most.
// Before any tagBuild the hub is asked (one multiCall for the whole
// decision) whether the build is already in the tag, and whether a
// tagBuild task of ours for it is pending: a task started by an earlier
// copy of the event, in this process or another, or before a kill -9.
// A pending task is waited on instead of starting another; a CLOSED one,
// or one that FAILED because the build was already tagged, is what the
// announcement names.
func (s *Service) tag(ctx context.Context, h *hold, d *decision.Decision, log *slog.Logger) error {
	var idx []int // the tag actions, by index in d.Actions
	var targets []koji.TagTarget
	for i, a := range d.Actions {
		if a.Op == decision.OpTag {
			idx = append(idx, i)
			targets = append(targets, koji.TagTarget{Tag: a.Tag, NVR: a.NVR})
		}
	}
	results, _, err := s.tagAll(ctx, h, targets, log)
	if err != nil {
		return err
	}
	for j, i := range idx {
		d.Actions[i].TaskID, d.Actions[i].Error = results[j].TaskID, results[j].Error
	}
	return nil
}

// tagAll tags each target (a move when its From is set) and returns what
// to announce for each, and what the first look found (nil when it was
// refused, or in a dry run): the tags the build was in before any task
// of this call.
func (s *Service) tagAll(ctx context.Context, h *hold, targets []koji.TagTarget, log *slog.Logger) ([]decision.TagResult, []koji.TagState, error) {
	results := make([]decision.TagResult, len(targets))
	if s.cfg.DryRun {
		for i, t := range targets {
			log.Info("dry run: tagBuild not called", "tag", t.Tag, "nvr", t.NVR, "from", t.From)
			one := int64(1)
			results[i] = decision.TagResult{Tag: t.Tag, FromTag: t.From, TaskID: &one}
		}
		return results, nil, nil
	}
	var states []koji.TagState
	t0 := time.Now()
	err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
		var err error
		states, err = s.tagger.TagStates(ctx, targets)
		return err
	})
	s.m.lookup.Observe(time.Since(t0).Seconds())
	if err != nil && !kojiPermanent(err) {
		return nil, nil, err
	}
	fresh := err == nil
	var look []koji.TagState
	if fresh {
		look = states
		for i := range targets {
			targets[i].From = moveSource(targets[i], &states[i])
		}
	}
	started := map[int]int{} // target index -> the task our tagBuild started
	done := map[int]bool{}
	if fresh && !s.startAll(ctx, targets, states, results, started, done, log) {
		fresh = false // the hub may have made tasks: look again
	}
	for i, t := range targets {
		if done[i] {
			continue
		}
		var st *koji.TagState
		if fresh {
			st = &states[i]
		}
		r, waited, id, terr := s.tagOne(ctx, h, t, st, false, log)
		if terr != nil {
			return nil, nil, terr
		}
		if id != 0 {
			started[i] = id
		}
		// After a wait the first look is stale: the next targets look
		// again.
		fresh = fresh && !waited
		results[i] = r
	}
	if len(started) == 0 {
		return results, look, nil
	}
	keep, err := s.settleRaces(ctx, h, targets, started, log)
	if err != nil {
		return nil, nil, err
	}
	for i, ours := range started {
		if keep[i] == ours {
			continue
		}
		// Ours was cancelled: wait on the task that stands, or, when the
		// build got into the tag meanwhile, look again to name its task.
		var st *koji.TagState
		if keep[i] != 0 {
			st = &koji.TagState{TagTarget: targets[i], Task: &koji.Task{ID: keep[i], State: koji.TaskFree}}
		}
		r, _, _, terr := s.tagOne(ctx, h, targets[i], st, true, log)
		if terr != nil {
			return nil, nil, terr
		}
		results[i] = r
	}
	return results, look, nil
}

// startAll starts, in one request, the tasks of every target that the
// look found neither tagged nor with a task pending, when there are
// several: the build and its -devel twin cost the hub one request. It
// marks in done the targets it settled, a task started (in started) or
// refused for good; the others are left to tagOne. It reports false when
// the request itself failed: the hub may have made some of the tasks, and
// only a new look can tell.
func (s *Service) startAll(ctx context.Context, targets []koji.TagTarget, states []koji.TagState, results []decision.TagResult, started map[int]int, done map[int]bool, log *slog.Logger) bool {
	var need []int
	for i, st := range states {
		if !st.Tagged && (st.Task == nil || !st.Task.Pending()) {
			need = append(need, i)
		}
	}
	if len(need) < 2 {
		return true
	}
	batch := make([]koji.TagTarget, len(need))
	for j, i := range need {
		batch[j] = targets[i]
	}
	ids, errs, err := s.tagger.TagBuilds(ctx, batch)
	if err != nil {
		s.m.retries.WithLabelValues(DependencyKoji).Inc()
		log.Warn("tagBuild request failed; looking again before any other", "error", err)
		return false
	}
	for j, i := range need {
		r := decision.TagResult{Tag: targets[i].Tag}
		switch {
		case errs[j] != nil && kojiPermanent(errs[j]):
			s.m.failedTag.Inc()
			log.Error("tagBuild refused", "tag", targets[i].Tag, "nvr", targets[i].NVR, "fault", koji.FaultCode(errs[j]), "error", errs[j])
			r.Error = faultText(errs[j])
		case errs[j] != nil:
			continue
		default:
			id := int64(ids[j])
			r.TaskID, r.FromTag = &id, targets[i].From
			started[i] = ids[j]
		}
		results[i] = r
		done[i] = true
	}
	return true
}

// tagOne settles one target. st is what the decision's first lookup found, nil
// when it failed for good (then each attempt looks again, and a refusal
// is announced). Without settle, a task it starts is returned as
// started for the caller to check against twins (settleRaces) with the
// other targets'; with settle it checks it itself.
func (s *Service) tagOne(ctx context.Context, h *hold, t koji.TagTarget, st *koji.TagState, settle bool, log *slog.Logger) (r decision.TagResult, waited bool, started int, err error) {
	r = decision.TagResult{Tag: t.Tag}
	// A move whose build has left its source tag became a plain tag: the
	// result says which was made.
	defer func() { r.FromTag = t.From }()
	log = log.With("tag", t.Tag, "nvr", t.NVR)
	for {
		wait := 0 // a pending task to wait on
		started = 0
		err = s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
			wait, started = 0, 0
			cur := st
			st = nil // any later attempt looks again first
			if cur == nil {
				states, err := s.tagger.TagStates(ctx, []koji.TagTarget{t})
				if err != nil {
					return err
				}
				cur = &states[0]
			}
			t.From = moveSource(t, cur)
			switch {
			case cur.Task != nil && cur.Task.Pending():
				wait = cur.Task.ID
				return nil
			case cur.Tagged && cur.Task != nil:
				id := int64(cur.Task.ID)
				r.TaskID = &id
				return nil
			case cur.Tagged:
				r.Error = AlreadyTagged
				return nil
			}
			var id int
			var err error
			if t.From != "" {
				id, err = s.tagger.MoveBuild(ctx, t.From, t.Tag, t.NVR)
			} else {
				id, err = s.tagger.TagBuild(ctx, t.Tag, t.NVR)
			}
			if err != nil {
				return err
			}
			started = id
			return nil
		})
		switch {
		case err != nil && kojiPermanent(err):
			s.m.failedTag.Inc()
			log.Error("tagBuild refused", "fault", koji.FaultCode(err), "error", err)
			r.Error = faultText(err)
			return r, waited, 0, nil
		case err != nil:
			return r, waited, 0, fmt.Errorf("tagging %s into %s: %w", t.NVR, t.Tag, err)
		case started != 0 && !settle:
			id := int64(started)
			r.TaskID = &id
			return r, waited, started, nil
		case started != 0:
			keep, serr := s.settleRaces(ctx, h, []koji.TagTarget{t}, map[int]int{0: started}, log)
			won := keep[0]
			switch {
			case serr != nil:
				return r, waited, 0, serr
			case won == 0:
				continue // ours cancelled, the build tagged meanwhile: look again
			case won != started:
				wait = won
			default:
				id := int64(started)
				r.TaskID = &id
				return r, waited, started, nil
			}
		case wait == 0:
			if r.Error == AlreadyTagged {
				s.m.alreadyTagged.Inc()
				log.Info("build already in the tag; no new task")
			} else {
				log.Info("build tagged by an earlier task of ours; no new task", "task_id", *r.TaskID)
			}
			return r, waited, 0, nil
		}
		log.Info("a tagBuild task for the build is pending; waiting on it instead of starting another", "task_id", wait)
		waited = true
		task, werr := s.waitTask(ctx, h, wait, log)
		if werr != nil {
			return r, waited, 0, werr
		}
		if task.State == koji.TaskClosed || task.AlreadyTagged() {
			id := int64(task.ID)
			r.TaskID = &id
			return r, waited, 0, nil
		}
		// Canceled, or failed for a reason of its own: look again and,
		// if the build is still not tagged, start a task.
		log.Warn("the pending tagBuild task did not tag the build; trying again", "task_id", task.ID, "state", task.State, "fault", task.Fault)
	}
}

// settleRaces handles copies of an event that looked at the hub at the
// same moment, in two processes, and both started tasks: one more look
// (one multiCall for the targets given, by index, with the tasks we
// started) and every process agrees on the oldest pending task for each;
// the others cancel their own before a builder runs it. It returns, by
// index, the task that stands, or 0 where ours was cancelled because the
// build got into the tag meanwhile (the caller looks again to name the
// task that did it).
func (s *Service) settleRaces(ctx context.Context, h *hold, targets []koji.TagTarget, ours map[int]int, log *slog.Logger) (map[int]int, error) {
	keep := make(map[int]int, len(ours))
	idx := make([]int, 0, len(ours))
	look := make([]koji.TagTarget, 0, len(ours))
	for i, id := range ours {
		keep[i] = id
		idx = append(idx, i)
		t := targets[i]
		// Ours may have run already: the look then names it without
		// searching the hub's history.
		t.Started = id
		look = append(look, t)
	}
	err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
		states, err := s.tagger.TagStates(ctx, look)
		if err != nil {
			return err
		}
		for j, i := range idx {
			switch tk := states[j].Task; {
			case tk != nil && tk.ID == ours[i] && !tk.Pending():
				// Ours already ran: it is the task that tagged.
			case tk != nil && tk.Pending() && tk.ID < ours[i]:
				keep[i] = tk.ID
			case states[j].Tagged:
				keep[i] = 0
			}
		}
		return nil
	})
	if err != nil {
		// A look refused for good leaves our tasks standing.
		return ours, nil
	}
	for _, i := range idx {
		if keep[i] == ours[i] {
			continue
		}
		log.Warn("another process started a tagBuild task for the build at the same moment; cancelling ours",
			"nvr", targets[i].NVR, "tag", targets[i].Tag, "task_id", ours[i], "kept", keep[i])
		err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
			return s.tagger.CancelTask(ctx, ours[i])
		})
		if err != nil && !kojiPermanent(err) {
			return nil, err
		}
		s.m.cancelled.Inc()
	}
	return keep, nil
}

// waitTask waits until a pending task finishes, asking the shared poller
// at each of its ticks.
func (s *Service) waitTask(ctx context.Context, h *hold, id int, log *slog.Logger) (*koji.Task, error) {
	for {
		var task *koji.Task
		gone := func(err error) bool { return kojiPermanent(err) || errors.Is(err, koji.ErrNotFound) }
		// Stopping is no failure of the hub's.
		final := func(err error) bool { return gone(err) || errors.Is(err, errStopping) }
		err := s.do(ctx, h, DependencyKoji, final, log, func(ctx context.Context) error {
			var err error
			task, err = s.poll.state(ctx, id)
			return err
		})
		if err != nil {
			if gone(err) {
				return &koji.Task{ID: id, State: koji.TaskCanceled}, nil
			}
			return nil, err
		}
		if !task.Pending() {
			return task, nil
		}
	}
}

// faultText is the hub's own text of the fault, as the reference put in
// the announcement.
func faultText(err error) string {
	var f *koji.Fault
	if errors.As(err, &f) {
		return f.Error()
	}
	return err.Error()
}

// moveSource is the tag a move of t still takes the build out of: none
// when the look shows the build no longer in it (a late or resent event),
// so that the destination is still tagged, by a plain tagBuild, rather
// than by a move the hub would fail with 1003. A pending task is waited
// on as it is.
func moveSource(t koji.TagTarget, st *koji.TagState) string {
	if t.From == "" || st.Tagged || st.InTag(t.From) || (st.Task != nil && st.Task.Pending()) {
		return t.From
	}
	return ""
}
