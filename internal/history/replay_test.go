package history_test

import (
	"context"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"slices"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
)

func TestReplayChanges(t *testing.T) {
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	broken, fixed := historytest.LoadRules(t, "broken"), historytest.LoadRules(t, "fixed")
	rules.Set(broken)
	c := historytest.NewClock(time.Now().Add(-time.Hour))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now})
	for i, b := range historytest.Builds {
		c.Add(time.Minute)
		if err := s.Record(ctx, historytest.Decision(t, broken, b.ID, b.File, fmt.Sprintf("m%d", i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	// A build whose document could not be had is listed, not decided.
	ev := *historytest.Decision(t, broken, 105, historytest.Builds[0].File, "x", 0).Decision.Event.Module
	ev.Version = "1"
	nodoc := decision.Record{EventID: 105, MessageID: "m-nodoc", Revision: broken.Revision,
		Decision: decision.FromError(build.ModuleMessage(ev), fmt.Errorf("modulemd: gone"))}
	if err := s.Record(ctx, nodoc); err != nil {
		t.Fatal(err)
	}

	changed := func(rp *history.Replay) []string {
		var out []string
		for _, ch := range rp.Report.Changes {
			out = append(out, ch.Build+" "+ch.New.Outcome)
		}
		slices.Sort(out)
		return out
	}
	rp, err := s.NewReplay(ctx, fixed, history.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"389-ds:1.4:3120191201000000:7b01bdb2 matched", "nodejs:12:3120191115180204:eed43de7 matched"}
	if got := changed(rp); !slices.Equal(got, want) || rp.ToApply() != 2 || rp.Report.Cases != 4 || len(rp.Skipped) != 1 {
		t.Fatalf("replay with the fixed rules: %v, %d to apply, %d cases, skipped %v", got, rp.ToApply(), rp.Report.Cases, rp.Skipped)
	}
	// Filters select on the newest decision of each build.
	rp, err = s.NewReplay(ctx, fixed, history.Filter{Outcomes: []string{"matched"}})
	if err != nil || rp.Report.Cases != 1 || rp.Report.Changed != 0 {
		t.Fatalf("matched only: %+v, %v", rp.Report, err)
	}

	// Decided again by the fixed rules (as --apply does): the newest
	// decisions agree, and a replay finds nothing.
	rules.Set(fixed)
	for i, b := range historytest.Builds[1:3] {
		c.Add(time.Minute)
		if err := s.Record(ctx, historytest.Decision(t, fixed, b.ID, b.File, fmt.Sprintf("replay-%d", i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if rp, err = s.NewReplay(ctx, fixed, history.Filter{}); err != nil || rp.Report.Changed != 0 || rp.ToApply() != 0 {
		t.Fatalf("second replay: %+v, %v", rp.Report, err)
	}
	// Going back to the broken rules would unmatch them: listed, never
	// applied (mts does not untag).
	rp, err = s.NewReplay(ctx, broken, history.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"389-ds:1.4:3120191201000000:7b01bdb2 unmatched", "nodejs:12:3120191115180204:eed43de7 unmatched"}
	if got := changed(rp); !slices.Equal(got, want) || rp.ToApply() != 0 {
		t.Fatalf("replay with the broken rules: %v, %d to apply", got, rp.ToApply())
	}
	// --since leaves older decisions out.
	if rp, err = s.NewReplay(ctx, broken, history.Filter{Since: c.Now().Add(30 * time.Second)}); err != nil || rp.Report.Cases != 0 {
		t.Fatalf("since: %+v, %v", rp.Report, err)
	}
}
