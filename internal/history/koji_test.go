package history_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// kojiBuild reads a build of testdata/koji as the hub answers for it.
func kojiBuild(t *testing.T, file string) build.KojiBuild {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "koji", file))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ GetBuild, GetBuildType json.RawMessage }
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatal(err)
	}
	b, err := build.DecodeBuildInfo(answer.GetBuild, answer.GetBuildType)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kojiRecord is the record of rs's decision on a Koji event.
func kojiRecord(t *testing.T, rs *ruleset.Ruleset, ev build.KojiEvent, msgID string) decision.Record {
	t.Helper()
	m := build.Message{Kind: ev.Kind, Koji: &ev}
	d := decision.DecideKoji(context.Background(), rs, m, nil)
	if d.Outcome == decision.OutcomeError {
		t.Fatalf("%s: %s", msgID, d.Error)
	}
	task := int64(700)
	for i := range d.Actions {
		if d.Actions[i].Op != decision.OpUntag {
			d.Actions[i].TaskID = &task
		}
	}
	return decision.Record{EventID: ev.Build.ID, MessageID: msgID, Revision: rs.Revision, Decision: d}
}

// TestKojiDecisions: decisions on Koji's events are found by their
// build's NVR and id, explained on the event as kept (a module build's
// modulemd is in its build info), and replayed without any document kept.
func TestKojiDecisions(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	old, nw := historytest.LoadRules(t, "koji-old"), historytest.LoadRules(t, "koji-new")
	rules.Set(old)
	c := historytest.NewClock(time.Now().Add(-time.Hour))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now})
	bash, nodejs := kojiBuild(t, "rpm-bash-5.2.26-3.fc40.json"), kojiBuild(t, "module-nodejs-10.json")
	events := []build.KojiEvent{
		{Kind: build.KindTag, Build: bash, Tag: "f40-updates-candidate", User: "bodhi"},
		{Kind: build.KindComplete, Build: nodejs, New: "complete"},
	}
	for i, ev := range events {
		c.Add(time.Minute)
		if err := s.Record(ctx, kojiRecord(t, old, ev, "koji-"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}

	for _, q := range []string{"bash-5.2.26-3.fc40", "2412345"} {
		ds, err := s.List(ctx, history.Filter{Build: q})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Kind != build.KindTag || ds[0].Koji == nil || ds[0].Koji.Tag != "f40-updates-candidate" ||
			ds[0].NVR != "bash-5.2.26-3.fc40" || ds[0].State != "build.tag" || !slices.Equal(ds[0].Destinations, []string{"f40-signing-pending"}) {
			t.Fatalf("decisions of %s: %+v", q, ds)
		}
		if len(ds[0].Tasks) != 1 || ds[0].Tasks[0].TaskID == nil || *ds[0].Tasks[0].TaskID != 700 {
			t.Errorf("tasks of %s: %+v", q, ds[0].Tasks)
		}
	}
	// The -devel twin of a Koji build is a build of its own.
	if ds, err := s.List(ctx, history.Filter{Build: "bash-devel-5.2.26-3.fc40"}); err != nil || len(ds) != 0 {
		t.Errorf("bash-devel: %+v, %v", ds, err)
	}

	w, err := history.WhyFromStores(ctx, []*history.Store{s}, "nodejs-10-20180816123225.6c81f848")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Decisions) != 1 || w.Decisions[0].Explanation == nil || w.Decisions[0].Explanation.Koji == nil {
		t.Fatalf("why nodejs: %+v", w)
	}
	if x := w.Decisions[0].Explanation; x.Result.Outcome != "unmatched" || len(x.Rules) != 1 || x.Rules[0].Verdict != "no match" {
		t.Errorf("explanation: %+v", x)
	}

	// The new rules move the bash build and tag the module: both
	// change, both would be applied, with no modulemd kept.
	rp, err := s.NewReplay(ctx, nw, history.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range rp.Report.Changes {
		got = append(got, ch.Build+" "+ch.State+" "+ch.New.Outcome+" "+ch.New.Rule)
		if ch.Koji == nil || ch.Kind != build.Kind(ch.State) {
			t.Errorf("change %s has no Koji event", ch.Build)
		}
	}
	want := []string{"bash-5.2.26-3.fc40 build.tag matched To signing", "nodejs-10-20180816123225.6c81f848 build.complete matched Modules"}
	if !slices.Equal(got, want) || rp.ToApply() != 2 || len(rp.Skipped) != 0 || rp.Report.Cases != 2 {
		t.Fatalf("replay: %q, %d to apply, skipped %v", got, rp.ToApply(), rp.Skipped)
	}
	if ch := rp.Report.Changes[0]; !slices.Equal(ch.What, []string{"untag"}) || !slices.Equal(ch.New.Untag, []string{"f40-updates-candidate"}) {
		t.Errorf("bash change: %+v", ch)
	}
	if ch := rp.Report.Changes[1]; !slices.Equal(ch.New.Destinations, []string{"f29-modules"}) {
		t.Errorf("nodejs change: %+v", ch)
	}
	// The old rules find nothing to change.
	if rp, err = s.NewReplay(ctx, old, history.Filter{}); err != nil || rp.Report.Changed != 0 {
		t.Fatalf("replay with the rules that decided: %+v, %v", rp.Report, err)
	}
}
