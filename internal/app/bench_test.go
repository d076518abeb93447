package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// BenchmarkServeActiveMQ measures one consumer end to end: events sent to
// ActiveMQ, modulemd from the MBS stand-in, tagBuild on the Koji stand-in,
// announcements published back with receipts. The stand-in runs each task
// at once (tasks=at-once), or 0.5-2 s after the call as a real hub's
// scheduler does (tasks=0.5-2s), where our pending tasks pile up on the hub
// and every look before tagBuild decodes them all. The
// service runs as mts serve configures it (16 workers, prefetch 16, the
// publisher's default pool of connections and the default Koji sessions)
// but keeps no decision store; BenchmarkServeActiveMQStore adds one.
//
// A first, untimed pass of benchWarmUp events warms the broker up: a
// freshly started JVM spends more CPU compiling than serving, where a
// production broker has long been running.
func BenchmarkServeActiveMQ(b *testing.B) { serveBenchTimings(b, false) }

// BenchmarkServeActiveMQStore is BenchmarkServeActiveMQ with the decision
// store that mts serve keeps by default, a SQLite file on local disk.
func BenchmarkServeActiveMQStore(b *testing.B) { serveBenchTimings(b, true) }

func serveBenchTimings(b *testing.B, store bool) {
	b.Run("tasks=at-once", func(b *testing.B) { serveBench(b, store, kojitest.WithTaskDelay(0)) })
	b.Run("tasks=0.5-2s", func(b *testing.B) {
		serveBench(b, store, kojitest.WithTaskTiming(500*time.Millisecond, 2*time.Second))
	})
}

func serveBench(b *testing.B, store bool, timing kojitest.Option) {
	if broker == nil {
		testenv.Missing(b, "ActiveMQ")
	}
	b.StopTimer()
	servePass(b, benchWarmUp, false, store, timing)
	r := servePass(b, b.N, true, store, timing)
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
	// The look at the hub before tagBuild (tag listing and pending tasks
	// in one multiCall), as the service times it per event, and every
	// multiCall (that look, the second look after tagBuild, the naming of
	// a task that already ran) as the Koji client times them.
	b.ReportMetric(perEvent(r.lookup), "ms-lookup/event")
	b.ReportMetric(perEvent(r.multiCall), "ms-multicall/event")
	b.ReportMetric(float64(r.multiCalls)/float64(b.N), "multicalls/event")
}

const benchWarmUp = 1000

// passResult is what one pass of the service over queued events measured.
type passResult struct {
	elapsed      time.Duration
	cpu          cpuTimes
	cpuOK        bool
	handle, koji time.Duration // summed over events and calls
	mbs          time.Duration
	lookup       time.Duration
	multiCall    time.Duration
	multiCalls   int
}

// servePass queues count events, then times a new service consuming them
// all, with a decision store or none; when timed, the benchmark's timer
// runs only while it does.
func servePass(b *testing.B, count int, timed, store bool, timing kojitest.Option) passResult {
	n := newBusNames("bench")
	hub := kojitest.New(b, timing)
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
	calls0 := hub.CallCount("multiCall")
	r0 := startBenchService(b, n, hub, m, 16, store)
	reg := r0.reg
	defer r0.stop()
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
	r.handle = seconds(sampleSum(reg, "mts_event_duration_seconds", ""))
	r.koji = seconds(sampleSum(reg, "mts_koji_call_duration_seconds", ""))
	r.mbs = time.Duration(m.busy.Load())
	r.lookup = seconds(sampleSum(reg, "mts_tag_lookup_duration_seconds", ""))
	r.multiCall = seconds(sampleSum(reg, "mts_koji_call_duration_seconds", "multiCall"))
	r.multiCalls = hub.CallCount("multiCall") - calls0
	return r
}

// startBenchService runs the service as mts serve would, with the given
// number of workers (the broker's prefetch following it), and its
// decision store in a file of the benchmark's, or none.
func startBenchService(b *testing.B, n busNames, hub *kojitest.Hub, m *mbsStandIn, workers int, store bool) *running {
	b.Helper()
	cfg := baseConfig(b, n, hub, m)
	cfg.Workers = workers
	if !store {
		cfg.DecisionStore = ""
	}
	return startApp(b, cfg)
}

// cpuTimes is the CPU time used by this process (the service and the
// stand-ins) and by its running child processes (the broker).
type cpuTimes struct{ self, children time.Duration }

// readCPU reads the CPU times from /proc; ok is false where there is none.
// Children are found in /proc/self/task/*/children and their times read
// by procCPU.
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
		for _, field := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(field)
			if err != nil {
				continue
			}
			if cpu, ok := procCPU(pid); ok {
				t.children += cpu
			}
		}
	}
	return t, true
}

// sampleSum adds up the sums of a histogram's series, of those with
// method as their method label when it is set.
func sampleSum(g prometheus.Gatherer, name, method string) float64 {
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
			if method == "" || hasLabel(m, "method", method) {
				sum += m.GetHistogram().GetSampleSum()
			}
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
