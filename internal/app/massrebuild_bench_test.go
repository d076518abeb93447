package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	for _, tc := range rebuildCases {
		b.Run(tc.name, func(b *testing.B) {
			massRebuild(b, tc.burst, kojitest.WithTaskTiming(tc.min, tc.max), inProcess)
		})
	}
}

// BenchmarkMassRebuildProcess is BenchmarkMassRebuild with the service in
// an mts serve process of its own, so that its CPU is its own: the user
// and system time of the process from its start until it exits after
// SIGTERM, once every event is settled (ms-cpu-mts/event), and the
// process's CPU until then (ms-cpu-mts-settled/event, in the kernel's
// 10 ms ticks).
func BenchmarkMassRebuildProcess(b *testing.B) {
	if broker == nil {
		testenv.Missing(b, "ActiveMQ")
	}
	b.StopTimer()
	bin := buildMTS(b)
	for _, tc := range rebuildCases {
		b.Run(tc.name, func(b *testing.B) {
			massRebuild(b, tc.burst, kojitest.WithTaskTiming(tc.min, tc.max), serveProcess(bin))
		})
	}
}

var rebuildCases = []struct {
	name     string
	burst    int
	min, max time.Duration
}{
	{"tasks=0.5-2s/burst=100", 100, 500 * time.Millisecond, 2 * time.Second},
	{"tasks=0.5-2s/burst=400", 400, 500 * time.Millisecond, 2 * time.Second},
	{"tasks=0.5-2s/burst=2000", 2000, 500 * time.Millisecond, 2 * time.Second},
	{"tasks=10-60s/burst=400", 400, 10 * time.Second, 60 * time.Second},
	{"tasks=10-60s/burst=2000", 2000, 10 * time.Second, 60 * time.Second},
}

// warmBroker runs one untimed pass per process, for the reason
// BenchmarkServeActiveMQ gives.
var warmBroker sync.Once

// hubThroughput is the most tasks a real hub's scheduler closes in a
// second.
const hubThroughput = 20

// rebuildService runs the service of a mass rebuild on the queues of n,
// the stand-in hub and MBS until the burst of events is settled, and
// reports what it can measure of the service alone; settled is the time
// from its start until the last event was settled.
type rebuildService func(b *testing.B, n busNames, hub *kojitest.Hub, m *mbsStandIn, burst int) (settled time.Duration)

// inProcess runs the service in the test process, as mts serve does, its
// settings those of baseConfig but for the mass rebuild's; the process's
// CPU and allocations are the service's and the stand-ins' together.
func inProcess(b *testing.B, n busNames, hub *kojitest.Hub, m *mbsStandIn, burst int) time.Duration {
	cfg := baseConfig(b, n, hub, m)
	def := config.Defaults()
	cfg.Workers = 16
	cfg.ModulemdSource = config.SourceKoji
	cfg.TaskPollInterval = def.TaskPollInterval
	cfg.RetryMinBackoff, cfg.RetryMaxBackoff = def.RetryMinBackoff, def.RetryMaxBackoff
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, cpuOK := readCPU()
	b.StartTimer()
	start := time.Now()
	r := startApp(b, cfg)
	awaitSettled(b, r.reg, burst)
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1, _ := readCPU()
	runtime.ReadMemStats(&m1)
	r.stop()
	if cpuOK {
		b.ReportMetric(float64(cpu1.self-cpu0.self)/float64(time.Millisecond)/float64(burst), "ms-cpu/event")
	}
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/1024/float64(burst), "KB-alloc/event")
	return elapsed
}

// rebuildTuning is the mass rebuild's service: the default settings but
// for 16 workers and the modulemd from the hub. The shutdown timeout is the
// default's and the log at the default level goes to a file.
const rebuildTuning = `workers: 16
modulemd_source: koji
listen_address: %s
`

// serveProcess runs the service as an mts serve process of bin.
func serveProcess(bin string) rebuildService {
	return func(b *testing.B, n busNames, hub *kojitest.Hub, m *mbsStandIn, burst int) time.Duration {
		addr := freeAddr(b)
		conf := serveConfig(b, n, hub, m, fmt.Sprintf(rebuildTuning, addr))
		logFile, err := os.Create(filepath.Join(b.TempDir(), "mts.log"))
		if err != nil {
			b.Fatal(err)
		}
		defer logFile.Close()
		defer func() {
			if b.Failed() {
				b.Log(tail(logFile.Name(), 4096))
			}
		}()
		b.StartTimer()
		start := time.Now()
		cmd := startMTS(b, bin, conf, logFile)
		awaitSettled(b, scrape("http://"+addr+"/monitor/metrics"), burst)
		elapsed := time.Since(start)
		b.StopTimer()
		settled, statOK := procCPU(cmd.Process.Pid)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("mts serve after SIGTERM: %v", err)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatalf("no resource usage of mts serve on this system")
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(burst), "ms-cpu-mts/event")
		if statOK {
			b.ReportMetric(float64(settled)/float64(time.Millisecond)/float64(burst), "ms-cpu-mts-settled/event")
		}
		b.ReportMetric(float64(ru.Maxrss)/1024, "MB-maxrss-mts")
		return elapsed
	}
}

// awaitSettled waits until the service of g has settled burst events as
// matched, at most 10 minutes.
func awaitSettled(b *testing.B, g prometheus.Gatherer, burst int) {
	deadline := time.Now().Add(10 * time.Minute)
	for gathered(g, "mts_events_total", "outcome", service.OutcomeMatched) < float64(burst) {
		if time.Now().After(deadline) {
			_, err := g.Gather()
			b.Fatalf("only %v of %d events handled (metrics: %v)", gathered(g, "mts_events_total", "outcome", service.OutcomeMatched), burst, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func massRebuild(b *testing.B, burst int, timing kojitest.Option, run rebuildService) {
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
		stats0 := hub.Stats()
		elapsed := run(b, n, hub, newMBS(b), burst)
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

// freeAddr is a local address no one listens on, for a process's
// endpoints.
func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape gathers the metrics a process serves at url; none while it does
// not answer.
func scrape(url string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		resp, err := http.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, f := range fams {
			out = append(out, f)
		}
		return out, err
	})
}

// procCPU is the user and system CPU time process pid has used, from
// /proc in clock ticks of 10 ms; ok is false where there is none.
func procCPU(pid int) (cpu time.Duration, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which may hold spaces: state is the
	// first, utime the 12th and stime the 13th.
	_, rest, ok := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// tail is the end of file, at most n bytes.
func tail(file string, n int64) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if int64(len(data)) > n {
		data = data[int64(len(data))-n:]
	}
	return string(data)
}

// BenchmarkMassRebuildKoji is a mass rebuild as Koji's own events show
// it: builds tagged into f45-rebuild, whose build.tag events wait on the
// bus, flow through an mts serve process to a rule that tags each one on
// into f45 (testdata/serve/rules-koji-rebuild); the echo of each of
// mts's own tags comes back through the broker and is decided too. Two
// shapes: Fedora's flat buildsys.tag bodies over AMQP 0-9-1 (the
// machine's RabbitMQ), and protonmsg's over STOMP (ActiveMQ, as UMB).
// The rule reads the build's types, which neither body carries for an
// RPM, so the hub is asked. The stand-in hub runs each tagBuild task
// 0.5-2 s after the call, with no limit on its scheduler (so events/s is
// the service's pace, not a hub's 20 tasks a second).
//
// It reports, per event consumed (each build's build.tag and the echo
// of mts's own tag: two per build), the hub's requests and KB of answers,
// and the events settled a second and the CPU of the mts process; and
// per build the hub's requests. It fails if a build is not tagged into
// f45 by exactly one task, or if a shape goes over the hub budget of
// TestHubBudgetPerEvent (3.5 requests and 30 KB per event in a burst).
//
// The number of builds is MTS_REBUILD_BUILDS (default 500); the mass
// rebuild figure in BENCHMARKS.md is 10000:
//
//	MTS_REBUILD_BUILDS=10000 go test -p 1 -run '^$' -bench 'MassRebuildKoji' -benchtime 1x -benchmem ./internal/app/
func BenchmarkMassRebuildKoji(b *testing.B) {
	builds := 500
	if s := os.Getenv("MTS_REBUILD_BUILDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("MTS_REBUILD_BUILDS=%q: want a number of builds", s)
		}
		builds = n
	}
	b.StopTimer()
	bin := buildMTS(b)
	for _, shape := range rebuildShapes {
		b.Run(fmt.Sprintf("%s/builds=%d", shape.name, builds), func(b *testing.B) {
			for range b.N {
				massRebuildKoji(b, shape.setup(b), builds, bin)
			}
		})
	}
}

// rebuildBus is how one shape of Koji's events reaches mts: the
// forwarder the hub's plugin sends through, and mts serve's bus settings
// in YAML.
type rebuildBus struct {
	dial      func() (*testenv.KojiForwarder, error)
	serveYAML string
}

var rebuildShapes = []struct {
	name  string
	setup func(b *testing.B) rebuildBus
}{
	{"fedora-flat-amqp091", rebuildOnFedoraMessaging},
	{"protonmsg-stomp", rebuildOnActiveMQ},
}

// rebuildOnFedoraMessaging binds a queue of the benchmark's own to
// Fedora's buildsys.tag routing key before the hub sends, so that the
// burst waits in it for mts.
func rebuildOnFedoraMessaging(b *testing.B) rebuildBus {
	u := uniqueName("t")
	queue, prefix := "mts-rebuild-"+u, "org.fedoraproject."+u
	tagKey := testenv.FedoraTopicPrefix + "buildsys.tag"
	bindQueue(b, machineRabbit, queue, tagKey)
	b.Cleanup(func() {
		ch := testenv.RabbitChannel(b, machineRabbit)
		_, _ = ch.QueueDelete(queue, false, false, false)
	})
	return rebuildBus{
		dial: func() (*testenv.KojiForwarder, error) { return testenv.ForwardFedoraMessaging(machineRabbit) },
		serveYAML: fmt.Sprintf("messaging_backend: fedora-messaging\namqp_url: %s\namqp_queue: %s\namqp_routing_keys: [%s.mbs.module.state.change]\namqp_topic_prefix: %s.mts\namqp_inputs: [%s]\n",
			machineRabbit, queue, prefix, prefix, tagKey),
	}
}

// rebuildOnActiveMQ makes the virtual topic's consumer queue that mts
// reads before the hub sends.
func rebuildOnActiveMQ(b *testing.B) rebuildBus {
	if broker == nil {
		testenv.Missing(b, "ActiveMQ")
	}
	n := newBusNames("rebuildkoji")
	prefix := "VirtualTopic.eng.brew." + uniqueName("t")
	queue := "Consumer.mts.queue." + prefix + ".build.tag"
	makeVirtualTopicQueues(b, broker, prefix, []string{queue}, []string{"build.tag"})
	createQueue(b, broker, n)
	return rebuildBus{
		dial: func() (*testenv.KojiForwarder, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return testenv.ForwardSTOMP(ctx, broker.STOMPAddr, prefix)
		},
		serveYAML: fmt.Sprintf("messaging_backend: rhmsg\nrhmsg_brokers: [%s]\nrhmsg_queue: %s\nrhmsg_topic_prefix: %s\nrhmsg_inputs: [%s]\n",
			broker.STOMPAddr, n.queue, n.outPrefix, queue),
	}
}

// The hub budget of TestHubBudgetPerEvent, for events in a burst.
const (
	burstBudgetRequests = 3.5
	burstBudgetKB       = 30
)

func massRebuildKoji(b *testing.B, bus rebuildBus, builds int, bin string) {
	b.StopTimer()
	relay := newRelay(b, bus.dial)
	hub := kojitest.New(b, kojitest.WithEvents(relay.forward), kojitest.WithTaskTiming(500*time.Millisecond, 2*time.Second))
	hub.AddTag("f45-rebuild")
	hub.AddTag("f45")
	hub.AddUser("mts", "tag")
	nvrs := make([]string, builds)
	for i := range nvrs {
		name := fmt.Sprintf("rebuild%05d", i)
		nvrs[i] = name + "-1.0-1.fc45"
		hub.AddBuild(kojitest.Build{NVR: nvrs[i]})
		hub.AddPackage("f45", name)
		hub.Tag("f45-rebuild", nvrs[i])
	}
	deadline := time.Now().Add(10 * time.Minute)
	for relay.count("build.tag") < builds {
		if time.Now().After(deadline) {
			b.Fatalf("the broker took %d of %d build.tag messages", relay.count("build.tag"), builds)
		}
		time.Sleep(50 * time.Millisecond)
	}

	dir := b.TempDir()
	rules, err := filepath.Abs(filepath.Join(serveData, "rules-koji-rebuild", "rebuild.cel.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	conf := filepath.Join(dir, "mts.yaml")
	yaml := fmt.Sprintf("rules: [%s]\nmbs_api_url: http://127.0.0.1:1/\nkoji_profile: mts-test\nkoji_config: %s\ndecision_store: %s\nworkers: 16\nlisten_address: %s\n",
		rules, kojiProfile(b, hub), filepath.Join(dir, "decisions.db"), addr)
	if err := os.WriteFile(conf, []byte(yaml+bus.serveYAML), 0o600); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "mts.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	defer func() {
		if b.Failed() {
			b.Log(tail(logFile.Name(), 4096))
		}
	}()

	stats0 := hub.Stats()
	events := 2 * builds // each build's build.tag and the echo of mts's own
	b.StartTimer()
	start := time.Now()
	cmd := startMTS(b, bin, conf, logFile)
	g := scrape("http://" + addr + "/monitor/metrics")
	decided := func() float64 {
		return gathered(g, "mts_events_total", "outcome", service.OutcomeMatched) +
			gathered(g, "mts_events_total", "outcome", service.OutcomeUnmatched)
	}
	for deadline := time.Now().Add(30 * time.Minute); decided() < float64(events); {
		if time.Now().After(deadline) {
			b.Fatalf("%v of %d events decided", decided(), events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("mts serve after SIGTERM: %v", err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatalf("no resource usage of mts serve on this system")
	}
	var reqs int
	var bytes int64
	byMethod := map[string]int{}
	for method, st := range hub.Stats() {
		reqs += st.Requests - stats0[method].Requests
		bytes += st.Bytes - stats0[method].Bytes
		if n := st.Requests - stats0[method].Requests; n > 0 {
			byMethod[method] = n
		}
	}
	b.Logf("hub requests by method: %v", byMethod)
	perEvent := func(x float64) float64 { return x / float64(events) }
	reqEvent, kbEvent := perEvent(float64(reqs)), perEvent(float64(bytes)/1024)
	b.ReportMetric(reqEvent, "hub-req/event")
	b.ReportMetric(kbEvent, "hub-KB/event")
	b.ReportMetric(float64(reqs)/float64(builds), "hub-req/build")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(perEvent(float64(ru.Utime.Nano()+ru.Stime.Nano())/float64(time.Millisecond)), "ms-cpu-mts/event")
	b.ReportMetric(float64(ru.Maxrss)/1024, "MB-maxrss-mts")
	b.ReportMetric(elapsed.Seconds(), "s-settled")
	if reqEvent > burstBudgetRequests || kbEvent > burstBudgetKB {
		b.Errorf("%.2f hub requests and %.1f KB per event, budget %v and %v", reqEvent, kbEvent, burstBudgetRequests, burstBudgetKB)
	}
	got := tasks(hub)
	for _, nvr := range nvrs {
		if n := got[[2]string{nvr, "f45"}]; n != 1 {
			b.Errorf("%s: %d tasks into f45, want one", nvr, n)
		}
	}
}
