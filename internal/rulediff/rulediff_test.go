package rulediff

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// TestKojiEvents compares two rule sets on Koji's messages: a change of
// untag alone is a change, a message on a topic of no build event is a
// case that cannot be decided, and one that lacks what the rules read is
// decided as an error by both.
func TestKojiEvents(t *testing.T) {
	ctx := context.Background()
	cases, err := LoadCases(ctx, []string{"testdata/koji.jsonl"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	load := func(f string) *ruleset.Ruleset {
		rs, err := ruleset.Load([]string{f}, ruleset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	r := Compare(ctx, load("testdata/copy.cel.yaml"), load("testdata/move.cel.yaml"), cases)
	if r.Cases != 3 || r.Compared != 2 || r.Changed != 1 || len(r.Errors) != 1 {
		t.Fatalf("report: %+v", r)
	}
	ch := r.Changes[0]
	if ch.Source != "testdata/koji.jsonl:1" || ch.Build != "bash-5-1.fc40" || ch.State != "build.tag" || ch.Kind != build.KindTag ||
		ch.Koji == nil || !slices.Equal(ch.What, []string{"untag"}) || !slices.Equal(ch.New.Untag, []string{"f40-candidate"}) || ch.Old.Untag != nil {
		t.Errorf("change: %+v", ch)
	}
	if e := r.Errors[0]; e.Source != "testdata/koji.jsonl:3" || !strings.Contains(e.Error, "not a topic of build events") {
		t.Errorf("error: %+v", e)
	}
}
