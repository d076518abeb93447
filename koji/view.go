package koji

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// The client keeps one view of our own top-level tagBuild tasks, shared
// by every look (TagStates), so that a look costs the hub the same
// however many of our tasks are pending.
//
// It is filled once by listing every pending task of ours, then kept up
// to date by asking only for the tasks created after a watermark: the
// newest create_ts the hub has shown us. The hub stamps a task with the
// start of the transaction that makes it (PostgreSQL's NOW()) and others
// see the task only once that transaction commits, so a task can appear
// after a newer one was already seen, with a create_ts below the
// watermark. Those late tasks are found by counting: each refresh also
// asks how many tasks of ours the hub has in a ladder of time buckets
// below the watermark, reaching viewMargin back (countOnly, a few bytes
// each), and compares with the tasks the view knows there. A bucket
// where the hub has more is listed (the bucket alone) before any look
// relies on the refresh. The counts cover tasks in every state, so a
// task that closed meanwhile still counts the same.
//
// A look joins the next refresh that starts after it asked (looks that
// ask while a refresh is under way share the one after it), so it sees
// every task committed before it asked, as a full listing would. Its own
// calls (build ids, tag listings, the states of the candidate tasks)
// travel in the same multiCall, after the refresh.

const (
	// viewMargin is how long after its create_ts a task may still
	// become visible (the longest a tagBuild call may take the hub) and
	// be found by the counts.
	viewMargin = 30 * time.Second
	// viewResync is how often the pending tasks are listed in full
	// again: it forgets the tasks that finished unseen.
	viewResync = 10 * time.Minute
)

// viewLadder are the bucket bounds below the watermark, in microseconds,
// oldest first: a late task costs the listing of the smallest bucket
// holding it, a few tasks for the lateness a busy hub shows.
var viewLadder = []int64{30e6, 10e6, 3e6, 1e6, 300e3, 100e3, 30e3, 10e3}

// pendingStates are the states listTasks is asked for when the pending
// tasks are listed in full.
var pendingStates = []any{TaskFree, TaskOpen, TaskAssigned}

// viewTask is one task of ours as the view knows it.
type viewTask struct {
	id             int
	tagID, buildID int64
	// created is create_ts in whole microseconds, as the hub keeps it;
	// 0 until the hub listed the task.
	created int64
	state   int
	fault   *Fault
	// finalAt is the number of the refresh during which the view first
	// knew the task finished, 0 while it is pending.
	finalAt uint64
}

func (t *viewTask) pending() bool {
	return t.state == TaskFree || t.state == TaskAssigned || t.state == TaskOpen
}

type target struct{ tag, build int64 }

type taskView struct {
	mu       sync.Mutex
	synced   bool
	syncedAt time.Time
	// mark is the watermark: the newest created the hub has shown.
	mark int64
	// seq numbers the refreshes.
	seq uint64
	// floor is mark less viewMargin when the view was last pruned:
	// window holds the known tasks created after it.
	floor    int64
	tasks    map[int]*viewTask
	byTarget map[target][]*viewTask
	// window holds created of every known task within viewMargin of
	// mark, sorted, to count them per bucket.
	window []int64

	// Looks waiting for the next refresh, and whether one runs.
	queue []*lookReq
	busy  bool
}

func newTaskView() *taskView {
	return &taskView{tasks: map[int]*viewTask{}, byTarget: map[target][]*viewTask{}}
}

type lookReq struct {
	calls []Call
	done  chan lookAns
}

// lookAns is what a look gets: the results of its calls and the ids of
// the tasks the refresh listed before them, or the turn to run the next
// refresh itself.
type lookAns struct {
	res []CallResult
	// fresh has the state of each task the refresh listed before the
	// look's calls ran; seq is the refresh's number.
	fresh map[int]int
	seq   uint64
	err   error
	lead  bool
}

// look runs calls in the multiCall of the next refresh of the view.
func (c *Client) look(ctx context.Context, calls []Call) lookAns {
	v := c.view
	r := &lookReq{calls: calls, done: make(chan lookAns, 1)}
	v.mu.Lock()
	v.queue = append(v.queue, r)
	lead := !v.busy
	v.busy = true
	v.mu.Unlock()
	if !lead {
		select {
		case a := <-r.done:
			if !a.lead {
				return a
			}
		case <-ctx.Done():
			return c.withdraw(r, ctx.Err())
		}
	}
	v.mu.Lock()
	batch := v.queue
	v.queue = nil
	v.mu.Unlock()
	// The refresh serves every look in it: one caller giving up must not
	// fail the others.
	mine := c.refresh(context.WithoutCancel(ctx), batch, r)
	v.mu.Lock()
	if len(v.queue) > 0 {
		v.queue[0].done <- lookAns{lead: true}
	} else {
		v.busy = false
	}
	v.mu.Unlock()
	return mine
}

// withdraw takes a look that gave up out of the queue; when it was
// already given the turn to refresh, the turn goes to the next one.
func (c *Client) withdraw(r *lookReq, err error) lookAns {
	v := c.view
	v.mu.Lock()
	select {
	case a := <-r.done:
		if !a.lead {
			v.mu.Unlock()
			return a
		}
		v.queue = slices.DeleteFunc(v.queue, func(q *lookReq) bool { return q == r })
		if len(v.queue) > 0 {
			v.queue[0].done <- lookAns{lead: true}
		} else {
			v.busy = false
		}
		v.mu.Unlock()
		return lookAns{err: err}
	default:
	}
	if i := slices.Index(v.queue, r); i >= 0 {
		v.queue = slices.Delete(v.queue, i, i+1)
		v.mu.Unlock()
		return lookAns{err: err}
	}
	v.mu.Unlock()
	// A refresh under way has it: its answer comes.
	return <-r.done
}

// refresh brings the view up to date and runs the calls of batch in the
// same multiCall, answering every look but mine, whose answer it
// returns.
func (c *Client) refresh(ctx context.Context, batch []*lookReq, mine *lookReq) lookAns {
	answer := func(a lookAns, at []int) lookAns {
		var own lookAns
		for i, r := range batch {
			ra := lookAns{fresh: a.fresh, seq: a.seq, err: a.err}
			if a.err == nil {
				ra.res = a.res[at[i] : at[i]+len(r.calls)]
			}
			if r == mine {
				own = ra
			} else {
				r.done <- ra
			}
		}
		return own
	}
	uid, err := c.userID(ctx)
	if err != nil {
		return answer(lookAns{err: err}, nil)
	}
	v := c.view
	v.mu.Lock()
	v.seq++
	seq := v.seq
	full := !v.synced || time.Since(v.syncedAt) > viewResync
	var pre []Call
	var bounds []int64
	var known map[int]bool // the tasks known before a full listing
	if full {
		pre = append(pre, listTagTasks(uid, pendingStates, nil))
		known = make(map[int]bool, len(v.tasks))
		for id := range v.tasks {
			known[id] = true
		}
	}
	if v.synced {
		// New tasks, then the counts below the watermark: a task
		// committed after the listing and stamped below the watermark
		// shows in a count.
		pre = append(pre, listTagTasks(uid, nil, map[string]any{"createdAfter": epoch(v.mark)}))
		bounds = v.ladder()
		for i := range len(bounds) - 1 {
			pre = append(pre, countTagTasks(uid, bounds[i], bounds[i+1]))
		}
	} else {
		// The newest task of ours gives the first watermark.
		pre = append(pre, Call{Method: "listTasks", Params: []any{
			map[string]any{"method": "tagBuild", "owner": uid, "parent": nil, "decode": true},
			map[string]any{"order": "-id", "limit": 1}}})
	}
	v.mu.Unlock()

	calls := pre
	at := make([]int, len(batch))
	for i, r := range batch {
		at[i] = len(calls)
		calls = append(calls, r.calls...)
	}
	res, err := c.MultiCall(ctx, calls)
	if err != nil {
		return answer(lookAns{err: err}, at)
	}
	for _, r := range res[:len(pre)] {
		if r.Err != nil {
			return answer(lookAns{err: fmt.Errorf("listTasks: %w", r.Err)}, at)
		}
	}
	fresh := map[int]int{}
	var rows []taskRow
	for _, r := range res[:len(pre)] {
		if _, ok := r.Value.([]any); !ok {
			continue // a count
		}
		got, err := taskRows(r.Value)
		if err != nil {
			return answer(lookAns{err: err}, at)
		}
		rows = append(rows, got...)
	}
	for _, r := range rows {
		fresh[r.task.ID] = r.task.State
	}
	v.mu.Lock()
	if full {
		v.forgetFinished(rows, known)
	}
	for _, r := range rows {
		v.add(r)
	}
	var late [][2]int64
	if bounds != nil {
		counts := res[len(pre)-len(bounds)+1 : len(pre)]
		for i, r := range counts {
			if n := intOf(r.Value); n > int64(v.count(bounds[i], bounds[i+1])) {
				late = append(late, [2]int64{bounds[i], bounds[i+1]})
			}
		}
	}
	first := !v.synced
	if full {
		v.synced, v.syncedAt = true, time.Now()
	}
	v.mu.Unlock()
	if first {
		// The tasks of the margin below the first watermark, in every
		// state, so that the counts have something to compare with.
		v.mu.Lock()
		lo, hi := max(v.mark-viewMargin.Microseconds(), v.floor), v.mark+1
		v.mu.Unlock()
		late = append(late, [2]int64{lo, hi})
	}
	if len(late) > 0 {
		if err := c.listLate(ctx, uid, late); err != nil {
			return answer(lookAns{err: err}, at)
		}
	}
	// Only now: the buckets listLate compares reach below the new floor.
	v.mu.Lock()
	v.prune()
	v.mu.Unlock()
	return answer(lookAns{res: res, fresh: fresh, seq: seq}, at)
}

// listLate lists the tasks of ours created in the buckets given, where
// the hub counted more than the view knew, and counts them again, until
// the view knows them all.
func (c *Client) listLate(ctx context.Context, uid int64, buckets [][2]int64) error {
	v := c.view
	for range 5 {
		var calls []Call
		for _, b := range buckets {
			calls = append(calls, listTagTasks(uid, nil, map[string]any{"createdAfter": epoch(b[0]), "createdBefore": epoch(b[1])}))
		}
		for _, b := range buckets {
			calls = append(calls, countTagTasks(uid, b[0], b[1]))
		}
		res, err := c.MultiCall(ctx, calls)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("listTasks: %w", r.Err)
			}
		}
		v.mu.Lock()
		for _, r := range res[:len(buckets)] {
			rows, err := taskRows(r.Value)
			if err != nil {
				v.mu.Unlock()
				return err
			}
			for _, row := range rows {
				v.add(row)
			}
		}
		var again [][2]int64
		for i, b := range buckets {
			if intOf(res[len(buckets)+i].Value) > int64(v.count(b[0], b[1])) {
				again = append(again, b)
			}
		}
		v.mu.Unlock()
		if buckets = again; len(buckets) == 0 {
			return nil
		}
	}
	// The hub counts tasks it does not list: a full listing of the
	// pending ones is all that can be relied on.
	c.log.WarnContext(ctx, "koji: the hub counts more tagBuild tasks of ours than it lists; listing the pending ones in full")
	res, err := c.MultiCall(ctx, []Call{listTagTasks(uid, pendingStates, nil)})
	if err == nil && res[0].Err != nil {
		err = fmt.Errorf("listTasks: %w", res[0].Err)
	}
	if err != nil {
		return err
	}
	rows, err := taskRows(res[0].Value)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, row := range rows {
		v.add(row)
	}
	return nil
}

// ladder returns the count buckets' bounds, oldest first, the last just
// above the watermark. The caller holds v.mu.
func (v *taskView) ladder() []int64 {
	b := make([]int64, 0, len(viewLadder)+1)
	for _, d := range viewLadder {
		b = append(b, v.mark-d)
	}
	return append(b, v.mark+1)
}

// count is how many known tasks have lo < created < hi. The caller holds
// v.mu.
func (v *taskView) count(lo, hi int64) int {
	i, _ := slices.BinarySearch(v.window, lo+1)
	j, _ := slices.BinarySearch(v.window, hi)
	return j - i
}

// add takes in a task the hub listed. The caller holds v.mu.
func (v *taskView) add(r taskRow) {
	t := v.tasks[r.task.ID]
	if t == nil {
		t = &viewTask{id: r.task.ID, tagID: r.tagID, buildID: r.buildID}
		v.tasks[t.id] = t
		k := target{t.tagID, t.buildID}
		v.byTarget[k] = append(v.byTarget[k], t)
	}
	v.setState(t, r.task.State, r.task.Fault)
	if t.created == 0 && r.created != 0 {
		t.created = r.created
		if t.created > v.floor {
			i, _ := slices.BinarySearch(v.window, t.created)
			v.window = slices.Insert(v.window, i, t.created)
		}
		v.mark = max(v.mark, t.created)
	}
}

// forgetFinished drops what the view thought pending and a full listing
// of the pending tasks (rows) did not show: it finished. Only tasks known
// before the listing are judged. The caller holds v.mu.
func (v *taskView) forgetFinished(rows []taskRow, before map[int]bool) {
	listed := make(map[int]bool, len(rows))
	for _, r := range rows {
		listed[r.task.ID] = true
	}
	for id, t := range v.tasks {
		if before[id] && t.pending() && !listed[id] {
			v.setState(t, taskGone, nil)
		}
	}
}

// setState records a task's state. The caller holds v.mu.
func (v *taskView) setState(t *viewTask, state int, f *Fault) {
	t.state, t.fault = state, f
	if !t.pending() && t.finalAt == 0 {
		t.finalAt = v.seq
	}
}

// taskGone is the state of a task that finished without the view seeing
// how.
const taskGone = -1

// prune forgets the finished tasks older than the margin. The caller
// holds v.mu.
func (v *taskView) prune() {
	floor := v.mark - viewMargin.Microseconds()
	if floor-v.floor < time.Second.Microseconds() {
		return // not yet worth a walk over every task
	}
	v.floor = floor
	i, _ := slices.BinarySearch(v.window, v.floor+1)
	v.window = v.window[i:]
	for id, t := range v.tasks {
		if t.pending() || t.created == 0 || t.created > v.floor {
			continue
		}
		delete(v.tasks, id)
		k := target{t.tagID, t.buildID}
		v.byTarget[k] = slices.DeleteFunc(v.byTarget[k], func(x *viewTask) bool { return x == t })
		if len(v.byTarget[k]) == 0 {
			delete(v.byTarget, k)
		}
	}
}

// note records what a look or a poll saw of a task's state. The caller
// holds v.mu.
func (v *taskView) note(id, state int, f *Fault) {
	if t := v.tasks[id]; t != nil {
		v.setState(t, state, f)
	}
}

// noteStarted records a task that tagBuild just made, until the hub lists
// it. The caller holds v.mu.
func (v *taskView) noteStarted(id int, tagID, buildID int64) {
	if v.tasks[id] != nil || tagID == 0 || buildID == 0 {
		return
	}
	t := &viewTask{id: id, tagID: tagID, buildID: buildID, state: TaskFree}
	v.tasks[id] = t
	k := target{tagID, buildID}
	v.byTarget[k] = append(v.byTarget[k], t)
}

// forTarget returns copies of the tasks known for a tag and build, oldest
// first.
func (v *taskView) forTarget(tagID, buildID int64) []viewTask {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []viewTask
	for _, t := range v.byTarget[target{tagID, buildID}] {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b viewTask) int { return a.id - b.id })
	return out
}

// countTagTasks is listTasks counting our top-level tagBuild tasks, in
// any state, created strictly between lo and hi (microseconds).
func countTagTasks(uid int64, lo, hi int64) Call {
	opts := map[string]any{"method": "tagBuild", "owner": uid, "parent": nil,
		"createdAfter": epoch(lo), "createdBefore": epoch(hi)}
	return Call{Method: "listTasks", Params: []any{opts, map[string]any{"countOnly": 1}}}
}

// epoch is microseconds as the epoch float listTasks takes.
func epoch(us int64) float64 { return float64(us) / 1e6 }

// micros is an epoch float create_ts in whole microseconds.
func micros(ts float64) int64 { return int64(math.Round(ts * 1e6)) }
