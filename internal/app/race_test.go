package app_test

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// tasksOf returns, per NVR, the tagBuild tasks that were not cancelled
// before they ran.
func tasksOf(hub *kojitest.Hub) map[string][]int {
	canceled := hub.Canceled()
	out := map[string][]int{}
	for _, c := range hub.TagCalls() {
		if c.TaskID != 0 && !c.Bypass && !slices.Contains(canceled, c.TaskID) {
			out[c.NVR] = append(out[c.NVR], c.TaskID)
		}
	}
	return out
}

// checkOneTaskEach fails unless each build of events and its -devel twin
// got exactly one task that ran, and every announcement of it names that
// task, CLOSED.
func checkOneTaskEach(t *testing.T, hub *kojitest.Hub, w *watcher, events []build.Event) {
	t.Helper()
	if err := hub.WaitTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	tasks := tasksOf(hub)
	for _, ev := range events {
		want := map[string]int{}
		for _, nvr := range []string{ev.NVR(), ev.NVRFor(ev.Name + "-devel")} {
			if len(tasks[nvr]) != 1 {
				t.Errorf("%s: tasks %v, want one", nvr, tasks[nvr])
				continue
			}
			want[nvr] = tasks[nvr][0]
		}
		eventually(t, 10*time.Second, "announced", func() bool { return len(w.forBuild(ev.ID)) >= 2 })
		for _, a := range w.forBuild(ev.ID) {
			nvr, _ := a.Body["nvr"].(string)
			dt := a.Body["destination_tags"].([]any)[0].(map[string]any)
			id, _ := dt["task_id"].(float64)
			if state, _ := hub.TaskState(int(id)); int(id) != want[nvr] || state != koji.TaskClosed {
				t.Errorf("%s announced with task %v (state %d), want the CLOSED task %d", nvr, dt["task_id"], state, want[nvr])
			}
		}
	}
}

// TestKillNineWhileTasksPending kills mts serve with SIGKILL twenty times,
// at random points, while tagBuild tasks it started are pending (the
// stand-in runs them 0.5 to 2 s after the call, as a real hub does), and
// restarts it at once each time: no build gets a second task, and every
// announcement names the task that tagged the build.
func TestKillNineWhileTasksPending(t *testing.T) {
	p := newProcesses(t, "kill9")
	// Slow calls keep events in flight at every kill.
	p.hub.Delay("tagBuild", 100*time.Millisecond)
	const count = 300
	events := p.sendJava(t, 5000, count, 1)
	hub, w := p.hub, p.w
	kills := 0
	for ; kills < 20 && len(hub.Tagged("f29-modular-ursamajor")) < 2*count; kills++ {
		before := len(hub.TagCalls())
		cmd := p.start(t)
		// Kill once it has started tasks, at a random point after that.
		eventually(t, 30*time.Second, "tagging under way", func() bool { return len(hub.TagCalls()) > before })
		time.Sleep(time.Duration(rand.N(800)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	if kills < 10 {
		t.Fatalf("only %d kills before every build was tagged; the test proves little", kills)
	}
	p.start(t)
	eventually(t, 2*time.Minute, "every build tagged", func() bool { return len(hub.Tagged("f29-modular-ursamajor")) == 2*count })
	checkOneTaskEach(t, hub, w, events)
	t.Logf("%d kills; %d tagBuild calls, %d tasks cancelled", kills, len(hub.TagCalls()), len(hub.Canceled()))
}

// TestSameEventToTwoConsumers sends every event twice at once to a queue
// that two services share, so that each copy goes to another process:
// still one task per build.
func TestSameEventToTwoConsumers(t *testing.T) {
	st := newStack(t, "twins")
	cfg := baseConfig(t, st.n, st.hub, st.mbs)
	cfg.Workers = 1 // each process takes one copy at a time
	r1, r2 := startApp(t, cfg), startApp(t, cfg)
	const count = 20
	events := st.sendJava(t, 7000, count, 2)
	hub, w := st.hub, st.w
	eventually(t, time.Minute, "every copy handled", func() bool {
		return r1.events("matched")+r2.events("matched") >= 2*count
	})
	if r1.events("matched") == 0 || r2.events("matched") == 0 {
		t.Fatalf("one process took every copy: %v and %v", r1.events("matched"), r2.events("matched"))
	}
	checkOneTaskEach(t, hub, w, events)
	t.Logf("%d tagBuild calls, %d cancelled before they ran", len(hub.TagCalls()), len(hub.Canceled()))
}
