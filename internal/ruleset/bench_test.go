package ruleset

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/rulegen"
	"github.com/fedora-modularity/mts/policy"
)

func benchDoc(b *testing.B, name string) *modulemd.Document {
	data, err := os.ReadFile("../../testdata/modulemd/" + name)
	if err != nil {
		b.Fatal(err)
	}
	doc, err := modulemd.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

func BenchmarkDecision(b *testing.B) {
	b.Run("fedora", func(b *testing.B) {
		rs, err := Load([]string{"../../rules/fedora/fedora.yaml"}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		doc := benchDoc(b, "nodejs-12-f31.yaml")
		in := doc.Input(build.Event{ID: 1, Name: "nodejs", Stream: "12", Version: "3120191201000000", Context: "abc", StateName: "ready"})
		b.ReportAllocs()
		for b.Loop() {
			d, err := rs.Set.Eval(in)
			if err != nil || d.Outcome != policy.Matched {
				b.Fatalf("%v %v", d.Outcome, err)
			}
		}
	})
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("mixed-%d", n), func(b *testing.B) {
			benchMixed(b, n)
		})
	}
}

// benchMixed decides the corpus documents of a generated mixed set in
// turn. Besides the mean it reports the median and the worst document's
// time per decision.
func benchMixed(b *testing.B, n int) {
	mix, _ := rulegen.MixNamed("mixed")
	gen := rulegen.Generate(1, n, mix)
	rs, err := LoadBytes("mixed.yaml", gen.YAML, Options{})
	if err != nil {
		b.Fatal(err)
	}
	cases := generatedCases(b, gen)
	ins := make([]*policy.Input, len(cases))
	for i, c := range cases {
		ins[i] = c.doc.Input(c.ev)
	}
	// Let the collection of what loading left behind finish, as the
	// service does after a load, so that it does not run inside the loop.
	runtime.GC()
	spent := make([]time.Duration, len(ins))
	runs := make([]int, len(ins))
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		k := i % len(ins)
		i++
		t0 := time.Now()
		_, _ = rs.Set.Eval(ins[k])
		spent[k] += time.Since(t0)
		runs[k]++
	}
	per := make([]float64, 0, len(ins))
	for k := range ins {
		if runs[k] > 0 {
			per = append(per, float64(spent[k])/float64(runs[k]))
		}
	}
	slices.Sort(per)
	b.ReportMetric(per[len(per)/2], "median-ns")
	b.ReportMetric(per[len(per)-1], "worst-ns")
}

// BenchmarkEvent is what the service does per event: read the modulemd
// document, then decide.
func BenchmarkEvent(b *testing.B) {
	b.Run("fedora", func(b *testing.B) {
		rs, err := Load([]string{"../../rules/fedora/fedora.yaml"}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		data, err := os.ReadFile("../../testdata/modulemd/nodejs-12-f31.yaml")
		if err != nil {
			b.Fatal(err)
		}
		ev := build.Event{ID: 1, Name: "nodejs", Stream: "12", Version: "3120191201000000", Context: "abc", StateName: "ready"}
		b.ReportAllocs()
		for b.Loop() {
			doc, err := modulemd.Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			if d, err := rs.Decide(ev, doc); err != nil || d.Outcome != policy.Matched {
				b.Fatalf("%v %v", d.Outcome, err)
			}
		}
	})
	// Where the time of an event goes: the YAML library building its node
	// tree, then our YAML 1.1 resolution into Python-like values.
	data, err := os.ReadFile("../../testdata/modulemd/nodejs-12-f31.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("yaml-nodes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pyyaml.Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml-1.1-values", func(b *testing.B) {
		root, err := pyyaml.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pyyaml.Decode(root); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad loads generated mixed sets. Besides wall time it reports
// the CPU time the process spent per load (steadier than wall time on a
// shared machine), the live heap once loaded and the peak resident size of
// the process so far (VmHWM: run one size at a time for its own peak).
func BenchmarkLoad(b *testing.B) {
	mix, _ := rulegen.MixNamed("mixed")
	for _, n := range []int{10000, 100000} {
		data := rulegen.Generate(1, n, mix).YAML
		b.Run(fmt.Sprintf("mixed-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ms runtime.MemStats
			cpu0 := cpuTime()
			for b.Loop() {
				rs, err := LoadBytes("mixed.yaml", data, Options{})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-heap-after-load")
				runtime.KeepAlive(rs)
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(peakRSS(b)/(1<<20), "MB-peak-RSS")
		})
	}
}

// cpuTime is the user and system time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads the process's peak resident size from /proc.
func peakRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb * 1024
		}
	}
	return 0
}
