package koji_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestTagStatesFollowTheTask walks one tagBuild task through the
// stand-in's scheduler: pending, then CLOSED with the build in the tag;
// a duplicate FAILS "already tagged".
func TestTagStatesFollowTheTask(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskTiming(300*time.Millisecond, 600*time.Millisecond))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	targets := []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}}
	st, err := c.TagStates(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Tagged || s.Task != nil {
			t.Fatalf("before tagBuild: %+v", s)
		}
	}
	id, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if st, err = c.TagStates(ctx, targets); err != nil {
		t.Fatal(err)
	}
	if st[0].Tagged || st[0].Task == nil || st[0].Task.ID != id || !st[0].Task.Pending() || st[1].Task != nil {
		t.Fatalf("while pending: %+v %+v", st[0], st[1])
	}
	if got := hub.Tagged(tagName); len(got) != 0 {
		t.Fatalf("tagged before the task ran: %v", got)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err = c.TagStates(ctx, targets); err != nil {
		t.Fatal(err)
	}
	if !st[0].Tagged || st[0].Task == nil || st[0].Task.ID != id || st[0].Task.State != koji.TaskClosed {
		t.Fatalf("after the task: %+v (task %+v)", st[0], st[0].Task)
	}
	dup, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.TaskStates(ctx, []int{dup, 999999})
	if err != nil {
		t.Fatal(err)
	}
	if tasks[1] != nil {
		t.Fatalf("unknown task = %+v", tasks[1])
	}
	task := tasks[0]
	if !task.AlreadyTagged() || !strings.Contains(task.Fault.String, "already tagged") {
		t.Fatalf("duplicate task = %+v (fault %+v)", task, task.Fault)
	}
	if _, err := c.GetTaskResult(ctx, dup); koji.FaultCode(err) != koji.CodeTagError {
		t.Fatalf("getTaskResult of the duplicate: %v", err)
	}
	if _, err := c.GetTaskResult(ctx, id); err != nil {
		t.Fatalf("getTaskResult of the first: %v", err)
	}
}

// TestListTasksAsTheHub checks the stand-in's listTasks against what
// koji.md records of the real hub.
func TestListTasksAsTheHub(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	id, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	call := func(opts, qopts map[string]any) koji.CallResult {
		t.Helper()
		res, err := c.MultiCall(ctx, []koji.Call{{Method: "listTasks", Params: []any{opts, qopts}}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	tests := []struct {
		name  string
		opts  map[string]any
		qopts map[string]any
		rows  int
		fault string
	}{
		{"unknown keys ignored", map[string]any{"tag": "x", "host": "y"}, map[string]any{}, 1, ""},
		{"pending of ours", map[string]any{"method": "tagBuild", "state": []any{0, 1, 4}, "parent": nil, "decode": true}, map[string]any{"order": "-id"}, 1, ""},
		{"closed", map[string]any{"state": []any{2}}, map[string]any{}, 0, ""},
		{"owner by name", map[string]any{"owner": "mts"}, map[string]any{}, 0, "invalid input syntax for type integer"},
		{"state not a list", map[string]any{"state": 0}, map[string]any{}, 0, "syntax error at or near"},
		{"bad order", map[string]any{}, map[string]any{"order": "bogus"}, 0, "Invalid order: bogus"},
		{"created after now", map[string]any{"createdAfter": float64(time.Now().Add(time.Minute).Unix())}, map[string]any{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(tt.opts, tt.qopts)
			if tt.fault != "" {
				var f *koji.Fault
				if !errors.As(r.Err, &f) || f.Code != 1 || !strings.Contains(f.String, tt.fault) {
					t.Fatalf("err = %v, want fault 1 with %q", r.Err, tt.fault)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			rows, _ := r.Value.([]any)
			if len(rows) != tt.rows {
				t.Fatalf("%d rows, want %d: %v", len(rows), tt.rows, rows)
			}
		})
	}
	r := call(map[string]any{"decode": true}, map[string]any{})
	row := r.Value.([]any)[0].(map[string]any)
	req, _ := row["request"].([]any)
	if len(req) != 4 || req[2] != false || req[3] != nil || row["id"] != int64(id) || row["owner_name"] != "mts" || row["result"] != nil {
		t.Fatalf("decoded row = %v", row)
	}
	r = call(map[string]any{}, map[string]any{})
	if _, ok := r.Value.([]any)[0].(map[string]any)["request"].(string); !ok {
		t.Fatalf("undecoded request is not a string: %v", r.Value)
	}
	if _, err := c.GetTaskResult(ctx, id); !strings.Contains(err.Error(), "is not finished") {
		t.Fatalf("getTaskResult of a pending task: %v", err)
	}
}

// TestHopeless: what cannot get better is not retried, and says why.
func TestHopeless(t *testing.T) {
	cfg := &koji.Config{Server: "https://mts-no-such-host.invalid/kojihub", Timeout: 5 * time.Second, MaxRetries: 30, RetryInterval: 20 * time.Second}
	c := newClient(t, cfg)
	start := time.Now()
	err := koji.Retry(ctxT(t), cfg, func(int, time.Duration, error) { t.Error("retried") }, func(ctx2 context.Context) error {
		_, err := c.GetTag(ctx2, tagName)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "mts-no-such-host.invalid") || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// TestTaskTiming: the stand-in's tasks go FREE, ASSIGNED, OPEN, CLOSED,
// within the timing asked for, and the build is in the tag only once the
// task CLOSED.
func TestTaskTiming(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskTiming(400*time.Millisecond, 800*time.Millisecond))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	start := time.Now()
	id, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	seen := []int{}
	for {
		state, _ := hub.TaskState(id)
		if len(seen) == 0 || seen[len(seen)-1] != state {
			seen = append(seen, state)
			if tagged := len(hub.Tagged(tagName)) == 1; tagged != (state == koji.TaskClosed) {
				t.Fatalf("state %d with the build tagged = %v", state, tagged)
			}
		}
		if state == koji.TaskClosed {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	if seen[0] != koji.TaskFree || !slices.Contains(seen, koji.TaskAssigned) || took < 400*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("states %v, closed after %v", seen, took)
	}
}

// TestTagStatesNameTheTaggerAmongMany: a build in its tag is named with
// the CLOSED task of ours that made its listing, which the view of our
// tasks knows; a build someone else tagged is tagged with no task of
// ours, which one look at the listing's history tells.
func TestTagStatesNameTheTaggerAmongMany(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(0))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	id, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	// Tasks of ours that closed later, for other builds.
	const later = 30
	for i := range later {
		other := fmt.Sprintf("nodejs-20-%d.x", i)
		hub.AddBuild(kojitest.Build{NVR: other})
		if _, err := c.TagBuild(ctx, tagName, other); err != nil {
			t.Fatal(err)
		}
	}
	hub.Tag(tagName, develN)
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := c.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}})
	if err != nil {
		t.Fatal(err)
	}
	if !st[0].Tagged || st[0].Task == nil || st[0].Task.ID != id || st[0].Task.State != koji.TaskClosed {
		t.Errorf("tagged by our task %d: %+v (task %+v)", id, st[0], st[0].Task)
	}
	if !st[1].Tagged || st[1].Task != nil {
		t.Errorf("tagged by someone else: %+v (task %+v)", st[1], st[1].Task)
	}
	// The other listing was made by no task of ours: its history says
	// so, and no task is looked for.
	if got := hub.CallCount("queryHistory"); got != 1 {
		t.Errorf("%d queryHistory calls, want 1", got)
	}
}

// TestTagStatesRemembersIDs: the second look at the same targets asks
// the hub for the tag listing and the new tasks only, not again for the
// tag and build (a module build's getBuild carries its modulemd) nor for
// the pending tasks; an unknown build is asked for again.
func TestTagStatesRemembersIDs(t *testing.T) {
	hub := newHub(t)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	targets := []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}, {Tag: tagName, NVR: "nobody-1-1"}}
	for range 2 {
		if _, err := c.TagStates(ctx, targets); err != nil {
			t.Fatal(err)
		}
	}
	for method, want := range map[string]int{"getTag": 1, "getBuild": 3 + 1, "listTags": 6} {
		if got := hub.CallCount(method); got != want {
			t.Errorf("%s called %d times in two looks, want %d", method, got, want)
		}
	}
	pendingLists := 0
	for _, call := range hub.Calls() {
		if call.Method != "listTasks" {
			continue
		}
		if opts, ok := call.Params[0].(map[string]any); ok && opts["state"] != nil {
			pendingLists++
		}
	}
	if pendingLists != 1 {
		t.Errorf("pending tasks listed %d times in two looks, want once", pendingLists)
	}
}

// TestTagStatesNamesTheStartedTask: a target that says which task of ours
// was started for it gets that task named once it CLOSED, without the
// listing's history; a started task that did not tag (FAILED "already
// tagged") leaves the CLOSED one the view knows.
func TestTagStatesNamesTheStartedTask(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskTiming(50*time.Millisecond, 100*time.Millisecond))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	first, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	dup, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		started, want, histories int
	}{
		{first, first, 0},
		{dup, first, 0},
	} {
		before := hub.CallCount("queryHistory")
		st, err := c.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr, Started: tc.started}})
		if err != nil {
			t.Fatal(err)
		}
		if !st[0].Tagged || st[0].Task == nil || st[0].Task.ID != tc.want || st[0].Task.State != koji.TaskClosed {
			t.Errorf("started %d: %+v (task %+v), want CLOSED task %d", tc.started, st[0], st[0].Task, tc.want)
		}
		if got := hub.CallCount("queryHistory") - before; got != tc.histories {
			t.Errorf("started %d: %d queryHistory calls, want %d", tc.started, got, tc.histories)
		}
	}
}
