package ruleset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/rulegen"
	"github.com/fedora-modularity/mts/policy"
)

// corpusCase is one document with its event.
type corpusCase struct {
	name string
	doc  *modulemd.Document
	ev   build.Event
}

// generatedCases parses a generated set's documents.
func generatedCases(t testing.TB, set *rulegen.Set) []corpusCase {
	t.Helper()
	var out []corpusCase
	for _, d := range set.Docs {
		doc, err := modulemd.Parse(d.YAML)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		out = append(out, corpusCase{name: d.Name, doc: doc, ev: build.Event{
			ID: 1, Name: d.Event.Name, Stream: d.Event.Stream, Version: d.Event.Version, Context: d.Event.Context, StateName: d.Event.State}})
	}
	return out
}

// testdataCases are the modulemd documents of testdata, each built with
// its own name and stream.
func testdataCases(t testing.TB) []corpusCase {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/modulemd/*.yaml")
	if len(files) == 0 {
		t.Fatal("no modulemd corpus")
	}
	var out []corpusCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := modulemd.Parse(data)
		if err != nil {
			continue // documents the service refuses are tested elsewhere
		}
		name, _ := doc.Data.Get("name")
		stream, _ := doc.Data.Get("stream")
		n, _ := name.(string)
		s, _ := stream.(string)
		out = append(out, corpusCase{name: filepath.Base(f), doc: doc, ev: build.Event{ID: 1, Name: n, Stream: s, StateName: "ready"}})
	}
	return out
}

// compareWalk decides c with the index and with a plain walk through
// the rules and fails unless outcome, rule, destinations and failing rule
// are the same. It reports whether the index tried fewer rules.
func compareWalk(t *testing.T, set *policy.Set, c corpusCase) (pruned, failed bool) {
	t.Helper()
	in := c.doc.Input(c.ev)
	indexed, err1 := set.Eval(in)
	in.Index = nil
	walk, err2 := set.Eval(in)
	var e1, e2 *policy.EvalError
	errors.As(err1, &e1)
	errors.As(err2, &e2)
	switch {
	case (err1 == nil) != (err2 == nil):
		t.Fatalf("%s (%s): indexed error %v, walk error %v", c.name, c.ev.StateName, err1, err2)
	case err1 != nil && (e1 == nil || e2 == nil || e1.RuleIndex != e2.RuleIndex || e1.Source != e2.Source || e1.Err.Error() != e2.Err.Error()):
		t.Fatalf("%s (%s): indexed error %v, walk error %v", c.name, c.ev.StateName, err1, err2)
	case indexed.Outcome != walk.Outcome || indexed.Rule != walk.Rule || !reflect.DeepEqual(indexed.Destinations, walk.Destinations):
		t.Fatalf("%s (%s): indexed %s %s %v, walk %s %s %v", c.name, c.ev.StateName,
			indexed.Outcome, ruleName(indexed.Rule), indexed.Destinations, walk.Outcome, ruleName(walk.Rule), walk.Destinations)
	case len(indexed.Tried) > len(walk.Tried):
		t.Fatalf("%s: the index tried %d rules, the walk %d", c.name, len(indexed.Tried), len(walk.Tried))
	}
	return len(indexed.Tried) < len(walk.Tried), err1 != nil
}

func ruleName(r *policy.Rule) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d %q", r.Index, r.ID)
}

// TestIndexDecidesAsTheWalk compares the indexed engine with a plain walk
// on every generated mix and on the testdata corpus, for each build state.
func TestIndexDecidesAsTheWalk(t *testing.T) {
	corpus := testdataCases(t)
	for _, mix := range rulegen.Mixes {
		for _, n := range []int{300, 1500} {
			t.Run(fmt.Sprintf("%s-%d", mix.Name, n), func(t *testing.T) {
				gen := rulegen.Generate(7, n, mix)
				rs, err := LoadBytes("gen.yaml", gen.YAML, Options{})
				if err != nil {
					t.Fatal(err)
				}
				cases := append(generatedCases(t, gen), corpus...)
				pruned, failed, matched := 0, 0, 0
				for _, c := range cases {
					for _, state := range []string{"ready", "done"} {
						c.ev.StateName = state
						p, f := compareWalk(t, rs.Set, c)
						if p {
							pruned++
						}
						if f {
							failed++
						}
						if d, err := rs.Set.Eval(c.doc.Input(c.ev)); err == nil && d.Outcome == policy.Matched {
							matched++
						}
					}
				}
				if pruned == 0 || failed == 0 || matched == 0 {
					t.Fatalf("the comparison missed a path: %d pruned, %d failed, %d matched of %d", pruned, failed, matched, 2*len(cases))
				}
			})
		}
	}
}

// TestIndexOnFedoraRules: Fedora's rules repeated until the set is indexed
// decide every corpus document as the walk does.
func TestIndexOnFedoraRules(t *testing.T) {
	data, err := os.ReadFile("../../rules/fedora/fedora.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for range 10 {
		all = append(all, data...)
		all = append(all, '\n')
	}
	rs, err := LoadBytes("fedora-x10.yaml", all, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range testdataCases(t) {
		compareWalk(t, rs.Set, c)
	}
}
