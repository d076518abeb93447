package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji"
)

func get(t *testing.T, url string) (int, string) {
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

// TestHealthAndReadiness serves the endpoints of a service running on
// ActiveMQ with the Koji stand-in, and breaks one readiness condition at
// a time: the broker connection, the rules, the hub.
func TestHealthAndReadiness(t *testing.T) {
	b := needBroker(t)
	n := newBusNames("ready")
	hub := newHub(t)
	m := newMBS(t)
	rules := staticRules(t, "rules-e2e/v1.yaml")
	r := startService(t, b, n, hub, m, rules)

	// A consumer of a broker that is not there.
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	lost, err := stomp.NewConsumer(stomp.Config{URIs: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Queue: "q",
		MinBackoff: time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Close()
	// A hub that is not there.
	gone, err := koji.New(&koji.Config{Server: fmt.Sprintf("https://127.0.0.1:%d/kojihub", port), ServerCA: hub.CAFile(),
		Timeout: time.Second, MaxRetries: 1, RetryInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()

	tests := []struct {
		name     string
		consumer bus.Consumer
		rules    service.Rules
		koji     *koji.Client
		offline  bool
		failing  []string
	}{
		{name: "all good", consumer: r.consumer, rules: rules, koji: r.koji},
		{name: "no Koji check", consumer: r.consumer, rules: rules},
		{name: "broker unreachable", consumer: lost, rules: rules, koji: r.koji, failing: []string{"bus"}},
		{name: "no rules", consumer: r.consumer, rules: fixedRules{}, koji: r.koji, failing: []string{"rules"}},
		{name: "hub in maintenance", consumer: r.consumer, rules: rules, koji: r.koji, offline: true, failing: []string{"koji"}},
		{name: "hub unreachable", consumer: r.consumer, rules: rules, koji: gone, failing: []string{"koji"}},
		{name: "everything wrong", consumer: lost, rules: fixedRules{}, koji: gone, failing: []string{"bus", "rules", "koji"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub.SetOffline(tt.offline)
			defer hub.SetOffline(false)
			var probe func(context.Context) error
			if tt.koji != nil {
				probe = service.KojiProbe(tt.koji)
			}
			srv := httptest.NewServer(service.Handler(r.reg, service.ReadinessChecks(tt.consumer, tt.rules, probe)))
			defer srv.Close()

			if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK {
				t.Errorf("/healthz: %d %q", code, body)
			}
			code, body := get(t, srv.URL+"/readyz")
			if len(tt.failing) == 0 {
				if code != http.StatusOK {
					t.Fatalf("/readyz: %d %q, want 200", code, body)
				}
				return
			}
			if code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz: %d %q, want 503", code, body)
			}
			lines := strings.Split(strings.TrimSpace(body), "\n")
			if len(lines) != len(tt.failing) {
				t.Errorf("/readyz lists %q, want %v", lines, tt.failing)
			}
			for _, name := range tt.failing {
				if !strings.Contains(body, name+": ") {
					t.Errorf("/readyz %q does not name %s", body, name)
				}
			}
		})
	}
}

func TestCachedProbe(t *testing.T) {
	calls := 0
	probe := service.CachedProbe(func(context.Context) error {
		calls++
		if calls == 1 {
			return fmt.Errorf("down")
		}
		return nil
	}, 100*time.Millisecond)
	for range 3 {
		if err := probe(context.Background()); err == nil {
			t.Fatal("the cached failure was not returned")
		}
	}
	time.Sleep(150 * time.Millisecond)
	if err := probe(context.Background()); err != nil || calls != 2 {
		t.Fatalf("after the TTL: %v, %d probe calls", err, calls)
	}
}

// TestMetricsEndpoint checks the reference's counter names at its path,
// with the values of one matched build and one refused tagBuild.
func TestMetricsEndpoint(t *testing.T) {
	b := needBroker(t)
	n := newBusNames("metrics")
	hub := newHub(t)
	m := newMBS(t)
	r := startService(t, b, n, hub, m, staticRules(t, "rules-e2e/v1.yaml"))
	s := newSender(t, b, n)
	ev := javaEvent(1, "ready")
	addJava(hub, m, ev)
	s.send(t, ev)
	eventually(t, 20*time.Second, "the event handled", func() bool { return r.events(service.OutcomeMatched) == 1 })
	hub.LockTag("f29-modular-ursamajor", true)
	ev = javaEvent(2, "ready")
	addJava(hub, m, ev)
	s.send(t, ev)
	eventually(t, 20*time.Second, "the event handled", func() bool { return r.events(service.OutcomeMatched) == 2 })

	srv := httptest.NewServer(service.Handler(r.reg, nil))
	defer srv.Close()
	code, body := get(t, srv.URL+"/monitor/metrics")
	if code != http.StatusOK {
		t.Fatalf("/monitor/metrics: %d", code)
	}
	for _, want := range []string{
		"\nmatched_module_builds_total 2\n",
		"\nfailed_tag_build_requests_total 2\n",
		"\nmessaging_tx_failed_total 0\n",
		`mts_events_total{outcome="matched"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/monitor/metrics has no %q", strings.TrimSpace(want))
		}
	}
	if code, body := get(t, srv.URL+"/"); code != http.StatusOK || !strings.Contains(body, "/monitor/metrics") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics: %d, want 404", code)
	}
}
