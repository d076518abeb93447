package service_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// BenchmarkServeActiveMQ measures one consumer end to end: events sent to
// ActiveMQ, modulemd from the MBS stand-in, tagBuild on the Koji stand-in
// (no added latency), announcements published back with receipts.
func BenchmarkServeActiveMQ(b *testing.B) {
	if broker == nil {
		b.Skip("ActiveMQ not available")
	}
	tb := testing.TB(b)
	n := newBusNames("bench")
	hub := kojitest.New(tb, kojitest.WithTaskDelay(0))
	for _, tag := range []string{"f29-modular-ursamajor"} {
		hub.AddTag(tag)
		hub.AddPackage(tag, "javapackages-tools")
		hub.AddPackage(tag, "javapackages-tools-devel")
	}
	m := newMBS(b)
	rs, err := ruleset.Load([]string{serveData + "/rules-e2e/v1.yaml"}, ruleset.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range int64(b.N) {
		ev := javaEvent(50000+i, "ready")
		addJava(hub, m, ev)
	}
	// The events wait in the queue before the service starts, so that what
	// is timed is the consumer, not the sender's persistent sends.
	createQueue(b, broker, n)
	s := newSender(b, broker, n)
	for i := range int64(b.N) {
		s.send(b, javaEvent(50000+i, "ready"))
	}
	b.ResetTimer()
	start := time.Now()
	r := startServiceWith(b, broker, n, hub, m, fixedRules{rs}, 16)
	deadline := time.Now().Add(5 * time.Minute)
	for r.events(service.OutcomeMatched) < float64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %v of %d events handled", r.events(service.OutcomeMatched), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
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
