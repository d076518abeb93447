package service_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// running is one in-process service on a real broker.
type running struct {
	svc      *service.Service
	reg      *prometheus.Registry
	consumer bus.Consumer
	koji     *koji.Client
	cancel   context.CancelFunc
	done     chan struct{}
}

func startService(t testing.TB, b *testenv.ActiveMQ, n busNames, hub *kojitest.Hub, m *mbsStandIn, rules service.Rules) *running {
	t.Helper()
	return startServiceWith(t, b, n, hub, m, rules, 4)
}

// startServiceWith runs the service with the given number of workers, the
// broker's prefetch following it.
func startServiceWith(t testing.TB, b *testenv.ActiveMQ, n busNames, hub *kojitest.Hub, m *mbsStandIn, rules service.Rules, workers int) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := testLogger(t)
	cfg := stompConfig(b, n)
	cfg.Prefetch = workers
	consumer, err := stomp.NewConsumer(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := stomp.NewPublisher(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	return runService(t, reg, consumer, pub, hub, m, rules, workers)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// runService runs the service on the given bus ends, with a Koji client of
// the stand-in hub and an MBS client of the stand-in MBS, and waits until
// the consumer is connected. The bus ends are closed when it stops.
func runService(t testing.TB, reg *prometheus.Registry, consumer bus.Consumer, pub bus.Publisher, hub *kojitest.Hub, m *mbsStandIn, rules service.Rules, workers int) *running {
	t.Helper()
	log := testLogger(t)
	kc, err := koji.New(&koji.Config{
		Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"),
		Timeout: 5 * time.Second, MaxRetries: 1, RetryInterval: 50 * time.Millisecond,
	}, koji.WithObserver(service.NewKojiMetrics(reg).Observe))
	if err != nil {
		t.Fatal(err)
	}
	src, err := mbs.New(m.URL(), mbs.Options{Timeout: 5 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The retries span a broker restart on a loaded machine: an event handed
	// back to ActiveMQ goes to its dead letter queue, out of the test's sight.
	svc, err := service.New(service.Config{
		Workers: workers, CheckTagged: true, RetryAttempts: 100,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond, ShutdownTimeout: 10 * time.Second,
	}, consumer, pub, kc, src, rules, service.Options{Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, reg: reg, consumer: consumer, koji: kc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = svc.Run(ctx)
		consumer.Close()
		pub.Close()
		kc.Close()
	}()
	t.Cleanup(r.stop)
	eventually(t, 20*time.Second, "consumer connected", consumer.Connected)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func (r *running) events(outcome string) float64 {
	return gathered(r.reg, "mts_events_total", "outcome", outcome)
}

func gathered(g prometheus.Gatherer, name, label, value string) float64 {
	fams, _ := g.Gather()
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && !hasLabel(m, label, value) {
				continue
			}
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			} else if m.Gauge != nil {
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func staticRules(t *testing.T, file string) service.Rules {
	rs, err := ruleset.Load([]string{filepath.Join(serveData, file)}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fixedRules{rs}
}

type fixedRules struct{ rs *ruleset.Ruleset }

func (f fixedRules) Current() *ruleset.Ruleset { return f.rs }

func TestEndToEndOnActiveMQ(t *testing.T) {
	b := needBroker(t)
	n := newBusNames("e2e")
	hub := newHub(t)
	m := newMBS(t)
	w := newWatcher(t, b, n)
	r := startService(t, b, n, hub, m, staticRules(t, "rules-e2e/v1.yaml"))
	s := newSender(t, b, n)

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
			return gathered(r.reg, "mts_retries_total", "step", "koji") > 0
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
		if got := gathered(r.reg, "mts_retries_total", "step", "modulemd"); got < 3 {
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
		last := w.forBuild(1)[3].Body["destination_tags"].([]any)[0].(map[string]any)
		if last["error"] != service.AlreadyTagged {
			t.Errorf("second announcement %+v", last)
		}
	})
}

func TestTwoConsumersShareAQueue(t *testing.T) {
	b := needBroker(t)
	n := newBusNames("pair")
	hub := newHub(t)
	m := newMBS(t)
	w := newWatcher(t, b, n)
	rules := staticRules(t, "rules-e2e/v1.yaml")
	r1 := startService(t, b, n, hub, m, rules)
	r2 := startService(t, b, n, hub, m, rules)
	s := newSender(t, b, n)
	const count = 40
	for i := range int64(count) {
		ev := javaEvent(100+i, "ready")
		addJava(hub, m, ev)
		s.send(t, ev)
	}
	eventually(t, 60*time.Second, "every event handled", func() bool {
		return r1.events(service.OutcomeMatched)+r2.events(service.OutcomeMatched) >= count
	})
	if r1.events(service.OutcomeMatched) == 0 || r2.events(service.OutcomeMatched) == 0 {
		t.Errorf("work not shared: %v and %v", r1.events(service.OutcomeMatched), r2.events(service.OutcomeMatched))
	}
	for i := range int64(count) {
		n1, n2 := nvrs(javaEvent(100+i, "ready"))
		if tagCallsFor(hub, n1) != 1 || tagCallsFor(hub, n2) != 1 {
			t.Errorf("build %d: %d and %d tagBuild calls", 100+i, tagCallsFor(hub, n1), tagCallsFor(hub, n2))
		}
		if got := len(w.forBuild(100 + i)); got != 2 {
			eventually(t, 5*time.Second, "announcements", func() bool { return len(w.forBuild(100+i)) == 2 })
		}
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
	reg := prometheus.NewRegistry()
	coord, err := reload.New(reload.Options{Paths: []string{dir}, Registerer: reg, Debounce: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = coord.Run(ctx) }()
	first := coord.Current().Revision

	r := startService(t, b, n, hub, m, coord)
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
	if coord.Current().Revision != first {
		t.Errorf("revision changed to %s on a refused set", coord.Current().Revision)
	}
	matchedBefore := r.events(service.OutcomeMatched)
	eventually(t, 10*time.Second, "events still tagged with the last good set", func() bool {
		return r.events(service.OutcomeMatched) > matchedBefore+3
	})

	// A good set replaces it.
	copyFile(t, filepath.Join(serveData, "rules-e2e/v2.yaml"), rulesFile)
	eventually(t, 10*time.Second, "good set loaded", func() bool { return coord.Current().Revision != first })
	if got := gathered(reg, reload.MetricReloadSuccessful, "", ""); got != 1 {
		t.Errorf("%s = %v after a good set", reload.MetricReloadSuccessful, got)
	}
	eventually(t, 10*time.Second, "builds tagged by the new rules", func() bool {
		return len(hub.Tagged("f29-modular-updates-candidate")) > 2
	})
	close(stopSending)
	wg.Wait()
	if got := r.events(service.OutcomeRuleError) + r.events(service.OutcomeRequeued); got != 0 {
		t.Errorf("%v events failed during reloads", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Rename, as editors and ConfigMap updates do, so no half file is read.
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}
