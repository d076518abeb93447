package ruleset

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/policy"
)

// syntheticRules writes n legacy rules shaped like production ones (a name,
// the platform dependency with a named group, development), where only the
// last rule matches the benchmark's build: the worst case for first match.
func syntheticRules(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `- id: rule %d
  type: module
  rule:
    name: '^module-%d$'
    stream: '.*'
    dependencies:
      requires:
        platform: '^(?P<platform>f\d+)$'
    scratch: no
    development: no
  destinations: '\g<platform>-modular-%d'
`, i, i, i)
	}
	return []byte(b.String())
}

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
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rules-%d", n), func(b *testing.B) {
			rs, err := LoadBytes("synthetic.yaml", syntheticRules(n), Options{})
			if err != nil {
				b.Fatal(err)
			}
			doc, err := modulemd.Parse([]byte(fmt.Sprintf(
				"data: {name: module-%d, stream: '1', dependencies: [{requires: {platform: [f31]}}]}", n-1)))
			if err != nil {
				b.Fatal(err)
			}
			in := doc.Input(build.Event{ID: 1, Name: "m", Stream: "1", StateName: "ready"})
			b.ReportAllocs()
			for b.Loop() {
				d, err := rs.Set.Eval(in)
				if err != nil || d.Outcome != policy.Matched || d.Rule.Index != n {
					b.Fatalf("%v %v", d.Outcome, err)
				}
			}
		})
	}
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
}

func BenchmarkLoad(b *testing.B) {
	data := syntheticRules(10000)
	b.Run("rules-10000", func(b *testing.B) {
		b.ReportAllocs()
		var ms runtime.MemStats
		for b.Loop() {
			rs, err := LoadBytes("synthetic.yaml", data, Options{})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-heap-after-load")
			runtime.KeepAlive(rs)
		}
	})
}
