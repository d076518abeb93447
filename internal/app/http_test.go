package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/service"
)

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestReadinessDuringAnOutage: while the hub is away, /readyz names koji
// with how many events wait, the metrics show the dependency down and the
// event held, and mounted handlers are served; once the hub is back the
// event is tagged and all is ready again.
func TestReadinessDuringAnOutage(t *testing.T) {
	st := newStack(t, "ready")
	hub, m, s := st.hub, st.mbs, st.s
	r := startApp(t, baseConfig(t, st.n, hub, m))
	r.app.Handle("GET /extra", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "mounted") }))
	base := "http://" + r.app.Addr()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	if code, body := get(t, base+"/extra"); code != http.StatusOK || body != "mounted" {
		t.Fatalf("/extra: %d %q", code, body)
	}

	hub.SetOffline(true)
	ev := javaEvent(1, "ready")
	addJava(hub, m, ev)
	s.send(t, ev)
	eventually(t, 20*time.Second, "the event held", func() bool { return gathered(r.reg, "mts_events_held", "", "") == 1 })
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "koji: down since ") || !strings.Contains(body, "1 events held") ||
		!strings.Contains(body, "ServerOffline") {
		t.Fatalf("/readyz during the outage: %d %q", code, body)
	}
	_, metrics := get(t, base+"/monitor/metrics")
	for _, want := range []string{`mts_dependency_up{dependency="koji"} 0`, `mts_dependency_up{dependency="mbs"} 1`, "\nmts_events_held 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/monitor/metrics has no %q", strings.TrimSpace(want))
		}
	}
	if held := r.app.Service().Held(); len(held) != 1 || held[0].Message.Module.ID != 1 || held[0].Dependency != "koji" {
		t.Errorf("Held() = %+v", held)
	}

	hub.SetOffline(false)
	eventually(t, 20*time.Second, "tagged once the hub is back", func() bool { return r.events(service.OutcomeMatched) == 1 })
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after the outage: %d %q", code, body)
	}
	_, metrics = get(t, base+"/monitor/metrics")
	for _, want := range []string{`mts_dependency_up{dependency="koji"} 1`, "\nmts_events_held 0\n", "mts_event_held_seconds_count 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/monitor/metrics has no %q", strings.TrimSpace(want))
		}
	}
}

// TestMetricsEndpoint checks the reference's counter names at its path,
// with the values of one matched build and one refused tagBuild.
func TestMetricsEndpoint(t *testing.T) {
	st := newStack(t, "metrics")
	hub, m, s := st.hub, st.mbs, st.s
	r := startApp(t, baseConfig(t, st.n, hub, m))
	ev := javaEvent(1, "ready")
	addJava(hub, m, ev)
	s.send(t, ev)
	eventually(t, 20*time.Second, "the event handled", func() bool { return r.events(service.OutcomeMatched) == 1 })
	hub.LockTag("f29-modular-ursamajor", true)
	ev = javaEvent(2, "ready")
	addJava(hub, m, ev)
	s.send(t, ev)
	eventually(t, 20*time.Second, "the event handled", func() bool { return r.events(service.OutcomeMatched) == 2 })

	base := "http://" + r.app.Addr()
	code, body := get(t, base+"/monitor/metrics")
	if code != http.StatusOK {
		t.Fatalf("/monitor/metrics: %d", code)
	}
	for _, want := range []string{
		"\nmatched_module_builds_total 2\n",
		"\nfailed_tag_build_requests_total 2\n",
		"\nmessaging_tx_failed_total 0\n",
		`mts_events_total{outcome="matched"} 2`,
		"mts_tag_lookup_duration_seconds_count 2",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/monitor/metrics has no %q", strings.TrimSpace(want))
		}
	}
	if code, body := get(t, base+"/"); code != http.StatusOK || !strings.Contains(body, "/monitor/metrics") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _ := get(t, base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics: %d, want 404", code)
	}
}
