package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// running is one service started through app.New and Run, as mts serve
// starts it.
type running struct {
	app    *app.App
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// kojiProfile writes a koji client profile "mts-test" for the hub.
func kojiProfile(t testing.TB, hub *kojitest.Hub) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "koji.conf")
	ini := fmt.Sprintf("[mts-test]\nserver = %s\nserverca = %s\nauthtype = ssl\ncert = %s\ntimeout = 5\n",
		hub.URL(), hub.CAFile(), hub.ClientCertFile("mts"))
	if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// baseConfig is a service on the test's ActiveMQ queues, the stand-in hub
// and the stand-in MBS, with short backoffs and a decision store of its own.
func baseConfig(t testing.TB, n busNames, hub *kojitest.Hub, m *mbsStandIn) *config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.Rules = []string{filepath.Join(serveData, "rules-e2e/v1.yaml")}
	cfg.MBSAPIURL = m.URL()
	cfg.KojiProfile, cfg.KojiConfig = "mts-test", kojiProfile(t, hub)
	cfg.MessagingBackend = config.BackendRhmsg
	if broker != nil {
		cfg.RhmsgBrokers = []string{broker.STOMPAddr}
	}
	cfg.RhmsgQueue, cfg.RhmsgTopicPrefix = n.queue, n.outPrefix
	cfg.Workers = 4
	cfg.RetryMinBackoff, cfg.RetryMaxBackoff = config.Duration(50*time.Millisecond), config.Duration(500*time.Millisecond)
	cfg.TaskPollInterval = config.Duration(100 * time.Millisecond)
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	cfg.ListenAddress = "127.0.0.1:0"
	// As the default keeps one, but the test's own: the default path is
	// shared by every test process on the machine.
	cfg.DecisionStore = filepath.Join(t.TempDir(), "decisions.db")
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startApp runs the service of cfg until the test ends, and waits until
// its consumer is connected.
func startApp(t testing.TB, cfg *config.Config, recorders ...service.Recorder) *running {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{Logger: testLogger(t), Registry: reg, Recorders: recorders})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{app: a, reg: reg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = a.Run(ctx)
	}()
	t.Cleanup(r.stop)
	if cfg.MessagingBackend != config.BackendFedmsg {
		eventually(t, 20*time.Second, "consumer connected", func() bool {
			return gathered(reg, bus.MetricConnected, "", "") > 0
		})
	}
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
