package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
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
	counts := map[string]int{}
	for i, c := range corpus(t) {
		f, doc := c.file, c.doc
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
	for _, dir := range []string{"fedora", "fedora-cel", "examples/containers", "examples/eln-follow", "examples/modules-from-koji", "examples/signing-move"} {
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

// TestModulesFromKojiAgrees checks that examples/modules-from-koji, on
// the build.complete of a module build MBS imported into Koji, decides the
// destinations fedora/ decides on MBS's event for the same document: for
// the module build and for its -devel twin, each a build of its own whose
// build info carries the document, on every document of the corpus.
func TestModulesFromKojiAgrees(t *testing.T) {
	legacy, err := ruleset.Load([]string{"fedora"}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromKoji, err := ruleset.Load([]string{"examples/modules-from-koji"}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i, c := range corpus(t) {
		f, text, doc := c.file, c.text, c.doc
		ev := ruletest.EventFor(text, ruletest.Event{ID: int64(i + 1)}, "ready")
		want := decision.Decide(legacy, ev, doc)
		counts[want.Outcome]++
		for _, name := range []string{ev.Name, ev.Name + "-devel"} {
			m := moduleComplete(int64(i+1), name, ev, string(text))
			got := decision.DecideKoji(context.Background(), fromKoji, m, nil)
			where := filepath.Base(f) + " as " + m.Koji.Build.NVR()
			switch {
			case want.Outcome == decision.OutcomeError:
				if got.Outcome != decision.OutcomeError {
					t.Errorf("%s: fedora/ failed (%s), modules-from-koji decided %s %q", where, want.Error, got.Outcome, got.Destinations)
				}
			case got.Outcome != want.Outcome || !reflect.DeepEqual(got.Destinations, want.Destinations):
				t.Errorf("%s: fedora/ %s %q, modules-from-koji %s %q (%s)", where,
					want.Outcome, want.Destinations, got.Outcome, got.Destinations, got.Error)
			}
			// The build goes where the MBS event sent it: the same
			// tagBuild calls for this build.
			if want.Matched() {
				var wantTags []string
				for _, a := range want.Actions {
					if a.NVR == m.Koji.Build.NVR() {
						wantTags = append(wantTags, a.Tag)
					}
				}
				var gotTags []string
				for _, a := range got.Actions {
					gotTags = append(gotTags, a.Tag)
				}
				if !reflect.DeepEqual(gotTags, wantTags) || len(gotTags) == 0 {
					t.Errorf("%s: tagged into %q, fedora/ tagged it into %q", where, gotTags, wantTags)
				}
			}
		}
	}
	// The comparison only means something if every kind of decision occurs.
	t.Logf("fedora/ decisions compared: %v", counts)
	for _, o := range []string{"matched", "error"} {
		if counts[o] == 0 {
			t.Errorf("no %s decision in the corpus: %v", o, counts)
		}
	}
}

// moduleComplete is the build.complete a Koji hub announces when MBS
// imports the module build (or its -devel twin) name of ev, whose module
// type info carries the document text.
func moduleComplete(id int64, name string, ev build.Event, text string) build.Message {
	typeinfo := map[string]any{"module": map[string]any{
		"name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context, "modulemd_str": text,
	}}
	nvr := ev.NVRFor(name)
	rest := strings.TrimPrefix(nvr, name+"-")
	version, release, _ := strings.Cut(rest, "-")
	return build.Message{Kind: build.KindComplete, Koji: &build.KojiEvent{
		Kind: build.KindComplete, New: "complete",
		Build: build.KojiBuild{ID: id, Name: name, Version: version, Release: release, State: 1, CG: "module-build-service",
			Extra: map[string]any{"typeinfo": typeinfo}, Types: typeinfo, Complete: true},
	}}
}

// document is one modulemd document of the test corpus, read and parsed.
type document struct {
	file string
	text []byte
	doc  *modulemd.Document
}

// corpus is every document of ../testdata/modulemd, in file order.
func corpus(t *testing.T) []document {
	t.Helper()
	files, _ := filepath.Glob("../testdata/modulemd/*.yaml")
	if len(files) < 100 {
		t.Fatalf("found %d modulemd documents, want the whole corpus", len(files))
	}
	out := make([]document, 0, len(files))
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := modulemd.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, document{file: f, text: text, doc: doc})
	}
	return out
}
