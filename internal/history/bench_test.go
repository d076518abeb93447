package history_test

import (
	"context"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
)

// BenchmarkRecord is what the decision store adds to one event: the
// record of a decision, committed to a file on disk, with its modulemd
// document (every build its own, as in production) and its tasks.
// "matched" tags a build and its -devel twin; "unmatched" announces only;
// "redelivered" is the same message again; "matched-large-document" has
// a document of 25 KB, the size of a ready build's with its artifacts
// listed (the fixtures have them trimmed). The parallel variants write
// from 4 workers, as mts serve does.
func BenchmarkRecord(b *testing.B) {
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(b, "fixed")
	rules.Set(rs)
	matched := historytest.Decision(b, rs, 102, "nodejs-12-f31.yaml", "", 5000)
	unmatched := historytest.Decision(b, rs, 104, "ant-1-el8-upstream-nomatch.yaml", "", 0)
	large := matched
	large.Modulemd = withArtifacts(matched.Modulemd, 400)
	for _, tc := range []struct {
		name     string
		r        decision.Record
		same     bool
		parallel bool
	}{
		{"matched", matched, false, false},
		{"unmatched", unmatched, false, false},
		{"redelivered", matched, true, false},
		{"matched-4-workers", matched, false, true},
		{"matched-large-document", large, false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := historytest.OpenStore(b, rules, history.Options{})
			// The background work (checkpoints) runs as in mts serve.
			go s.Run(ctx)
			base := tc.r.Modulemd
			var n atomic.Int64
			record := func() {
				i := n.Add(1)
				r := tc.r
				if !tc.same {
					r.MessageID = fmt.Sprintf("2026-%d", i)
					r.EventID = 10000 + i
					r.Modulemd = base + "# build " + strings.Repeat("x", int(i%7)) + fmt.Sprint(i) + "\n"
				} else {
					r.MessageID = "2026-same"
				}
				if err := s.Record(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if tc.parallel {
				b.SetParallelism(max(1, 4/runtime.GOMAXPROCS(0))) // 4 workers on the 2-core CI machine
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						record()
					}
				})
				return
			}
			for b.Loop() {
				record()
			}
		})
	}
}

// withArtifacts adds n binary RPMs to a document, as MBS lists them for a
// ready build.
func withArtifacts(doc string, n int) string {
	var sb strings.Builder
	sb.WriteString(doc)
	sb.WriteString("# artifacts:\n#   rpms:\n")
	for i := range n {
		fmt.Fprintf(&sb, "#   - nodejs-sub%d-1:12.13.1-%d.module_f31+7230+39e1b3e8.%s\n", i/4, i%3+1, []string{"x86_64", "aarch64", "ppc64le", "s390x"}[i%4])
	}
	return sb.String()
}

// BenchmarkList is the question of `mts why` and the API: every decision
// of one build among 20,000.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(b, "fixed")
	rules.Set(rs)
	s := historytest.OpenStore(b, rules, history.Options{})
	r := historytest.Decision(b, rs, 102, "nodejs-12-f31.yaml", "", 5000)
	for i := range 20000 {
		r.MessageID = fmt.Sprintf("m%d", i)
		r.EventID = int64(i)
		r.Decision.Event.Module.Version = fmt.Sprint(3120191115180204 + i)
		if err := s.Record(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ds, err := s.List(ctx, history.Filter{Build: "nodejs:12:3120191115190204:eed43de7"})
		if err != nil || len(ds) != 1 {
			b.Fatalf("%d decisions, %v", len(ds), err)
		}
	}
}
