package app_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/service"
)

func TestEndToEndOnActiveMQ(t *testing.T) {
	st := newStack(t, "e2e")
	hub, m, w, s := st.hub, st.mbs, st.w, st.s
	r := startApp(t, baseConfig(t, st.n, hub, m))

	t.Run("matched", func(t *testing.T) {
		ev := javaEvent(1, "ready")
		addJava(hub, m, ev)
		s.send(t, ev)
		eventually(t, 20*time.Second, "two build.tag.requested", func() bool { return len(w.forBuild(1)) == 2 })
		n1, n2 := nvrs(ev)
		if err := hub.WaitTasks(context.Background()); err != nil {
			t.Fatal(err)
		}
		tagged := hub.Tagged("f29-modular-ursamajor")
		if !contains(tagged, n1) || !contains(tagged, n2) {
			t.Errorf("tagged %v, want %s and %s", tagged, n1, n2)
		}
		for _, a := range w.forBuild(1) {
			dt := a.Body["destination_tags"].([]any)[0].(map[string]any)
			if a.Topic != "build.tag.requested" || dt["tag"] != "f29-modular-ursamajor" || dt["task_id"] == nil {
				t.Errorf("announced %+v", a)
			}
		}
	})
	t.Run("unmatched", func(t *testing.T) {
		ev := build.Event{ID: 2, Name: "nodejs", Stream: "12", Version: "3120191115180204", Context: "eed43de7", State: 5, StateName: "ready"}
		m.add(2, "nodejs-12-f31.yaml")
		s.send(t, ev)
		eventually(t, 20*time.Second, "build.tag.unmatched", func() bool { return len(w.forBuild(2)) == 1 })
		if got := w.forBuild(2)[0].Topic; got != "build.tag.unmatched" {
			t.Errorf("topic %q", got)
		}
	})
	t.Run("filtered", func(t *testing.T) {
		before := r.events(service.OutcomeFiltered)
		ev := javaEvent(3, "build")
		addJava(hub, m, ev)
		s.send(t, ev)
		sc := javaEvent(4, "ready")
		sc.Scratch = true
		s.send(t, sc)
		eventually(t, 20*time.Second, "two events filtered", func() bool { return r.events(service.OutcomeFiltered) == before+2 })
		if len(w.forBuild(3))+len(w.forBuild(4)) != 0 || m.calls.Load() > 2 {
			t.Errorf("filtered events went further: %d announced, %d MBS calls", len(w.forBuild(3))+len(w.forBuild(4)), m.calls.Load())
		}
	})
	t.Run("koji fault", func(t *testing.T) {
		hub.LockTag("f29-modular-ursamajor", true)
		defer hub.LockTag("f29-modular-ursamajor", false)
		ev := javaEvent(5, "ready")
		addJava(hub, m, ev)
		s.send(t, ev)
		eventually(t, 20*time.Second, "announcements with errors", func() bool { return len(w.forBuild(5)) == 2 })
		for _, a := range w.forBuild(5) {
			dt := a.Body["destination_tags"].([]any)[0].(map[string]any)
			if dt["task_id"] != nil || dt["error"] == nil {
				t.Errorf("announced %+v, want task_id null and an error", dt)
			}
		}
		if got := gathered(r.reg, "failed_tag_build_requests_total", "", ""); got != 2 {
			t.Errorf("failed_tag_build_requests_total = %v", got)
		}
		if got := gathered(r.reg, "mts_koji_faults_total", "code", "1004"); got < 2 {
			t.Errorf("mts_koji_faults_total{code=1004} = %v", got)
		}
	})
	t.Run("koji down then back", func(t *testing.T) {
		hub.SetOffline(true)
		ev := javaEvent(6, "ready")
		addJava(hub, m, ev)
		s.send(t, ev)
		eventually(t, 20*time.Second, "retries while Koji is offline", func() bool {
			return gathered(r.reg, "mts_retries_total", "dependency", "koji") > 0
		})
		hub.SetOffline(false)
		eventually(t, 20*time.Second, "tagged once Koji is back", func() bool { return len(w.forBuild(6)) == 2 })
		n1, _ := nvrs(ev)
		if got := tagCallsFor(hub, n1); got != 1 {
			t.Errorf("%d tagBuild calls for %s, want 1", got, n1)
		}
	})
	t.Run("MBS down then back", func(t *testing.T) {
		m.fail.Store(3)
		ev := javaEvent(7, "ready")
		addJava(hub, m, ev)
		s.send(t, ev)
		eventually(t, 20*time.Second, "tagged once MBS is back", func() bool { return len(w.forBuild(7)) == 2 })
		if got := gathered(r.reg, "mts_retries_total", "dependency", "mbs"); got < 3 {
			t.Errorf("modulemd retries %v, want 3", got)
		}
	})
	t.Run("redelivered event tags nothing twice", func(t *testing.T) {
		ev := javaEvent(1, "ready")
		s.send(t, ev)
		eventually(t, 20*time.Second, "second announcement", func() bool { return len(w.forBuild(1)) == 4 })
		n1, n2 := nvrs(ev)
		if tagCallsFor(hub, n1) != 1 || tagCallsFor(hub, n2) != 1 {
			t.Errorf("tagBuild calls: %d for %s, %d for %s", tagCallsFor(hub, n1), n1, tagCallsFor(hub, n2), n2)
		}
		// The second announcement names the task that tagged the build.
		for i := range 2 {
			first := w.forBuild(1)[i].Body["destination_tags"].([]any)[0].(map[string]any)
			again := w.forBuild(1)[i+2].Body["destination_tags"].([]any)[0].(map[string]any)
			if again["task_id"] == nil || again["task_id"] != first["task_id"] {
				t.Errorf("second announcement %+v, first %+v", again, first)
			}
		}
	})
}

func TestTwoConsumersShareAQueue(t *testing.T) {
	st := newStack(t, "pair")
	r1 := startApp(t, baseConfig(t, st.n, st.hub, st.mbs))
	r2 := startApp(t, baseConfig(t, st.n, st.hub, st.mbs))
	const count = 40
	events := st.sendJava(t, 100, count, 1)
	eventually(t, 60*time.Second, "every event handled", func() bool {
		return r1.events(service.OutcomeMatched)+r2.events(service.OutcomeMatched) >= count
	})
	if r1.events(service.OutcomeMatched) == 0 || r2.events(service.OutcomeMatched) == 0 {
		t.Errorf("work not shared: %v and %v", r1.events(service.OutcomeMatched), r2.events(service.OutcomeMatched))
	}
	for _, ev := range events {
		n1, n2 := nvrs(ev)
		if tagCallsFor(st.hub, n1) != 1 || tagCallsFor(st.hub, n2) != 1 {
			t.Errorf("build %d: %d and %d tagBuild calls", ev.ID, tagCallsFor(st.hub, n1), tagCallsFor(st.hub, n2))
		}
		eventually(t, 5*time.Second, "announcements", func() bool { return len(st.w.forBuild(ev.ID)) == 2 })
	}
}

func TestReloadUnderLoad(t *testing.T) {
	b := needBroker(t)
	n := newBusNames("reload")
	hub := newHub(t)
	m := newMBS(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	copyFile(t, filepath.Join(serveData, "rules-e2e/v1.yaml"), rulesFile)
	cfg := baseConfig(t, n, hub, m)
	cfg.Rules = []string{dir}
	r := startApp(t, cfg)
	reg := r.reg
	first := gathered(reg, reload.MetricReloads, "result", "success")
	s := newSender(t, b, n)
	var wg sync.WaitGroup
	stopSending := make(chan struct{})
	wg.Go(func() {
		for i := int64(0); ; i++ {
			select {
			case <-stopSending:
				return
			default:
			}
			ev := javaEvent(1000+i, "ready")
			addJava(hub, m, ev)
			s.send(t, ev)
			time.Sleep(10 * time.Millisecond)
		}
	})

	// A bad set is refused and the good one stays.
	time.Sleep(200 * time.Millisecond)
	copyFile(t, filepath.Join(serveData, "rules-e2e/bad.yaml"), rulesFile)
	eventually(t, 10*time.Second, "bad set refused", func() bool {
		return gathered(reg, reload.MetricReloads, "result", "refused") >= 1
	})
	if got := gathered(reg, reload.MetricReloadSuccessful, "", ""); got != 0 {
		t.Errorf("%s = %v after a refused set", reload.MetricReloadSuccessful, got)
	}
	matchedBefore := r.events(service.OutcomeMatched)
	eventually(t, 10*time.Second, "events still tagged with the last good set", func() bool {
		return r.events(service.OutcomeMatched) > matchedBefore+3
	})

	// A good set replaces it.
	copyFile(t, filepath.Join(serveData, "rules-e2e/v2.yaml"), rulesFile)
	eventually(t, 10*time.Second, "good set loaded", func() bool {
		return gathered(reg, reload.MetricReloads, "result", "success") > first
	})
	if got := gathered(reg, reload.MetricReloadSuccessful, "", ""); got != 1 {
		t.Errorf("%s = %v after a good set", reload.MetricReloadSuccessful, got)
	}
	eventually(t, 10*time.Second, "builds tagged by the new rules", func() bool {
		return len(hub.Tagged("f29-modular-updates-candidate")) > 2
	})
	close(stopSending)
	wg.Wait()
	if got := r.events(service.OutcomeRuleError) + r.events(service.OutcomeUnsettled); got != 0 {
		t.Errorf("%v events failed during reloads", got)
	}
}
