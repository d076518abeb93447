package kojitest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// openFor is how long a tagBuild task stays OPEN on a builder (koji.md:
// about 40 ms).
const openFor = 40 * time.Millisecond

func (t *task) pending() bool {
	return t.state == taskFree || t.state == taskAssigned || t.state == taskOpen
}

// schedule runs the task as the hub's scheduler and a builder would: FREE
// until a builder takes it, ASSIGNED, OPEN for a moment, then CLOSED or
// FAILED. The caller holds h.mu.
func (h *Hub) schedule(tk *task, tagName, nvr string) {
	if h.closed {
		return
	}
	total := h.taskMin
	if h.taskMax > h.taskMin {
		total += rand.N(h.taskMax - h.taskMin)
	}
	if h.taskGap > 0 {
		// Builders finish tasks no closer together than the hub's
		// scheduler lets them: a burst queues.
		end := time.Now().Add(total)
		if next := h.lastEnd.Add(h.taskGap); next.After(end) {
			end = next
		}
		h.lastEnd = end
		total = time.Until(end)
	}
	open := min(openFor, total/4)
	assign := (total - open) / 2
	h.after(assign, func() {
		if tk.state == taskFree {
			tk.state = taskAssigned
			h.sendTask(tk, taskFree)
		}
	})
	h.after(total-open, func() {
		if tk.state == taskAssigned {
			tk.state, tk.started = taskOpen, dbNow()
			h.sendTask(tk, taskAssigned)
		}
	})
	h.after(total, func() { h.finishTagTask(tk, tagName, nvr) })
}

// after runs fn under h.mu once d has passed, unless the hub is closed
// first. The caller holds h.mu.
func (h *Hub) after(d time.Duration, fn func()) {
	h.wg.Add(1)
	h.timers = append(h.timers, time.AfterFunc(d, func() {
		defer h.wg.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		fn()
	}))
}

// finishTagTask is what a builder does with a tagBuild task. The caller
// holds h.mu.
func (h *Hub) finishTagTask(tk *task, tagName, nvr string) {
	// A cancelled task keeps the times of its cancelling: no builder ran it.
	if tk.state == taskCanceled {
		return
	}
	if tk.started.IsZero() {
		tk.started = dbNow()
	}
	// The listing is made while the task runs: start <= listing <= completion.
	old := tk.state
	defer func() {
		tk.done = dbNow()
		// After the tag's own message, as on a real hub.
		h.sendTask(tk, old)
	}()
	t := h.tags[tagName]
	force := truthy(tk.request[2])
	// A move untags first, strictly; a failure leaves both tags as they
	// were (one transaction).
	if tk.from != nil && !tk.from.has(nvr) {
		tk.state = taskFailed
		tk.fault = &wire.Fault{Code: 1003, String: fmt.Sprintf("build %s not in tag %s", nvr, tk.from.name)}
		return
	}
	if t.has(nvr) && !force {
		tk.state = taskFailed
		tk.fault = &wire.Fault{Code: 1003, String: fmt.Sprintf("build %s already tagged (%s)", nvr, tagName)}
		return
	}
	b := h.builds[nvr]
	if tk.from != nil {
		tk.from.remove(nvr, h.event(), tk.owner)
		h.sendTag(false, tk.from, b, tk.owner, force, true)
	}
	t.add(nvr, h.event(), tk.owner)
	tk.state = taskClosed
	// As on a real hub, the tag's message goes out when the builder's
	// call commits, before the task's own state change.
	h.sendTag(true, t, b, tk.owner, force, false)
}

// cancelTask cancels a pending task as the hub's cancelTask does: only
// its owner or an admin may (anyone else, anonymous included, gets 1004
// "Cannot cancel task, not owner"); the task goes to CANCELED with its
// completion time set and is never run; cancelling a task that already
// finished, or was cancelled, changes nothing and is no fault. It answers
// nil either way.
func (h *Hub) cancelTask(rc *reqCtx, args map[string]any) (any, *hubFault) {
	id, _ := args["task_id"].(int64)
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[int(id)]
	owner := rc.sess != nil && ok && t.owner == rc.sess.user
	admin := rc.sess != nil && slices.Contains(rc.sess.user.perms, "admin")
	switch {
	case !owner && !admin:
		return nil, fault(1004, "Cannot cancel task, not owner")
	case !ok:
		return nil, fault(1000, "No such task: %d", id)
	}
	if t.pending() {
		old := t.state
		t.state, t.done = taskCanceled, dbNow()
		h.sendTask(t, old)
	}
	return nil, nil
}

// Canceled returns the ids of the canceled tasks.
func (h *Hub) Canceled() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []int
	for id, t := range h.tasks {
		if t.state == taskCanceled {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// dbNow is the time as PostgreSQL keeps it, to the microsecond: what the
// hub compares listTasks' times with.
func dbNow() time.Time { return time.Now().Round(0).Truncate(time.Microsecond) }

// kojiTS is a time as the hub answers it, in whole microseconds as
// PostgreSQL keeps it.
func kojiTS(t time.Time) (str, ts any) {
	if t.IsZero() {
		return nil, nil
	}
	t = t.Truncate(time.Microsecond)
	return t.UTC().Format(kojiTime), float64(t.UnixMicro()) / 1e6
}

// taskRow is a task as listTasks and getTaskInfo answer it; decoded or
// not, the request and result are as koji.md describes.
func taskRow(t *task, decode, withResult bool) map[string]any {
	ct, cts := kojiTS(t.created)
	st, sts := kojiTS(t.started)
	dt, dts := kojiTS(t.done)
	var result any
	switch t.state {
	case taskClosed:
		result = []any{nil}
	case taskFailed:
		result = map[string]any{"faultCode": t.fault.Code, "faultString": t.fault.String}
	}
	var request any = slices.Clone(t.request)
	if !decode {
		request = encodeDoc(request)
		if result != nil {
			result = encodeDoc(result)
		}
	}
	row := map[string]any{
		"id": t.id, "method": "tagBuild", "state": t.state, "owner": t.owner.id,
		"request": request, "priority": 10, "weight": 1.0, "arch": "noarch",
		"channel_id": 1, "host_id": nil, "parent": nil, "label": nil,
		"waiting": nil, "awaited": nil,
		"create_time": ct, "create_ts": cts, "start_time": st, "start_ts": sts,
		"completion_time": dt, "completion_ts": dts,
	}
	if t.state != taskFree {
		row["host_id"] = 1
	}
	if withResult {
		row["owner_name"], row["owner_type"], row["result"] = t.owner.name, 0, result
	}
	return row
}

// encodeDoc is a value as the hub stores it undecoded: an XML-RPC document
// in a string.
func encodeDoc(v any) string {
	b, err := wire.EncodeResponse(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func (h *Hub) getTaskInfo(args map[string]any) (any, *hubFault) {
	id, ok := args["task_id"].(int64)
	if !ok {
		return nil, fault(1019, "task_id must be an integer")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[int(id)]
	if !ok {
		if truthy(args["strict"]) {
			return nil, fault(1000, "query returned no rows")
		}
		return nil, nil
	}
	row := taskRow(t, true, false)
	if !truthy(args["request"]) {
		delete(row, "request")
	}
	return row, nil
}

func (h *Hub) getTaskResult(args map[string]any) (any, *hubFault) {
	id, _ := args["taskId"].(int64)
	raise := true
	if v, ok := args["raise_fault"]; ok {
		raise = truthy(v)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[int(id)]
	switch {
	case !ok:
		return nil, fault(1000, "No such task: %d", id)
	case t.pending():
		return nil, fault(1000, "Task %d is not finished", id)
	case t.state == taskCanceled:
		return nil, fault(1000, "Task %d is canceled", id)
	case t.state == taskFailed && raise:
		return nil, &hubFault{*t.fault}
	case t.state == taskFailed:
		return map[string]any{"faultCode": t.fault.Code, "faultString": t.fault.String}, nil
	}
	return nil, nil
}

// dbError is how the hub reports a value the database refused: fault 1
// with the driver's exception text.
func dbError(class, msg string) *hubFault {
	return fault(1, "<class 'psycopg2.errors.%s'>: %s", class, msg)
}

// intFilter is one of listTasks' id filters: an int, a list of ints, or
// nil for IS NULL.
type intFilter struct {
	null bool
	ids  []int64
}

func (f intFilter) match(v int, isNull bool) bool {
	if f.null {
		return isNull
	}
	return !isNull && slices.Contains(f.ids, int64(v))
}

func parseIntFilter(v any) (intFilter, *hubFault) {
	switch x := v.(type) {
	case nil:
		return intFilter{null: true}, nil
	case int64:
		return intFilter{ids: []int64{x}}, nil
	case []any:
		var f intFilter
		for _, e := range x {
			n, ok := e.(int64)
			if !ok {
				return f, dbError("InvalidTextRepresentation", fmt.Sprintf("invalid input syntax for type integer: %q", fmt.Sprint(e)))
			}
			f.ids = append(f.ids, n)
		}
		return f, nil
	case string:
		return intFilter{}, dbError("InvalidTextRepresentation", fmt.Sprintf("invalid input syntax for type integer: %q", x))
	}
	return intFilter{}, dbError("SyntaxError", fmt.Sprintf("syntax error at or near %q", fmt.Sprint(v)))
}

// parseTime reads an epoch float or an ISO string, as listTasks takes.
func parseTime(v any) (time.Time, *hubFault) {
	switch x := v.(type) {
	case float64:
		// The hub reads it as a datetime: to the microsecond.
		return time.UnixMicro(int64(math.Round(x * 1e6))), nil
	case int64:
		return time.Unix(x, 0), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, nil
			}
		}
		return time.Time{}, dbError("InvalidDatetimeFormat", fmt.Sprintf("invalid input syntax for type timestamp with time zone: %q", x))
	}
	return time.Time{}, dbError("SyntaxError", fmt.Sprintf("syntax error at or near %q", fmt.Sprint(v)))
}

type taskFilter func(t *task) bool

// listTasks answers listTasks(opts, queryOpts) with the options of
// koji.md; keys it does not know are ignored, as the hub does.
func (h *Hub) listTasks(args map[string]any) (any, *hubFault) {
	opts, _ := args["opts"].(wire.Kwargs)
	if m, ok := args["opts"].(map[string]any); ok {
		opts = m
	}
	qopts, _ := args["queryOpts"].(map[string]any)
	if kw, ok := args["queryOpts"].(wire.Kwargs); ok {
		qopts = kw
	}
	var filters []taskFilter
	var after time.Time // the latest createdAfter
	decode := false
	for key, v := range opts {
		neg := strings.HasPrefix(key, "not_")
		name := strings.TrimPrefix(key, "not_")
		var f taskFilter
		switch name {
		case "method":
			if neg {
				continue
			}
			m, _ := v.(string)
			f = func(*task) bool { return m == "tagBuild" }
		case "state", "arch":
			list, ok := v.([]any)
			if !ok {
				return nil, dbError("SyntaxError", fmt.Sprintf("syntax error at or near %q", fmt.Sprint(v)))
			}
			if name == "state" {
				states := intFilter{}
				for _, e := range list {
					n, ok := e.(int64)
					if !ok {
						return nil, dbError("InvalidTextRepresentation", fmt.Sprintf("invalid input syntax for type integer: %q", fmt.Sprint(e)))
					}
					states.ids = append(states.ids, n)
				}
				f = func(t *task) bool { return states.match(t.state, false) }
			} else {
				f = func(*task) bool { return slices.Contains(list, any("noarch")) }
			}
		case "owner", "host_id", "channel_id", "parent":
			idf, bad := parseIntFilter(v)
			if bad != nil {
				return nil, bad
			}
			switch name {
			case "owner":
				f = func(t *task) bool { return idf.match(t.owner.id, false) }
			case "host_id":
				f = func(t *task) bool { return idf.match(1, t.state == taskFree) }
			case "channel_id":
				f = func(*task) bool { return idf.match(1, false) }
			case "parent":
				f = func(*task) bool { return idf.match(0, true) }
			}
		case "decode":
			if !neg {
				decode = truthy(v)
			}
			continue
		case "createdBefore", "createdAfter", "startedBefore", "startedAfter",
			"completeBefore", "completeAfter", "completedBefore", "completedAfter":
			if neg {
				continue
			}
			at, bad := parseTime(v)
			if bad != nil {
				return nil, bad
			}
			if name == "createdAfter" && at.After(after) {
				after = at
			}
			before := strings.HasSuffix(name, "Before")
			field := func(t *task) time.Time { return t.created }
			switch {
			case strings.HasPrefix(name, "started"):
				field = func(t *task) time.Time { return t.started }
			case strings.HasPrefix(name, "complete"):
				field = func(t *task) time.Time { return t.done }
			}
			f = func(t *task) bool {
				ft := field(t)
				if ft.IsZero() {
					return false // NULL compares to nothing
				}
				if before {
					return ft.Before(at)
				}
				return ft.After(at)
			}
		default:
			continue // the hub ignores keys it does not know
		}
		if neg {
			inner := f
			f = func(t *task) bool { return !inner(t) }
		}
		filters = append(filters, f)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var rows []*task
	keep := func(t *task) {
		if !slices.ContainsFunc(filters, func(f taskFilter) bool { return !f(t) }) {
			rows = append(rows, t)
		}
	}
	if after.IsZero() {
		for _, t := range h.tasks {
			keep(t)
		}
	} else {
		// As the index the hub lacks would: a task made by then was
		// created by then, and is left out.
		i, _ := slices.BinarySearchFunc(h.made, after, func(t *task, at time.Time) int {
			if t.made.After(at) {
				return 1
			}
			return -1
		})
		for _, t := range h.made[i:] {
			keep(t)
		}
	}
	// Without an order the database answers in no set order; the map's
	// order stands in for that.
	switch order, _ := qopts["order"].(string); order {
	case "":
	case "id":
		slices.SortFunc(rows, func(a, b *task) int { return a.id - b.id })
	case "-id":
		slices.SortFunc(rows, func(a, b *task) int { return b.id - a.id })
	default:
		return nil, fault(1, "<class 'Exception'>: Invalid order: %s", order)
	}
	if n, ok := qopts["offset"].(int64); ok {
		rows = rows[min(int(n), len(rows)):]
	}
	if n, ok := qopts["limit"].(int64); ok && int(n) < len(rows) {
		rows = rows[:n]
	}
	if truthy(qopts["countOnly"]) {
		return len(rows), nil
	}
	out := make([]any, len(rows))
	for i, t := range rows {
		out[i] = taskRow(t, decode, true)
	}
	return out, nil
}
