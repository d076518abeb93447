package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// BenchmarkServeActiveMQ measures one consumer end to end: events sent to
// ActiveMQ, modulemd from the MBS stand-in, tagBuild on the Koji stand-in
// (no added latency), announcements published back with receipts. The
// service runs as mts serve configures it: 16 workers, prefetch 16, the
// publisher's default pool of connections and benchKojiSessions sessions.
//
// A first, untimed pass of benchWarmUp events warms the broker up: a
// freshly started JVM spends more CPU compiling than serving, where a
// production broker has long been running.
func BenchmarkServeActiveMQ(b *testing.B) { serveBench(b, false) }

// BenchmarkServeActiveMQStore is BenchmarkServeActiveMQ with a decision
// store on disk, as mts serve runs by default.
func BenchmarkServeActiveMQStore(b *testing.B) { serveBench(b, true) }

func serveBench(b *testing.B, withStore bool) {
	if broker == nil {
		b.Skip("ActiveMQ not available")
	}
	rs, err := ruleset.Load([]string{serveData + "/rules-e2e/v1.yaml"}, ruleset.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var rec service.Recorder
	if withStore {
		store, err := history.Open(context.Background(), filepath.Join(b.TempDir(), "decisions.db"), history.Options{Rules: fixedRules{rs}})
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		rec = store
	}
	b.StopTimer()
	servePass(b, fixedRules{rs}, benchWarmUp, false, rec)
	r := servePass(b, fixedRules{rs}, b.N, true, rec)
	b.ReportMetric(float64(b.N)/r.elapsed.Seconds(), "events/s")
	perEvent := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	if r.cpuOK {
		// Everything runs on this machine: where its CPU goes per event
		// shows what bounds the rate once no worker waits for another.
		b.ReportMetric(perEvent(r.cpu.self), "ms-cpu-go/event")
		b.ReportMetric(perEvent(r.cpu.children), "ms-cpu-broker/event")
	}
	// What an event costs besides waiting for Koji (a session included)
	// and MBS: the bus (acknowledgement, announcements), decisions and
	// queueing for the CPU.
	b.ReportMetric(perEvent(r.handle-r.koji-r.mbs), "ms-added/event")
}

const benchWarmUp = 1000

// passResult is what one pass of the service over queued events measured.
type passResult struct {
	elapsed      time.Duration
	cpu          cpuTimes
	cpuOK        bool
	handle, koji time.Duration // summed over events and calls
	mbs          time.Duration
}

// servePass queues count events, then times a new service consuming them
// all; when timed, the benchmark's timer runs only while it does.
func servePass(b *testing.B, rules service.Rules, count int, timed bool, rec service.Recorder) passResult {
	n := newBusNames("bench")
	hub := kojitest.New(b, kojitest.WithTaskDelay(0))
	hub.AddTag("f29-modular-ursamajor")
	hub.AddPackage("f29-modular-ursamajor", "javapackages-tools")
	hub.AddPackage("f29-modular-ursamajor", "javapackages-tools-devel")
	m := newMBS(b)
	for i := range int64(count) {
		addJava(hub, m, javaEvent(50000+i, "ready"))
	}
	// The events wait in the queue before the service starts, so that what
	// is timed is the consumer, not the sender's persistent sends.
	createQueue(b, broker, n)
	s := newSender(b, broker, n)
	for i := range int64(count) {
		s.send(b, javaEvent(50000+i, "ready"))
	}
	if timed {
		b.StartTimer()
	}
	cpu0, cpuOK := readCPU()
	start := time.Now()
	reg, mbsTime, stop := startBenchService(b, n, hub, m, rules, 16, rec)
	defer stop()
	deadline := time.Now().Add(5 * time.Minute)
	// Polled, not too often: gathering the registry costs CPU that the
	// service, the stand-ins and the broker share.
	for gathered(reg, "mts_events_total", "outcome", service.OutcomeMatched) < float64(count) {
		if time.Now().After(deadline) {
			b.Fatalf("only %v of %d events handled", gathered(reg, "mts_events_total", "outcome", service.OutcomeMatched), count)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := passResult{elapsed: time.Since(start)}
	cpu1, _ := readCPU()
	b.StopTimer()
	r.cpuOK = cpuOK
	r.cpu = cpuTimes{self: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children}
	seconds := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	r.handle = seconds(sampleSum(reg, "mts_event_duration_seconds"))
	r.koji = seconds(sampleSum(reg, "mts_koji_call_duration_seconds"))
	r.mbs = mbsTime.Load()
	return r
}

// benchKojiSessions is the number of hub sessions mts serve asks for.
const benchKojiSessions = 4

// startBenchService runs the service on the benchmark's broker with the
// given number of workers, the broker's prefetch following it, and returns
// its metrics, the time spent waiting for MBS and how to stop it.
func startBenchService(b *testing.B, n busNames, hub *kojitest.Hub, m *mbsStandIn, rules service.Rules, workers int, rec service.Recorder) (*prometheus.Registry, *timedSource, func()) {
	b.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := stompConfig(broker, n)
	cfg.Prefetch = workers
	consumer, err := stomp.NewConsumer(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	pub, err := stomp.NewPublisher(cfg, bus.WithRegisterer(reg), bus.WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	kc, err := koji.New(&koji.Config{
		Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"),
		Timeout: 5 * time.Second, MaxRetries: 1, RetryInterval: 50 * time.Millisecond,
	}, koji.WithObserver(service.NewKojiMetrics(reg).Observe), koji.WithSessions(benchKojiSessions))
	if err != nil {
		b.Fatal(err)
	}
	src, err := mbs.New(m.URL(), mbs.Options{Timeout: 5 * time.Second, Attempts: 1})
	if err != nil {
		b.Fatal(err)
	}
	timed := &timedSource{src: src}
	svc, err := service.New(service.Config{
		Workers: workers, CheckTagged: true, RetryAttempts: 20,
		RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, ShutdownTimeout: 10 * time.Second,
	}, consumer, pub, kc, timed, rules, service.Options{Logger: log, Registerer: reg, Recorder: rec})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
		consumer.Close()
		pub.Close()
		kc.Close()
	}()
	return reg, timed, func() {
		cancel()
		<-done
	}
}

// timedSource adds up the time spent fetching modulemd documents.
type timedSource struct {
	src   service.ModulemdSource
	total atomic.Int64
}

func (t *timedSource) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	start := time.Now()
	doc, err := t.src.Modulemd(ctx, ev)
	t.total.Add(int64(time.Since(start)))
	return doc, err
}

func (t *timedSource) Load() time.Duration { return time.Duration(t.total.Load()) }

// cpuTimes is the CPU time used by this process (the service and the
// stand-ins) and by its running child processes (the broker).
type cpuTimes struct{ self, children time.Duration }

// readCPU reads the CPU times from /proc; ok is false where there is none.
// Children are found in /proc/self/task/*/children and their times read
// from /proc/<pid>/stat in clock ticks, 100 a second on Linux.
func readCPU() (cpuTimes, bool) {
	var t cpuTimes
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return t, false
	}
	t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	lists, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(lists) == 0 {
		return t, false
	}
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(data)) {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				continue
			}
			// Fields after the command name, which may hold spaces: state
			// is the first, utime the 12th and stime the 13th.
			_, rest, ok := strings.Cut(string(stat), ") ")
			f := strings.Fields(rest)
			if !ok || len(f) < 13 {
				continue
			}
			utime, err1 := strconv.ParseInt(f[11], 10, 64)
			stime, err2 := strconv.ParseInt(f[12], 10, 64)
			if err1 == nil && err2 == nil {
				t.children += time.Duration(utime+stime) * 10 * time.Millisecond
			}
		}
	}
	return t, true
}

// sampleSum adds up the sums of a histogram's series.
func sampleSum(g prometheus.Gatherer, name string) float64 {
	fams, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	return sum
}

// BenchmarkLoad10000Rules loads a rule file of 10,000 rules and reports
// the heap it keeps.
func BenchmarkLoad10000Rules(b *testing.B) {
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, `- id: rule %d
  type: module
  rule:
      name: '^module%d-[a-z]+$'
      dependencies:
          requires:
              platform: '^(?P<platform>f\d+)$'
  destinations: '\g<platform>-modular-tag%d'
`, i, i, i)
	}
	data := []byte(sb.String())
	b.ResetTimer()
	var keep *ruleset.Ruleset
	for range b.N {
		rs, err := ruleset.LoadBytes("10k.yaml", data, ruleset.Options{})
		if err != nil {
			b.Fatal(err)
		}
		keep = rs
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(float64(keep.Set.Len()), "rules")
}
