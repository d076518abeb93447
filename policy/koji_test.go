package policy

import (
	"errors"
	"slices"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
)

func kojiSpec(id, match, dests, untag string) Spec {
	return Spec{ID: id, States: []string{string(build.KindTag)}, Match: match, Destinations: dests, Koji: &KojiSpec{Untag: untag}}
}

// TestEvalKoji decides tag events: untag lists, what a rule may not give,
// and a rule reading modulemd of a build that has none.
func TestEvalKoji(t *testing.T) {
	set := compileSpecs(t,
		Spec{ID: "module rule", Match: `build.name == "nodejs"`, Destinations: `"never"`},
		kojiSpec("nothing", `event.tag == "nothing"`, `[]`, `[]`),
		kojiSpec("both", `event.tag == "both"`, `"x"`, `["y", "x"]`),
		kojiSpec("untag only", `event.tag == "u"`, ``, `[event.tag, event.tag, "v"]`),
		kojiSpec("data behind false", `event.tag == "d" && (build.name == "zzz" && data.name == "b")`, `"t"`, ``),
		kojiSpec("data first", `event.tag == "e" && (data.name == "zzz" && build.name == "zzz")`, `"t"`, ``),
		kojiSpec("modulemd", `event.tag == "m"`, `"m-" + modulemd.data.name`, ``),
		kojiSpec("fields", `event.tag == "f"`, `[build.nvr, build.state, event.user, build.types[0]]`, `build.name`),
	)
	b := build.KojiBuild{ID: 1, Name: "b", Version: "1", Release: "2", State: 1, Types: map[string]any{"rpm": nil}}
	doc := map[string]any{"name": "b"}
	tests := []struct {
		tag     string
		data    map[string]any
		outcome Outcome
		rule    string
		dests   []string
		untag   []string
		err     error
		errText string
	}{
		{tag: "nothing", err: ErrNothingToDo},
		{tag: "both", errText: `tag "x" is both a destination and to untag`},
		{tag: "u", outcome: Matched, rule: "untag only", untag: []string{"u", "v"}},
		{tag: "d", outcome: Unmatched},
		{tag: "e", err: ErrNoModulemd},
		{tag: "m", err: ErrNoModulemd},
		{tag: "m", data: doc, outcome: Matched, rule: "modulemd", dests: []string{"m-b"}},
		{tag: "f", outcome: Matched, rule: "fields", dests: []string{"b-1-2", "complete", "mts", "rpm"}, untag: []string{"b"}},
		{tag: "other", outcome: Unmatched},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			in := &Input{Koji: &build.KojiEvent{Kind: build.KindTag, Tag: tt.tag, User: "mts", Build: b}}
			if tt.data != nil {
				in.Data = tt.data
				in.Modulemd = map[string]any{"data": tt.data}
			}
			d, err := set.Eval(in)
			if tt.err != nil || tt.errText != "" {
				var ee *EvalError
				if !errors.As(err, &ee) || (tt.err != nil && !errors.Is(err, tt.err)) || (tt.errText != "" && ee.Err.Error() != tt.errText) {
					t.Fatalf("err = %v, want an EvalError of %v%s", err, tt.err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if d.Rule != nil {
				id = d.Rule.ID
			}
			if d.Outcome != tt.outcome || id != tt.rule || !slices.Equal(d.Destinations, tt.dests) || !slices.Equal(d.Untag, tt.untag) {
				t.Errorf("got %s %q %q untag %q, want %s %q %q untag %q", d.Outcome, id, d.Destinations, d.Untag, tt.outcome, tt.rule, tt.dests, tt.untag)
			}
		})
	}
	// MBS events never reach rules on Koji's kinds, and the other way round.
	if d, err := set.Eval(input("ready", map[string]any{})); err != nil || d.Rule == nil || d.Rule.ID != "module rule" {
		t.Errorf("module event: %+v %v", d, err)
	}
}

// TestKojiCompileErrors: untag is type-checked like destinations, and
// event is not in MBS rules.
func TestKojiCompileErrors(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []Spec{
		kojiSpec("int untag", ``, ``, `1`),
		{ID: "event in a module rule", States: []string{"ready"}, Match: `event.tag == "x"`, Destinations: `"t"`},
		kojiSpec("build is a map", `build.name.nope()`, `"t"`, ``),
	} {
		_, err := env.Compile([]Spec{sp})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || !errors.Is(es[0], ErrCompile) {
			t.Errorf("%s: %v, want a compile error", sp.ID, err)
		}
	}
}
