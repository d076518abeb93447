package koji_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestViewFindsALateTask: another process's tagBuild call that the hub
// takes long over is stamped when it began (create_ts) and listed only
// once it ends, after newer tasks were seen: a look made after it ended
// still finds it pending, through the counts below the watermark.
func TestViewFindsALateTask(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
	hub.AddBuild(kojitest.Build{NVR: "other-1-1"})
	hub.AddPackage(tagName, "other")
	ours := newClient(t, sslConfig(hub, "mts"))
	theirs := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	if _, err := ours.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}}); err != nil {
		t.Fatal(err)
	}
	// Their call is slow, ours not.
	hub.Delay("tagBuild", 400*time.Millisecond)
	var late int
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if late, err = theirs.TagBuild(ctx, tagName, nvr); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(100 * time.Millisecond)
	hub.Delay("tagBuild", 0)
	ids, errs, err := ours.TagBuilds(ctx, []koji.TagTarget{{Tag: tagName, NVR: "other-1-1"}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	// The watermark passes the late task's create_ts before it is seen.
	st, err := ours.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: "other-1-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Task == nil || st[0].Task.ID != ids[0] {
		t.Fatalf("newer task: %+v, want %d", st[0].Task, ids[0])
	}
	wg.Wait()
	st, err = ours.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Task == nil || st[0].Task.ID != late || !st[0].Task.Pending() {
		t.Fatalf("late task %d not found: %+v", late, st[0].Task)
	}
}

// TestLookCostsTheSameWhateverIsPending: once the view is filled, a look
// at a new build costs the hub the same answer with 10 or 300 tasks of
// ours pending.
func TestLookCostsTheSameWhateverIsPending(t *testing.T) {
	cost := func(pending int) int64 {
		hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
		c := newClient(t, sslConfig(hub, "mts"))
		ctx := ctxT(t)
		for i := range pending + 1 {
			n := fmt.Sprintf("nodejs-20-%d.x", i)
			hub.AddBuild(kojitest.Build{NVR: n})
			if _, err := c.TagBuild(ctx, tagName, n); err != nil {
				t.Fatal(err)
			}
		}
		look := func(i int) {
			t.Helper()
			if _, err := c.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: fmt.Sprintf("nodejs-20-%d.x", i)}}); err != nil {
				t.Fatal(err)
			}
		}
		look(0) // fills the view
		before := hub.Stats()["multiCall"].Bytes
		for i := 1; i <= 10; i++ {
			look(i)
		}
		return (hub.Stats()["multiCall"].Bytes - before) / 10
	}
	few, many := cost(10), cost(300)
	t.Logf("bytes per look: %d with 10 pending, %d with 300", few, many)
	if float64(many) > 1.2*float64(few) || many > 8<<10 {
		t.Errorf("a look answered %d bytes with 300 tasks pending, %d with 10", many, few)
	}
}

// TestLooksAtTheSameMomentShareARequest: looks made while a refresh is
// under way share the next one; a look that gives up while it waits
// leaves the others their answers.
func TestLooksAtTheSameMomentShareARequest(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	targets := []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}}
	if _, err := c.TagStates(ctx, targets); err != nil {
		t.Fatal(err)
	}
	hub.Delay("multiCall", 30*time.Millisecond)
	before := hub.Stats()["multiCall"].Requests
	const looks = 48
	var wg sync.WaitGroup
	errs := make(chan error, looks)
	for i := range looks {
		wg.Go(func() {
			lctx := ctx
			if i%4 == 0 {
				// Gives up while waiting its turn.
				var cancel context.CancelFunc
				lctx, cancel = context.WithTimeout(ctx, 10*time.Millisecond)
				defer cancel()
			}
			st, err := c.TagStates(lctx, targets)
			switch {
			case i%4 == 0:
			case err != nil:
				errs <- err
			case len(st) != 2 || st[0].Tagged:
				errs <- fmt.Errorf("look %d: %+v", i, st)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := hub.Stats()["multiCall"].Requests - before; n >= looks/2 {
		t.Errorf("%d requests for %d looks at once", n, looks)
	}
	// And the next look is answered: no turn was lost.
	if _, err := c.TagStates(ctx, targets); err != nil {
		t.Fatal(err)
	}
}

// TestTaskFinishingDuringALook: a task the refresh lists pending and
// that finishes before the look is answered (here, between the look's
// request and the listing of the margin a new view makes after it) is
// reported as seen before the tag listing: pending, or with the build
// tagged, never finished with the build untagged.
func TestTaskFinishingDuringALook(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(450*time.Millisecond))
	ours := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	id, err := ours.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	// A new process: its first look lists the pending tasks, then, in a
	// request of its own, the margin below the watermark.
	hub.Delay("multiCall", 300*time.Millisecond)
	fresh := newClient(t, sslConfig(hub, "mts"))
	st, err := fresh.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}})
	if err != nil {
		t.Fatal(err)
	}
	if state, _ := hub.TaskState(id); state != koji.TaskClosed {
		t.Fatalf("the task is %d when the look ends; the test proves nothing", state)
	}
	switch task := st[0].Task; {
	case task == nil:
		t.Fatalf("no task and tagged=%v: a second task would be started", st[0].Tagged)
	case task.ID != id || (!task.Pending() && !st[0].Tagged):
		t.Fatalf("task %+v, tagged=%v", task, st[0].Tagged)
	}
}
