package kojitest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Event is one message the hub's messaging plugins send about a change,
// in both shapes a consumer meets: protonmsg's (Brew on UMB, any Koji
// with a broker) and koji-fedoramessaging's (Fedora).
type Event struct {
	// Seq numbers the hub's changes in the order they were committed; a
	// message sent again keeps its number.
	Seq int
	// Resent marks a message sent again (WithEventDuplicates), as the
	// hub's database queue does after a broker outage.
	Resent bool

	// Address is protonmsg's address without the topic prefix:
	// "build.complete", "build.tag", "build.untag", ...
	Address string
	// Properties are protonmsg's application properties (type, name,
	// version, release, and tag and user, or attribute, old and new).
	Properties map[string]any
	// Body is protonmsg's JSON body: {"tag", "build", "user", "force"}
	// for a tag or untag, {"attribute", "old", "new", "info", "btypes"}
	// for a state change.
	Body []byte

	// Topic is koji-fedoramessaging's topic without the environment
	// prefix: "buildsys.tag", "buildsys.untag",
	// "buildsys.build.state.change".
	Topic string
	// Fedora is its flat JSON body.
	Fedora []byte
}

// WithEvents makes the hub send its messages to fn, as a real hub's
// plugins do after the change is committed: build state changes
// (ImportBuild, SetBuildState) and every tag and untag, those made by
// tagBuild tasks (whose user is the task's owner: mts's own tags come
// back; a move sends build.untag, then build.tag), tagBuildBypass,
// untagBuild, and the Tag and Untag helpers. fn is called from one
// goroutine of the hub's, one message at a time, in commit order, never
// while the hub is locked (fn may call the hub); the hub's changes do
// not wait for it, so, as on a real hub, a consumer may get a task's
// build.tag before or after a poll sees the task CLOSED. Messages still
// queued when the test ends are delivered before the hub stops.
func WithEvents(fn func(Event)) Option {
	return func(h *Hub) { h.events = &eventQueue{fn: fn} }
}

// WithTaskEvents adds, to WithEvents, the messages of tagBuild tasks'
// state changes: task.free when tagBuild made one, task.assigned,
// task.open, then task.closed (after the task's build.tag), task.failed
// or task.canceled. Properties are type TaskStateChange, attribute, id,
// method, parent, and old and new as state names; the body carries them
// with the task's info. Fedora's shape is topic buildsys.task.state.change.
func WithTaskEvents() Option { return func(h *Hub) { h.taskEvents = true } }

// WithEventDuplicates makes every n-th message go out a second time,
// after the message that follows it (Resent set): a consumer must
// tolerate duplicates and a change of order.
func WithEventDuplicates(n int) Option { return func(h *Hub) { h.dupEvery = n } }

// eventQueue delivers messages to fn in order, from a goroutine of its
// own, so that the hub never waits for a consumer while it holds h.mu.
type eventQueue struct {
	fn func(Event)

	mu      sync.Mutex
	q       []Event
	held    *Event // a duplicate waiting for the next message
	sent    int
	closing bool
	wake    chan struct{}
	done    chan struct{}
}

func (e *eventQueue) start() {
	e.wake = make(chan struct{}, 1)
	e.done = make(chan struct{})
	go e.run()
}

func (e *eventQueue) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		q := e.q
		e.q = nil
		closing := e.closing
		e.mu.Unlock()
		for _, ev := range q {
			e.fn(ev)
		}
		if len(q) == 0 && closing {
			return
		}
		if len(q) == 0 {
			<-e.wake
		}
	}
}

// push queues ev, and a held duplicate after it.
func (e *eventQueue) push(ev Event, dupEvery int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.q = append(e.q, ev)
	if e.held != nil {
		e.q = append(e.q, *e.held)
		e.held = nil
	}
	e.sent++
	if dupEvery > 0 && e.sent%dupEvery == 0 {
		d := ev
		d.Resent = true
		e.held = &d
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// stop delivers what is queued (a held duplicate too) and ends the
// goroutine.
func (e *eventQueue) stop() {
	e.mu.Lock()
	if e.held != nil {
		e.q = append(e.q, *e.held)
		e.held = nil
	}
	e.closing = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.done
}

// send queues a message. The caller holds h.mu.
func (h *Hub) send(ev Event) {
	if h.events == nil {
		return
	}
	h.nextSeq++
	ev.Seq = h.nextSeq
	h.events.push(ev, h.dupEvery)
}

// json encodes a message the hub built itself.
func (h *Hub) json(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		h.tb.Errorf("kojitest: cannot encode a message: %v", err)
	}
	return b
}

// sendTag sends build.tag (tagged) or build.untag for b in t by u. The
// caller holds h.mu.
func (h *Hub) sendTag(tagged bool, t *tag, b *build, u *user, force, strict bool) {
	if h.events == nil || b == nil {
		return
	}
	addr, typ, topic := "build.tag", "Tag", "buildsys.tag"
	body := map[string]any{"tag": tagInfo(t), "build": buildInfo(b), "user": userInfo(u), "force": force}
	if !tagged {
		addr, typ, topic = "build.untag", "Untag", "buildsys.untag"
		body["strict"] = strict
	}
	h.send(Event{
		Address: addr,
		Properties: map[string]any{"type": typ, "tag": t.name, "name": b.name, "version": b.ver,
			"release": b.rel, "user": u.name},
		Body:  h.json(body),
		Topic: topic,
		Fedora: h.json(map[string]any{
			"build_id": b.id, "name": b.name, "version": b.ver, "release": b.rel, "owner": b.owner(),
			"tag": t.name, "tag_id": t.id, "user": u.name, "instance": "primary"}),
	})
}

// sendState sends build.<state> for b's change from old (nil for a new
// build) to its state now, with btypes as the plugin saw them. The
// caller holds h.mu.
func (h *Hub) sendState(b *build, old any, btypes map[string]any) {
	if h.events == nil {
		return
	}
	name := strings.ToLower(buildStateName(b.state))
	var oldName any
	if o, ok := old.(int); ok {
		oldName = buildStateName(o)
	}
	info := buildInfo(b)
	h.send(Event{
		Address: "build." + name,
		Properties: map[string]any{"type": "BuildStateChange", "name": b.name, "version": b.ver,
			"release": b.rel, "attribute": "state", "old": oldName, "new": buildStateName(b.state)},
		Body:  h.json(map[string]any{"attribute": "state", "old": old, "new": b.state, "info": info, "btypes": btypes}),
		Topic: "buildsys.build.state.change",
		Fedora: h.json(map[string]any{
			"build_id": b.id, "name": b.name, "version": b.ver, "release": b.rel,
			"epoch": info["epoch"], "owner": b.owner(), "attribute": "state", "old": old, "new": b.state,
			"task_id": info["task_id"], "task": nil, "request": nil, "instance": "primary",
			"creation_time": isoTime(info["creation_ts"]), "completion_time": isoTime(info["completion_ts"]),
			"url": fmt.Sprintf("%s/koji/buildinfo?buildID=%d", strings.TrimSuffix(h.URL(), "/kojihub"), b.id),
		}),
	})
}

// taskStateName is Koji's name of a task state code.
func taskStateName(code int) string {
	return [...]string{"FREE", "OPEN", "CLOSED", "CANCELED", "ASSIGNED", "FAILED"}[code]
}

// sendTask sends task.<state> for tk's change from old (-1 for a new
// task). The caller holds h.mu.
func (h *Hub) sendTask(tk *task, old int) {
	if h.events == nil || !h.taskEvents {
		return
	}
	var oldName any
	if old >= 0 {
		oldName = taskStateName(old)
	}
	newName := taskStateName(tk.state)
	info := taskRow(tk, true, false)
	if tk.state == taskClosed || tk.state == taskFailed {
		info["result"] = taskRow(tk, true, true)["result"]
	}
	h.send(Event{
		Address: "task." + strings.ToLower(newName),
		Properties: map[string]any{"type": "TaskStateChange", "attribute": "state", "id": tk.id,
			"method": "tagBuild", "parent": nil, "old": oldName, "new": newName},
		Body:  h.json(map[string]any{"attribute": "state", "old": oldName, "new": newName, "info": info}),
		Topic: "buildsys.task.state.change",
		Fedora: h.json(map[string]any{"id": tk.id, "method": "tagBuild", "owner": tk.owner.name,
			"attribute": "state", "old": oldName, "new": newName, "info": info, "instance": "primary"}),
	})
}

// isoTime is an epoch float as koji-fedoramessaging writes times.
func isoTime(ts any) any {
	f, ok := ts.(float64)
	if !ok {
		return nil
	}
	return time.UnixMicro(int64(f * 1e6)).UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

// ImportBuild adds a complete build as a content generator imports one
// (how MBS puts a module build into Koji, how OSBS imports an image) and
// sends its build.complete as a real hub does: old null, and btypes {}
// because the build's types are recorded after the callback ran.
func (h *Hub) ImportBuild(b Build) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	nb := h.addBuildLocked(b)
	nb.state = 1
	h.sendState(nb, nil, map[string]any{})
	return nb.id
}

// SetBuildState moves a build to state (0 building, 1 complete, 2
// deleted, 3 failed, 4 canceled) and sends the change, with the build's
// types.
func (h *Hub) SetBuildState(nvr string, state int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.builds[nvr]
	if b == nil {
		h.tb.Fatalf("kojitest: no build %q", nvr)
	}
	if b.state == state {
		return
	}
	old := b.state
	b.state = state
	h.sendState(b, old, b.typeInfo())
}
