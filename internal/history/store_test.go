package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
)

func TestRecordIsIdempotentOnMessage(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	s := historytest.OpenStore(t, rules, history.Options{})

	r := historytest.Decision(t, rs, 101, historytest.Builds[0].File, "msg-1", 500)
	for range 3 {
		if err := s.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Another message for the same build is another event.
	if err := s.Record(ctx, historytest.Decision(t, rs, 101, historytest.Builds[0].File, "msg-2", 600)); err != nil {
		t.Fatal(err)
	}
	ds, err := s.List(ctx, history.Filter{Build: "101"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("got %d decisions, want 2 (one per message)", len(ds))
	}
	byMsg := map[string]history.Decision{}
	for _, d := range ds {
		byMsg[d.MessageID] = d
	}
	if got := byMsg["msg-1"].Deliveries; got != 3 {
		t.Errorf("msg-1 deliveries = %d, want 3", got)
	}
	d := byMsg["msg-1"]
	if d.Outcome != "matched" || d.RuleID == nil || *d.RuleID != "Fedora modules" || !slices.Equal(d.Destinations, []string{"f29-modular-updates-candidate"}) {
		t.Errorf("decision = %+v", d)
	}
	if len(d.Tasks) != 2 || d.Tasks[0].TaskID == nil || *d.Tasks[0].TaskID != 500 || d.Tasks[1].NVR != "javapackages-tools-devel-201801-2920190110130105.118bbc34" {
		t.Errorf("tasks = %+v", d.Tasks)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	c := historytest.NewClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now})
	for i, b := range historytest.Builds {
		c.Add(time.Hour)
		if err := s.Record(ctx, historytest.Decision(t, rs, b.ID, b.File, fmt.Sprintf("m%d", i), int64(100*i))); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f history.Filter) []int64 {
		t.Helper()
		ds, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, d := range ds {
			out = append(out, d.EventID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    history.Filter
		want []int64
	}{
		{"all, newest first", history.Filter{}, []int64{104, 103, 102, 101}},
		{"N:S:V:C", history.Filter{Build: "nodejs:12:3120191115180204:eed43de7"}, []int64{102}},
		{"N:S", history.Filter{Build: "nodejs:12"}, []int64{102}},
		{"N: is not a prefix of another name", history.Filter{Build: "node:12"}, nil},
		{"NVR", history.Filter{Build: "389-ds-1.4-3120191201000000.7b01bdb2"}, []int64{103}},
		{"devel NVR", history.Filter{Build: "javapackages-tools-devel-201801-2920190110130105.118bbc34"}, []int64{101}},
		{"MBS id", history.Filter{Build: "104"}, []int64{104}},
		{"outcome", history.Filter{Outcomes: []string{"unmatched"}}, []int64{104, 103, 102}},
		{"rule", history.Filter{Rule: "Fedora modules"}, []int64{101}},
		{"since", history.Filter{Since: c.Since(90 * time.Minute)}, []int64{104, 103}},
		{"limit", history.Filter{Limit: 1}, []int64{104}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExplainUsesTheStoredRevision(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	broken := historytest.LoadRules(t, "broken")
	rules.Set(broken)
	s := historytest.OpenStore(t, rules, history.Options{})
	if err := s.Record(ctx, historytest.Decision(t, broken, 102, historytest.Builds[1].File, "m", 0)); err != nil {
		t.Fatal(err)
	}
	// The rules are fixed and reloaded; the old decision is still
	// explained by the rules that made it.
	rules.Set(historytest.LoadRules(t, "fixed"))
	ds, err := s.List(ctx, history.Filter{Build: "102"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list: %v %v", ds, err)
	}
	dd, err := s.Detail(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	x := dd.Explanation
	if x == nil {
		t.Fatalf("no explanation: %s", dd.ExplainError)
	}
	if x.Revision != broken.Revision || x.Result.Outcome != "unmatched" || len(x.Rules) != 1 || x.Rules[0].Verdict != "no match" {
		t.Fatalf("explanation = %+v", x)
	}
	var nameStep bool
	for _, st := range x.Rules[0].Steps {
		if st.Label == "name" && !st.Result && st.Seen == "'nodejs'" {
			nameStep = true
		}
	}
	if !nameStep {
		t.Errorf("no failing name criterion in %+v", x.Rules[0].Steps)
	}
	revs, err := s.Revisions(ctx)
	if err != nil || len(revs) != 1 || revs[0].Revision != broken.Revision || revs[0].Decisions != 1 {
		t.Fatalf("revisions = %+v, %v", revs, err)
	}
}

func TestPruneRetention(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	old := historytest.LoadRules(t, "broken")
	rules.Set(old)
	c := historytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now, Retention: 30 * 24 * time.Hour})
	if err := s.Record(ctx, historytest.Decision(t, old, 102, historytest.Builds[1].File, "old", 0)); err != nil {
		t.Fatal(err)
	}
	c.Add(20 * 24 * time.Hour)
	fixed := historytest.LoadRules(t, "fixed")
	rules.Set(fixed)
	if err := s.Record(ctx, historytest.Decision(t, fixed, 101, historytest.Builds[0].File, "new", 10)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune within retention: %d, %v", n, err)
	}
	c.Add(15 * 24 * time.Hour)
	n, err := s.Prune(ctx)
	if err != nil || n != 1 {
		t.Fatalf("prune: %d, %v; want the one old decision", n, err)
	}
	ds, _ := s.List(ctx, history.Filter{})
	if len(ds) != 1 || ds[0].MessageID != "new" {
		t.Fatalf("left: %+v", ds)
	}
	// The old revision went with its last decision; its document too.
	revs, _ := s.Revisions(ctx)
	if len(revs) != 1 || revs[0].Revision != fixed.Revision {
		t.Fatalf("revisions left: %+v", revs)
	}
	if _, err := s.Document(ctx, &ds[0]); err != nil {
		t.Fatal(err)
	}
}

func TestPruneSizeBound(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	c := historytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	const bound = 256 << 10
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now, MaxBytes: bound})
	for i := range 600 {
		c.Add(time.Second)
		r := historytest.Decision(t, rs, int64(1000+i), historytest.Builds[i%len(historytest.Builds)].File, fmt.Sprintf("m%d", i), int64(i*10))
		// Every build its own document, as in production.
		r.Modulemd += fmt.Sprintf("\n# %d\n", i)
		if err := s.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n == 600 {
		t.Fatalf("pruned %d of 600", n)
	}
	ds, err := s.List(ctx, history.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(ds))+n != 600 {
		t.Fatalf("%d left + %d pruned != 600", len(ds), n)
	}
	// The oldest went first.
	if last := ds[len(ds)-1]; last.EventID != 1000+n {
		t.Errorf("oldest left is build %d, want %d", last.EventID, 1000+n)
	}
}

// A large document is kept compressed; what comes back is the text.
func TestDocumentRoundTrip(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "fixed")
	rules.Set(rs)
	s := historytest.OpenStore(t, rules, history.Options{})
	small := historytest.Decision(t, rs, 102, "nodejs-12-f31.yaml", "small", 100)
	large := historytest.Decision(t, rs, 103, "389-ds-1.4-f31.yaml", "large", 200)
	large.Modulemd = withArtifacts(large.Modulemd, 400)
	for _, tc := range []struct {
		name string
		r    decision.Record
	}{{"small", small}, {"large", large}} {
		if err := s.Record(ctx, tc.r); err != nil {
			t.Fatal(err)
		}
		ds, err := s.List(ctx, history.Filter{Build: fmt.Sprint(tc.r.EventID)})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: %d decisions, %v", tc.name, len(ds), err)
		}
		got, err := s.Document(ctx, &ds[0])
		if err != nil || got != tc.r.Modulemd {
			t.Errorf("%s: document of %d bytes, %v; want the %d recorded", tc.name, len(got), err, len(tc.r.Modulemd))
		}
	}
}

// A record read back from JSON (its actions rebuilt from the kept shape) gives
// the same tasks as the service's own.
func TestRecordDecodedResult(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "fixed")
	rules.Set(rs)
	s := historytest.OpenStore(t, rules, history.Options{})
	r := historytest.Decision(t, rs, 102, "nodejs-12-f31.yaml", "service", 100)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var decoded decision.Record
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	decoded.MessageID = "decoded"
	for _, rec := range []decision.Record{r, decoded} {
		if err := s.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.List(ctx, history.Filter{Build: "102"})
	if err != nil || len(ds) != 2 {
		t.Fatalf("%d decisions, %v", len(ds), err)
	}
	if len(ds[0].Tasks) != 2 || !reflect.DeepEqual(ds[0].Tasks, ds[1].Tasks) {
		t.Errorf("tasks of the decoded result %+v, of the service's %+v", ds[0].Tasks, ds[1].Tasks)
	}
}

// Most of what recording costs is the pages its commit writes to the
// write-ahead log, one per b-tree page changed. A new matched decision
// writes its row (about a page of its own, so also that page's parent and
// the file header that counts the pages), its three index entries and now
// and then a split (see BENCHMARKS.md); a redelivery its row and the two
// indexes on time. Schema 1 wrote 10.4 pages, 16.3 for the large document.
func TestRecordPagesPerEvent(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "fixed")
	rules.Set(rs)
	matched := historytest.Decision(t, rs, 102, "nodejs-12-f31.yaml", "", 5000)
	large := matched
	large.Modulemd = withArtifacts(matched.Modulemd, 400)
	for _, tc := range []struct {
		name string
		r    decision.Record
		same bool
		max  float64
	}{
		{"matched", matched, false, 7},
		{"large document", large, false, 7},
		{"redelivered", matched, true, 3.5},
	} {
		path := filepath.Join(t.TempDir(), "decisions.db")
		s, err := history.Open(ctx, path, history.Options{Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		wal := func() int64 {
			st, err := os.Stat(path + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			return st.Size()
		}
		// The first decisions write the revision and the first pages of
		// every table; without checkpoints (Run) the log only grows.
		const warm, n = 50, 500
		var before int64
		for i := range warm + n {
			if i == warm {
				before = wal()
			}
			r := tc.r
			r.MessageID = "same"
			if !tc.same {
				r.MessageID = fmt.Sprint("m", i)
				r.EventID = int64(10000 + i)
				r.Modulemd += fmt.Sprintf("# build %d\n", i)
			}
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		const frame = 24 + 4096 // header and page
		perEvent := float64(wal()-before) / frame / n
		t.Logf("%s: %.2f pages per event", tc.name, perEvent)
		if perEvent > tc.max {
			t.Errorf("%s: %.2f pages written per event, want at most %.1f", tc.name, perEvent, tc.max)
		}
		s.Close()
	}
}

// The pages pruning frees are used again: under a size bound the file
// stops growing.
func TestPrunedPagesAreReused(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	c := historytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "decisions.db")
	var sizes []int64
	for round := range 3 {
		s, err := history.Open(ctx, path, history.Options{Rules: rules, Now: c.Now, MaxBytes: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			c.Add(time.Second)
			id := int64(1000 + round*300 + i)
			r := historytest.Decision(t, rs, id, historytest.Builds[i%len(historytest.Builds)].File, fmt.Sprint("m", id), id*10)
			r.Modulemd += fmt.Sprintf("\n# %d\n", id)
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		// Closing checkpoints the log into the file.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	}
	if sizes[2] > sizes[1]+sizes[1]/20 {
		t.Errorf("file sizes after each round %v: it grew by more than 5%% in the third", sizes)
	}
	t.Logf("file sizes after each round: %v", sizes)
}

// TestCloseLeavesTheFileWhole: once Close returns, the file alone holds
// every decision, also when a reader (mts why, another consumer's status
// page) still has it open, so that a copy of the file is a backup. SQLite
// folds its write-ahead log into the file when the last connection closes,
// not when one of several does.
func TestCloseLeavesTheFileWhole(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.db")
	s, err := history.Open(ctx, path, history.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, historytest.Decision(t, rs, 101, historytest.Builds[0].File, "msg-1", 500)); err != nil {
		t.Fatal(err)
	}
	reader, err := history.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.List(ctx, history.Filter{Build: "101"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := history.OpenReadOnly(ctx, backup)
	if err != nil {
		t.Fatalf("a copy of the file after Close: %v", err)
	}
	defer c.Close()
	ds, err := c.List(ctx, history.Filter{Build: "101"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("a copy of the file after Close holds %d decisions (%v), want 1", len(ds), err)
	}
}
