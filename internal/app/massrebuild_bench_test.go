package app_test

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// BenchmarkMassRebuild is a burst of distinct module builds through one
// mts serve consumer as a mass rebuild brings them: the events wait in
// ActiveMQ, the service runs with the default settings but for its Koji
// profile (16 workers, the decision store, modulemd_source: koji), and
// the stand-in hub runs each tagBuild task 0.5-2 s after the call (or
// 10-60 s), its scheduler closing at most 20 a second, as a real hub's.
// It reports, per event, what the hub answered (requests, KB of
// responses, the time the stand-in spent on them), the CPU and the
// memory allocated by the test process (the service and the stand-ins
// together) and, for the burst, the time until every event was settled.
// It fails if an event is lost or a build gets a second task. Run each
// once: -benchtime 1x.
func BenchmarkMassRebuild(b *testing.B) {
	for _, tc := range []struct {
		name     string
		burst    int
		min, max time.Duration
	}{
		{"tasks=0.5-2s/burst=100", 100, 500 * time.Millisecond, 2 * time.Second},
		{"tasks=0.5-2s/burst=400", 400, 500 * time.Millisecond, 2 * time.Second},
		{"tasks=0.5-2s/burst=2000", 2000, 500 * time.Millisecond, 2 * time.Second},
		{"tasks=10-60s/burst=400", 400, 10 * time.Second, 60 * time.Second},
		{"tasks=10-60s/burst=2000", 2000, 10 * time.Second, 60 * time.Second},
	} {
		b.Run(tc.name, func(b *testing.B) {
			massRebuild(b, tc.burst, kojitest.WithTaskTiming(tc.min, tc.max))
		})
	}
}

// warmBroker runs one untimed pass per process, for the reason
// BenchmarkServeActiveMQ gives.
var warmBroker sync.Once

// hubThroughput is the most tasks a real hub's scheduler closes in a
// second.
const hubThroughput = 20

func massRebuild(b *testing.B, burst int, timing kojitest.Option) {
	if broker == nil {
		testenv.Missing(b, "ActiveMQ")
	}
	b.StopTimer()
	warmBroker.Do(func() { servePass(b, benchWarmUp, false, false, kojitest.WithTaskDelay(0)) })
	doc, err := os.ReadFile(filepath.Join(serveData, "modulemd", "javapackages-tools-201801-f29.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		n := newBusNames("rebuild")
		hub := kojitest.New(b, timing, kojitest.WithTaskThroughput(hubThroughput))
		hub.AddTag("f29-modular-ursamajor")
		hub.AddPackage("f29-modular-ursamajor", "javapackages-tools")
		hub.AddPackage("f29-modular-ursamajor", "javapackages-tools-devel")
		events := make([]build.Event, burst)
		for i := range events {
			ev := javaEvent(60000+int64(i), "ready")
			events[i] = ev
			for _, name := range []string{ev.Name, ev.Name + "-devel"} {
				hub.AddBuild(kojitest.Build{NVR: ev.NVRFor(name), Module: &kojitest.Module{
					Name: name, Stream: ev.Stream, Version: ev.Version, Context: ev.Context,
					ModulemdStr: string(doc), MBSID: ev.ID}})
			}
		}
		createQueue(b, broker, n)
		s := newSender(b, broker, n)
		for _, ev := range events {
			s.send(b, ev)
		}
		cfg := baseConfig(b, n, hub, newMBS(b))
		def := config.Defaults()
		cfg.Workers = 16
		cfg.ModulemdSource = config.SourceKoji
		cfg.TaskPollInterval = def.TaskPollInterval
		cfg.RetryMinBackoff, cfg.RetryMaxBackoff = def.RetryMinBackoff, def.RetryMaxBackoff
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		stats0 := hub.Stats()
		cpu0, cpuOK := readCPU()
		b.StartTimer()
		start := time.Now()
		r := startApp(b, cfg)
		deadline := start.Add(10 * time.Minute)
		for gathered(r.reg, "mts_events_total", "outcome", service.OutcomeMatched) < float64(burst) {
			if time.Now().After(deadline) {
				b.Fatalf("only %v of %d events handled", gathered(r.reg, "mts_events_total", "outcome", service.OutcomeMatched), burst)
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		cpu1, _ := readCPU()
		runtime.ReadMemStats(&m1)
		r.stop()
		var reqs int
		var bytes int64
		var busy time.Duration
		for method, st := range hub.Stats() {
			reqs += st.Requests - stats0[method].Requests
			bytes += st.Bytes - stats0[method].Bytes
			busy += st.Busy - stats0[method].Busy
		}
		per := func(x float64) float64 { return x / float64(burst) }
		b.ReportMetric(per(float64(reqs)), "hub-req/event")
		b.ReportMetric(per(float64(bytes)/1024), "hub-KB/event")
		b.ReportMetric(per(busy.Seconds()*1000), "ms-hub/event")
		if cpuOK {
			b.ReportMetric(per((cpu1.self-cpu0.self).Seconds()*1000), "ms-cpu/event")
		}
		b.ReportMetric(per(float64(m1.TotalAlloc-m0.TotalAlloc)/1024), "KB-alloc/event")
		b.ReportMetric(float64(burst)/elapsed.Seconds(), "events/s")
		b.ReportMetric(elapsed.Seconds(), "s-settled")
		tasks := map[string]int{}
		for _, c := range hub.TagCalls() {
			if c.TaskID != 0 {
				tasks[c.NVR]++
			}
		}
		for _, ev := range events {
			for _, name := range []string{ev.Name, ev.Name + "-devel"} {
				if got := tasks[ev.NVRFor(name)]; got != 1 {
					b.Errorf("%s: %d tasks, want one", ev.NVRFor(name), got)
				}
			}
		}
	}
}
