package history_test

import (
	"context"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestTaskStatesFromKoji records a decision with the tagBuild tasks the
// stand-in hub started, and looks their final states up: one task closes,
// the other fails because the build was already in the tag.
func TestTaskStatesFromKoji(t *testing.T) {
	ctx := context.Background()
	const tag = "f31-modular-updates-candidate"
	nvr, devel := "nodejs-12-3120191115180204.eed43de7", "nodejs-devel-12-3120191115180204.eed43de7"
	hub := kojitest.New(t)
	hub.AddUser("mts", "tag")
	hub.AddTag(tag)
	hub.AddPackage(tag, "nodejs")
	hub.AddPackage(tag, "nodejs-devel")
	hub.AddBuild(kojitest.Build{NVR: nvr})
	hub.AddBuild(kojitest.Build{NVR: devel})
	hub.Tag(tag, devel)
	kc, err := koji.New(&koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"),
		Timeout: 5 * time.Second, MaxRetries: 1, RetryInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ids := map[string]int64{}
	for _, n := range []string{nvr, devel} {
		id, err := kc.TagBuild(ctx, tag, n)
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = int64(id)
	}

	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "fixed")
	rules.Set(rs)
	s := historytest.OpenStore(t, rules, history.Options{Tasks: kc})
	r := historytest.Decision(t, rs, 102, "nodejs-12-f31.yaml", "m", 0)
	a, b := ids[nvr], ids[devel]
	r.Decision.Actions = []decision.Action{{Op: decision.OpTag, Tag: tag, NVR: nvr, TaskID: &a}, {Op: decision.OpTag, Tag: tag, NVR: devel, TaskID: &b}}
	if err := s.Record(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.UpdateTasks(ctx)
	if err != nil || n != 2 {
		t.Fatalf("updated %d tasks, %v", n, err)
	}
	check := func(when string) {
		t.Helper()
		ds, err := s.List(ctx, history.Filter{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: %+v %v", when, ds, err)
		}
		states := map[string]string{}
		for _, tk := range ds[0].Tasks {
			states[tk.NVR] = tk.State
		}
		if states[nvr] != "closed" || states[devel] != "failed" {
			t.Errorf("%s: task states %v, want closed and failed", when, states)
		}
	}
	check("after the look-up")
	// Finished tasks are not looked up again; a redelivery that announced
	// the same tasks keeps their states.
	if n, err := s.UpdateTasks(ctx); err != nil || n != 0 {
		t.Errorf("second look-up updated %d, %v", n, err)
	}
	if err := s.Record(ctx, r); err != nil {
		t.Fatal(err)
	}
	check("after a redelivery")
	fs, err := s.Failures(ctx, 10)
	if err != nil || len(fs) != 1 {
		t.Fatalf("failures: %+v, %v; want the decision with the failed task", fs, err)
	}

	// A task the hub does not know is not asked for again and again.
	gone := int64(999999)
	r2 := historytest.Decision(t, rs, 103, "389-ds-1.4-f31.yaml", "m2", 0)
	r2.Decision.Actions = []decision.Action{{Op: decision.OpTag, Tag: tag, NVR: nvr, TaskID: &gone}, {Op: decision.OpTag, Tag: tag, NVR: devel, Error: "already tagged"}}
	if err := s.Record(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if n, err := s.UpdateTasks(ctx); err != nil || n != 1 {
		t.Fatalf("look-up of an unknown task: %d, %v", n, err)
	}
	if n, err := s.UpdateTasks(ctx); err != nil || n != 0 {
		t.Fatalf("unknown task looked up again: %d, %v", n, err)
	}
	ds, _ := s.List(ctx, history.Filter{Build: "103"})
	if len(ds) != 1 || ds[0].Tasks[0].State != "unknown" || ds[0].Tasks[1].Error != "already tagged" {
		t.Fatalf("tasks = %+v", ds)
	}
}
