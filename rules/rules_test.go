package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
	"github.com/fedora-modularity/mts/policy"
)

// TestFedoraFormatsAgree checks that the CEL rewrite of Fedora's policy
// decides exactly as the legacy file on every document and state.
func TestFedoraFormatsAgree(t *testing.T) {
	legacy, err := ruleset.Load([]string{"fedora/fedora.yaml"}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	celRules, err := ruleset.Load([]string{"fedora-cel/fedora.cel.yaml"}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../testdata/modulemd/*.yaml")
	if len(files) < 100 {
		t.Fatalf("found %d modulemd documents, want the whole corpus", len(files))
	}
	counts := map[string]int{}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := modulemd.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, state := range []string{"ready", "done", "build", "failed"} {
			ev := build.Event{ID: int64(i + 1), Name: field(doc, "name"), Stream: field(doc, "stream"),
				Version: field(doc, "version"), Context: field(doc, "context"), StateName: state}
			want, werr := legacy.Decide(ev, doc)
			got, gerr := celRules.Decide(ev, doc)
			name := filepath.Base(f) + "/" + state
			var wee, gee *policy.EvalError
			if errors.As(werr, &wee) != errors.As(gerr, &gee) {
				t.Errorf("%s: legacy error %v, CEL error %v", name, werr, gerr)
				continue
			}
			if wee != nil {
				counts["error"]++
				if wee.RuleID != gee.RuleID {
					t.Errorf("%s: legacy failed in %q, CEL in %q", name, wee.RuleID, gee.RuleID)
				}
				continue
			}
			if werr != nil || gerr != nil {
				t.Fatalf("%s: %v / %v", name, werr, gerr)
			}
			counts[string(want.Outcome)]++
			if want.Outcome != got.Outcome || ruleID(want) != ruleID(got) || !reflect.DeepEqual(want.Destinations, got.Destinations) {
				t.Errorf("%s: legacy %s %q %q, CEL %s %q %q", name,
					want.Outcome, ruleID(want), want.Destinations, got.Outcome, ruleID(got), got.Destinations)
			}
		}
	}
	// The comparison only means something if every kind of decision occurs.
	for _, o := range []string{"matched", "skipped", "error"} {
		if counts[o] == 0 {
			t.Errorf("no %s decision in the corpus: %v", o, counts)
		}
	}
}

func field(doc *modulemd.Document, key string) string {
	v, _ := doc.Data.Get(key)
	if v == nil {
		return ""
	}
	return pyyaml.Str(v)
}

func ruleID(d policy.Decision) string {
	if d.Rule == nil {
		return ""
	}
	return d.Rule.ID
}

// TestPolicies checks that each directory is one policy the service can
// load, whose tests pass.
func TestPolicies(t *testing.T) {
	for _, dir := range []string{"fedora", "fedora-cel"} {
		t.Run(dir, func(t *testing.T) {
			rs, err := ruleset.Load([]string{dir}, ruleset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.Files) != 1 {
				t.Errorf("%s holds %d rule files (%v), want one policy in one file", dir, len(rs.Files), rs.Files)
			}
			rep, err := ruletest.Run(context.Background(), []string{dir}, ruletest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			passed, failed := rep.Counts()
			if failed > 0 || passed == 0 {
				t.Errorf("%s: %d passed, %d failed: %+v", dir, passed, failed, rep.Cases)
			}
		})
	}
}
