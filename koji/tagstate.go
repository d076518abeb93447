package koji

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// TagTarget is one build and tag that tagBuild would be asked for. For
// TagStates, a target with no Tag asks only which tags the build is in
// (TagState.Tags), for an untag.
type TagTarget struct {
	Tag, NVR string
	// From, when set, makes the tagging a move out of that tag
	// (tagBuild's fromtag): one task, the hub's policy sees operation
	// "move". For TagStates the move is done when the state is Tagged
	// and not InTag(From).
	From string
	// Started, when not 0, is a tagBuild task of ours for the target:
	// when the build is in the tag with no task pending, that task is
	// asked about first, in the same multiCall, and named when it CLOSED,
	// instead of searching the listing's history for the task.
	Started int
}

// Task is a tagBuild task as far as tagging is concerned.
type Task struct {
	ID    int
	State int
	// Fault is what a FAILED task failed with.
	Fault *Fault
}

// Pending reports a task still FREE, ASSIGNED or OPEN.
func (t *Task) Pending() bool {
	return t.State == TaskFree || t.State == TaskAssigned || t.State == TaskOpen
}

// AlreadyTagged reports a task that failed because the build was in the
// tag when it ran (TagError "build N already tagged (T)", or the unique
// violation two builders running duplicates at once get).
func (t *Task) AlreadyTagged() bool {
	if t.State != TaskFailed || t.Fault == nil {
		return false
	}
	switch t.Fault.Code {
	case CodeTagError:
		return containsFold(t.Fault.String, "already tagged")
	case CodeUnparsable:
		return containsFold(t.Fault.String, "tag_listing_build_id_tag_id_active_key")
	}
	return false
}

// TagState is what the hub shows about one target before tagBuild.
type TagState struct {
	TagTarget
	// Tagged: the tag listing has the build (the truth, koji.md).
	Tagged bool
	// Task is a tagBuild task of the logged-in user for the target: the
	// oldest pending one (so that every process that looks agrees on it),
	// or, when Tagged and none is pending, the newest that CLOSED within
	// FinishedWindow. Nil when there is none.
	Task *Task
	// Tags are the tags the build is in (not inherited), sorted, as
	// the same listing showed them: whether an untag or a move is still
	// to be done, without another request.
	Tags []string
}

// InTag reports whether the build was in tag when TagStates looked.
func (s TagState) InTag(tag string) bool {
	_, found := slices.BinarySearch(s.Tags, tag)
	return found
}

// FinishedWindow is how far back TagStates looks for the CLOSED task of a
// build already in its tag, to name it.
const FinishedWindow = 6 * time.Hour

// TagStates tells, for each target, whether the build is in the tag and
// which tagBuild task of ours is pending for it. It asks in the
// multiCall of the next refresh of the client's view of our tasks (see
// look), after the refresh: the tag and build ids it does not remember,
// the state of each task the view knows for a target (a Started one
// included), then the build's tag listing. In that order a task that
// finishes between the two is seen either pending or as the listing.
// Only a task the view knows but did not see in that order (a build
// looked at for the first time) costs one more multiCall, and only when
// a build is already tagged and no task of ours in the view explains it
// does it look further, for the CLOSED task that tagged it
// (nameTaggers).
func (c *Client) TagStates(ctx context.Context, targets []TagTarget) ([]TagState, error) {
	var tags, nvrs []string
	seen := map[string]bool{}
	for _, t := range targets {
		if !seen["t:"+t.Tag] && t.Tag != "" {
			seen["t:"+t.Tag] = true
			tags = append(tags, t.Tag)
		}
		if !seen["b:"+t.NVR] {
			seen["b:"+t.NVR] = true
			nvrs = append(nvrs, t.NVR)
		}
	}
	var calls []Call
	// Each call's place in the answer, and the id asked for.
	type idCall struct {
		tag  bool // getTag, else getBuild
		name string
		at   int
	}
	var idCalls []idCall
	tagID := map[string]int64{}
	for _, t := range tags {
		if id, ok := c.ids.Get("t:" + t); ok {
			tagID[t] = id
			continue
		}
		idCalls = append(idCalls, idCall{true, t, len(calls)})
		calls = append(calls, Call{Method: "getTag", Params: []any{t}})
	}
	buildID := map[string]int64{}
	for _, n := range nvrs {
		if id, ok := c.ids.Get("b:" + n); ok {
			buildID[n] = id
			continue
		}
		idCalls = append(idCalls, idCall{false, n, len(calls)})
		calls = append(calls, Call{Method: "getBuild", Params: []any{n}})
	}
	checkAt := map[int]int{}
	check := func(id int) {
		if _, ok := checkAt[id]; !ok {
			checkAt[id] = len(calls)
			calls = append(calls, Call{Method: "getTaskInfo", Params: []any{id}})
		}
	}
	for _, t := range targets {
		tid, bid := tagID[t.Tag], buildID[t.NVR]
		if t.Tag == "" {
			continue
		}
		if t.Started != 0 {
			c.view.mu.Lock()
			c.view.noteStarted(t.Started, tid, bid)
			c.view.mu.Unlock()
		}
		for _, vt := range c.view.forTarget(tid, bid) {
			// A task never listed yet (one we just started) is
			// listed by the refresh this look rides on, before the
			// listing.
			if vt.pending() && vt.created != 0 {
				check(vt.id)
			}
		}
	}
	listAt := map[string]int{}
	for _, n := range nvrs {
		listAt[n] = len(calls)
		calls = append(calls, Call{Method: "listTags", Params: []any{wire.Kwargs{"build": n}}})
	}
	ans := c.look(ctx, calls)
	if ans.err != nil {
		return nil, ans.err
	}
	res := ans.res
	for _, ic := range idCalls {
		r := res[ic.at]
		method, key, ids := "getBuild", "b:"+ic.name, buildID
		if ic.tag {
			method, key, ids = "getTag", "t:"+ic.name, tagID
		}
		if r.Err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, ic.name, r.Err)
		}
		id := idOf(r.Value)
		ids[ic.name] = id
		if id != 0 {
			// An unknown build or tag is asked for again: it may be
			// made in the meantime.
			c.ids.Add(key, id)
		}
	}
	for _, t := range targets {
		if t.Started != 0 && t.Tag != "" {
			c.view.mu.Lock()
			c.view.noteStarted(t.Started, tagID[t.Tag], buildID[t.NVR])
			c.view.mu.Unlock()
		}
	}
	// The state of each task as seen before the listing: listed by the
	// refresh, or asked for in the look. The view may know better by
	// now (a late task listed after the look's calls), but only a state
	// seen before the listing agrees with it.
	seenBefore := maps.Clone(ans.fresh)
	maps.Copy(seenBefore, c.noteInfos(res, checkAt))
	listed := listings(res, listAt)
	// Tasks for a target not seen before its listing (a build looked at
	// for the first time, a task found late), unless the view knew them
	// finished before this refresh: their state and the listing again.
	var unseen []int
	again := map[string]bool{}
	for _, t := range targets {
		for _, vt := range c.view.forTarget(tagID[t.Tag], buildID[t.NVR]) {
			_, seen := seenBefore[vt.id]
			if !seen && (vt.pending() || vt.finalAt >= ans.seq) {
				unseen = append(unseen, vt.id)
				again[t.NVR] = true
			}
		}
	}
	if len(unseen) > 0 {
		calls, checkAt, listAt = calls[:0], map[int]int{}, map[string]int{}
		for _, id := range unseen {
			check(id)
		}
		for n := range again {
			listAt[n] = len(calls)
			calls = append(calls, Call{Method: "listTags", Params: []any{wire.Kwargs{"build": n}}})
		}
		res, err := c.MultiCall(ctx, calls)
		if err != nil {
			return nil, err
		}
		maps.Copy(seenBefore, c.noteInfos(res, checkAt))
		for n, l := range listings(res, listAt) {
			listed[n] = l
		}
	}
	out := make([]TagState, len(targets))
	var unexplained []int
	for i, t := range targets {
		out[i] = TagState{TagTarget: t, Tagged: listed[t.NVR][t.Tag], Tags: slices.Sorted(maps.Keys(listed[t.NVR]))}
		if t.Tag == "" {
			continue
		}
		known := c.view.forTarget(tagID[t.Tag], buildID[t.NVR])
		for j, vt := range known {
			if st, ok := seenBefore[vt.id]; ok {
				known[j].state = st
			}
		}
		// The oldest pending task, so that every process agrees on it;
		// else, for a build in its tag, the newest that CLOSED.
		for _, vt := range known {
			if vt.pending() {
				out[i].Task = &Task{ID: vt.id, State: vt.state, Fault: vt.fault}
				break
			}
		}
		if out[i].Tagged && out[i].Task == nil {
			for _, vt := range slices.Backward(known) {
				if vt.state == TaskClosed {
					out[i].Task = &Task{ID: vt.id, State: vt.state}
					break
				}
			}
		}
		if out[i].Tagged && out[i].Task == nil {
			unexplained = append(unexplained, i)
		}
	}
	if len(unexplained) == 0 {
		return out, nil
	}
	uid, uname, err := c.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.nameTaggers(ctx, uid, uname, out, unexplained, tagID, buildID); err != nil {
		return nil, err
	}
	return out, nil
}

// noteInfos gives the view the getTaskInfo answers at checkAt, and
// returns the states they gave.
func (c *Client) noteInfos(res []CallResult, checkAt map[int]int) map[int]int {
	c.view.mu.Lock()
	defer c.view.mu.Unlock()
	states := make(map[int]int, len(checkAt))
	for id, at := range checkAt {
		r := res[at]
		if r.Err != nil {
			continue
		}
		st := taskGone // no such task
		if m, ok := r.Value.(map[string]any); ok {
			st = int(intOf(m["state"]))
		}
		c.view.note(id, st, nil)
		states[id] = st
	}
	return states
}

// listings reads the listTags answers at listAt: per NVR, the tags it is
// in. An unknown build is in none (tagBuild reports it).
func listings(res []CallResult, listAt map[string]int) map[string]map[string]bool {
	listed := map[string]map[string]bool{}
	for n, at := range listAt {
		listed[n] = map[string]bool{}
		lt := res[at]
		if lt.Err != nil {
			continue
		}
		rows, _ := lt.Value.([]any)
		for _, row := range rows {
			if m, ok := row.(map[string]any); ok {
				if name, ok := m["name"].(string); ok {
					listed[n][name] = true
				}
			}
		}
	}
	return listed
}

// nameTaggers finds, for the targets at idx (builds in their tags with no
// pending task of ours), the CLOSED task of ours that made the listing,
// when the listing is ours and within FinishedWindow. The listing's time
// and creator come first (queryHistory, one multiCall), then our tasks
// that ran across it (start <= listing <= completion, koji.md; one
// multiCall): a few rows however many tasks the hub closed in the window,
// where listing them all made every such look cost a reply growing with
// the hub's traffic.
func (c *Client) nameTaggers(ctx context.Context, uid int64, uname string, out []TagState, idx []int, tagID, buildID map[string]int64) error {
	calls := make([]Call, 0, len(idx))
	for _, i := range idx {
		calls = append(calls, Call{Method: "queryHistory", Params: []any{wire.Kwargs{
			"tables": []any{"tag_listing"}, "build": out[i].NVR, "tag": out[i].Tag}}})
	}
	res, err := c.MultiCall(ctx, calls)
	if err != nil {
		return err
	}
	since := float64(time.Now().Add(-FinishedWindow).UnixNano()) / 1e9
	var look []int
	calls = calls[:0]
	for j, i := range idx {
		if res[j].Err != nil {
			return fmt.Errorf("queryHistory %s in %s: %w", out[i].NVR, out[i].Tag, res[j].Err)
		}
		ts, by, ok := listedAt(res[j].Value)
		if !ok || ts < since || by != uname {
			// Listed by someone else (the creator is the task's owner):
			// no task of ours made it.
			continue
		}
		// The hub compares strictly: a millisecond either side. The
		// listing, the task's start and its completion are each stamped
		// by a transaction of their own, milliseconds apart at least, so
		// the margin loses nothing and keeps out the tasks that ran just
		// before or after.
		calls = append(calls, listTagTasks(uid, []any{TaskClosed}, map[string]any{"startedBefore": ts + 1e-3, "completeAfter": ts - 1e-3}))
		look = append(look, i)
	}
	if len(look) == 0 {
		return nil
	}
	if res, err = c.MultiCall(ctx, calls); err != nil {
		return err
	}
	for j, i := range look {
		if res[j].Err != nil {
			return fmt.Errorf("listTasks: %w", res[j].Err)
		}
		closed, err := taskRows(res[j].Value)
		if err != nil {
			return err
		}
		out[i].Task = matchTask(closed, tagID[out[i].Tag], buildID[out[i].NVR], false)
	}
	return nil
}

// listedAt is the create_ts and creator_name of the active listing in a
// queryHistory answer.
func listedAt(v any) (float64, string, bool) {
	m, _ := v.(map[string]any)
	rows, _ := m["tag_listing"].([]any)
	for _, r := range rows {
		row, _ := r.(map[string]any)
		if active, _ := row["active"].(bool); !active {
			continue
		}
		if ts, ok := row["create_ts"].(float64); ok {
			by, _ := row["creator_name"].(string)
			return ts, by, true
		}
	}
	return 0, "", false
}

// listTagTasks is listTasks for our own top-level tagBuild tasks in the
// given states (nil: any), newest first, decoded.
func listTagTasks(uid int64, states []any, extra map[string]any) Call {
	opts := map[string]any{"method": "tagBuild", "owner": uid, "parent": nil, "decode": true}
	if states != nil {
		opts["state"] = states
	}
	for k, v := range extra {
		opts[k] = v
	}
	return Call{Method: "listTasks", Params: []any{opts, map[string]any{"order": "-id"}}}
}

type taskRow struct {
	task           Task
	tagID, buildID int64
	created        int64 // create_ts in microseconds
}

func taskRows(v any) ([]taskRow, error) {
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("koji: listTasks answered %T, want a list", v)
	}
	out := make([]taskRow, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		req, _ := m["request"].([]any)
		if len(req) < 2 {
			continue
		}
		r := taskRow{task: Task{ID: int(idOf(m)), State: int(intOf(m["state"]))}}
		r.tagID, r.buildID = intOf(req[0]), intOf(req[1])
		if ts, ok := m["create_ts"].(float64); ok {
			r.created = micros(ts)
		}
		if f, ok := m["result"].(map[string]any); ok {
			s, _ := f["faultString"].(string)
			r.task.Fault = &Fault{Code: int(intOf(f["faultCode"])), String: s}
		}
		out = append(out, r)
	}
	return out, nil
}

// matchTask finds the task for the ids among rows (newest first): the
// oldest one, or the newest.
func matchTask(rows []taskRow, tagID, buildID int64, oldest bool) *Task {
	if tagID == 0 || buildID == 0 {
		return nil
	}
	var found *Task
	for _, r := range rows {
		if r.tagID == tagID && r.buildID == buildID {
			t := r.task
			found = &t
			if !oldest {
				break
			}
		}
	}
	return found
}

// CancelTask cancels a task of ours, for a duplicate that lost a race
// before it ran.
func (c *Client) CancelTask(ctx context.Context, id int) error {
	if err := c.call(ctx, request{method: "cancelTask", params: []any{id}, auth: true}, nil); err != nil {
		return fmt.Errorf("cancelTask %d: %w", id, err)
	}
	return nil
}

func idOf(v any) int64 {
	m, _ := v.(map[string]any)
	return intOf(m["id"])
}

func intOf(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	}
	return 0
}

// TaskStates returns the states of tagBuild tasks, with the fault of
// those that FAILED, in one multiCall however many they are: nil for a
// task the hub does not know.
func (c *Client) TaskStates(ctx context.Context, ids []int) ([]*Task, error) {
	calls := make([]Call, 0, 2*len(ids))
	for _, id := range ids {
		calls = append(calls, Call{Method: "getTaskInfo", Params: []any{id}},
			Call{Method: "getTaskResult", Params: []any{id, false}})
	}
	res, err := c.MultiCall(ctx, calls)
	if err != nil {
		return nil, err
	}
	out := make([]*Task, len(ids))
	c.view.mu.Lock()
	defer c.view.mu.Unlock()
	for i, id := range ids {
		info, result := res[2*i], res[2*i+1]
		if info.Err != nil {
			return nil, fmt.Errorf("getTaskInfo %d: %w", id, info.Err)
		}
		m, ok := info.Value.(map[string]any)
		if !ok {
			continue
		}
		t := &Task{ID: id, State: int(intOf(m["state"]))}
		if f, ok := result.Value.(map[string]any); ok && t.State == TaskFailed {
			s, _ := f["faultString"].(string)
			t.Fault = &Fault{Code: int(intOf(f["faultCode"])), String: s}
		}
		c.view.note(id, t.State, t.Fault)
		out[i] = t
	}
	return out, nil
}

// userID is the id of the logged-in user, asked once per client.
func (c *Client) userID(ctx context.Context) (int64, error) {
	id, _, err := c.user(ctx)
	return id, err
}

// user is the logged-in user's id and name, asked for once.
func (c *Client) user(ctx context.Context) (int64, string, error) {
	c.mu.Lock()
	id, name := c.uid, c.uname
	c.mu.Unlock()
	if id != 0 {
		return id, name, nil
	}
	u, err := c.GetLoggedInUser(ctx)
	if err != nil {
		return 0, "", err
	}
	c.mu.Lock()
	c.uid, c.uname = int64(u.ID), u.Name
	c.mu.Unlock()
	return int64(u.ID), u.Name, nil
}

// containsFold reports whether the hub's text s mentions sub, in any case.
// Fault texts are all the hub gives to tell these cases apart.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
