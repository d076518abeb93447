package ruleset

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/internal/rulegen"
	"github.com/fedora-modularity/mts/policy"
)

// celCompiled compiles a legacy rule file with a CEL program per rule, as
// the rules' Match and Destinations texts say, instead of the native
// evaluation loading uses.
func celCompiled(t *testing.T, name string, data []byte) *policy.Set {
	t.Helper()
	lib := compat.NewLibrary()
	f, errs := ParseFile(name, data, Options{Library: lib})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	native := 0
	for i := range f.Specs {
		if f.Specs[i].Native != nil {
			native++
		}
		f.Specs[i].Native = nil
	}
	if native != len(f.Specs) {
		t.Fatalf("%d of %d legacy rules are evaluated natively, want all", native, len(f.Specs))
	}
	env, err := policy.NewEnv(lib.EnvOption())
	if err != nil {
		t.Fatal(err)
	}
	set, err := env.Compile(f.Specs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestNativeDecidesAsCEL: legacy rules evaluated without CEL programs
// decide, fail and explain every corpus document as their CEL does.
func TestNativeDecidesAsCEL(t *testing.T) {
	corpus := testdataCases(t)
	type ruleFile struct {
		name  string
		data  []byte
		cases []corpusCase
	}
	var files []ruleFile
	paths, _ := filepath.Glob("../../testdata/rules/*.yaml")
	paths = append(paths, "../../rules/fedora/fedora.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, ruleFile{filepath.Base(p), data, corpus})
	}
	for _, mix := range rulegen.Mixes {
		gen := rulegen.Generate(3, 400, mix)
		files = append(files, ruleFile{mix.Name + "-400", gen.YAML, append(generatedCases(t, gen), corpus...)})
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			rs, err := LoadBytes(f.name, f.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			cel := celCompiled(t, f.name, f.data)
			matched, failed := 0, 0
			for _, c := range f.cases {
				for _, state := range []string{"ready", "done"} {
					c.ev.StateName = state
					d1, tr1, err1 := rs.Set.Explain(c.doc.Input(c.ev))
					d2, tr2, err2 := cel.Explain(c.doc.Input(c.ev))
					what := fmt.Sprintf("%s (%s)", c.name, state)
					if fmt.Sprint(err1) != fmt.Sprint(err2) {
						t.Fatalf("%s: native error %v, CEL error %v", what, err1, err2)
					}
					if d1.Outcome != d2.Outcome || ruleName(d1.Rule) != ruleName(d2.Rule) ||
						!reflect.DeepEqual(d1.Destinations, d2.Destinations) || !reflect.DeepEqual(d1.Tried, d2.Tried) {
						t.Fatalf("%s: native %s %s %v tried %v, CEL %s %s %v tried %v", what, d1.Outcome, ruleName(d1.Rule), d1.Destinations, d1.Tried,
							d2.Outcome, ruleName(d2.Rule), d2.Destinations, d2.Tried)
					}
					if len(tr1) != len(tr2) {
						t.Fatalf("%s: %d rules traced natively, %d with CEL", what, len(tr1), len(tr2))
					}
					for i := range tr1 {
						a, b := tr1[i], tr2[i]
						if a.Rule.Index != b.Rule.Index || a.Matched != b.Matched || a.Skipped != b.Skipped ||
							!reflect.DeepEqual(a.Steps, b.Steps) || fmt.Sprint(a.Err) != fmt.Sprint(b.Err) {
							t.Fatalf("%s: rule %d traced natively as %+v, with CEL as %+v", what, a.Rule.Index, a, b)
						}
					}
					if err1 != nil {
						failed++
					} else if d1.Outcome == policy.Matched {
						matched++
					}
				}
			}
			if matched == 0 {
				t.Fatalf("no document matched a rule of %s", f.name)
			}
			t.Logf("%d matched, %d failed", matched, failed)
		})
	}
}
