package ruleset

import (
	"errors"
	"os"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/policy"
)

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzLegacyLoad feeds arbitrary legacy rule files to the loader: it must
// accept them or refuse them with positioned problems, never panic, and
// what it accepts must evaluate without panicking.
func FuzzLegacyLoad(f *testing.F) {
	addSeeds(f, "../../rules/fedora/fedora.yaml", "../../testdata/rules/mts-test-rules.yaml")
	f.Add([]byte("- {id: a, type: module, rule: {name: '^(?P<n>x)$'}, destinations: '\\g<n>'}"))
	f.Add([]byte("- id: a\n  rule:\n"))
	doc := fuzzDoc(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, data, doc)
	})
}

// FuzzCELLoad does the same for CEL rule files.
func FuzzCELLoad(f *testing.F) {
	addSeeds(f, "../../rules/fedora-cel/fedora.cel.yaml")
	f.Add([]byte("format: cel\nrules:\n  - {id: a, match: \"build.name == 'x'\", destinations: \"['t']\"}\n"))
	f.Add([]byte("format: cel\nvariables: [{name: v, expression: '1'}]\nrules: [{id: a, state: [ready, done], destinations: \"'t'\"}]\n"))
	addSeeds(f, "testdata/koji/tag.cel.yaml", "testdata/koji/state.cel.yaml", "testdata/koji/untag.cel.yaml")
	f.Add([]byte("format: cel\non: [build.tag, build.untag]\nrules: [{id: a, match: \"event.tag == 'x'\", untag: \"[event.tag]\"}]\n"))
	f.Add([]byte("format: cel\non: module.state.change\nrules: [{id: a, destinations: \"'t'\", untag: \"'u'\"}]\n"))
	doc := fuzzDoc(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, data, doc)
	})
}

func fuzzDoc(f *testing.F) *modulemd.Document {
	data, err := os.ReadFile("../../testdata/modulemd/javapackages-tools-201902-f30-multiplatform.yaml")
	if err != nil {
		f.Fatal(err)
	}
	doc, err := modulemd.Parse(data)
	if err != nil {
		f.Fatal(err)
	}
	return doc
}

func checkLoad(t *testing.T, data []byte, doc *modulemd.Document) {
	rs, err := LoadBytes("fuzz.yaml", data, Options{})
	if err != nil {
		if !errors.Is(err, policy.ErrRefused) {
			t.Fatalf("refused without ErrRefused: %v", err)
		}
		for _, p := range Problems(err) {
			if p.Source.File != "fuzz.yaml" {
				t.Fatalf("problem without its file: %v", p)
			}
		}
		return
	}
	for _, state := range []string{"ready", "done"} {
		d, err := rs.Decide(build.Event{Name: "x", StateName: state}, doc)
		var ee *policy.EvalError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("evaluation failed without naming a rule: %v", err)
		}
		if d.Outcome == policy.Matched && len(d.Destinations) == 0 {
			t.Fatalf("matched with no destinations")
		}
	}
	for _, k := range rs.Kinds() {
		if !k.Koji() {
			continue
		}
		ev := &build.KojiEvent{Kind: k, Tag: "x", Build: build.KojiBuild{Name: "x", Version: "1", Release: "1"}}
		for _, d := range []*modulemd.Document{doc, nil} {
			dec, err := rs.DecideMessage(build.Message{Kind: k, Koji: ev}, d)
			var ee *policy.EvalError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("evaluation of a %s event failed without naming a rule: %v", k, err)
			}
			if dec.Outcome == policy.Matched && len(dec.Destinations)+len(dec.Untag) == 0 {
				t.Fatalf("matched a %s event with nothing to do", k)
			}
		}
		rs.NeedsBuildInfo(k)
	}
}
