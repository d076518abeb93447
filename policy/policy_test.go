package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
)

func compileSpecs(t *testing.T, specs ...Spec) *Set {
	t.Helper()
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		specs[i].Index = i + 1
		if specs[i].States == nil {
			specs[i].States = []string{"ready"}
		}
	}
	set, err := env.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func input(state string, data map[string]any) *Input {
	return &Input{Event: build.Event{ID: 7, Name: "nodejs", Stream: "12", StateName: state}, Data: data,
		Modulemd: map[string]any{"document": "modulemd", "version": 2, "data": data}}
}

func TestEval(t *testing.T) {
	set := compileSpecs(t,
		Spec{ID: "by name", Match: `build.name == "perl"`, Destinations: `"perl-tag"`},
		Spec{ID: "done only", States: []string{"done"}, Destinations: `["gating"]`},
		Spec{ID: "f-streams", Match: `data.platforms.exists(p, p.startsWith("f"))`,
			Destinations: `data.platforms.filter(p, p.startsWith("f")).map(p, p + "-candidate")`},
		Spec{ID: "fallback", Destinations: `"fallback"`},
	)
	tests := []struct {
		name  string
		state string
		data  map[string]any
		out   Outcome
		rule  string
		dests []string
		tried []int
	}{
		{"first match wins, duplicates dropped", "ready", map[string]any{"platforms": []any{"f31", "el8", "f31", "f32"}},
			Matched, "f-streams", []string{"f31-candidate", "f32-candidate"}, []int{1, 3}},
		{"falls through", "ready", map[string]any{"platforms": []any{"el8"}}, Matched, "fallback", []string{"fallback"}, []int{1, 3, 4}},
		{"state groups", "done", map[string]any{}, Matched, "done only", []string{"gating"}, []int{2}},
		{"no rule for the state", "build", map[string]any{}, Skipped, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := set.Eval(input(tt.state, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			rule := ""
			if d.Rule != nil {
				rule = d.Rule.ID
			}
			if d.Outcome != tt.out || rule != tt.rule || !reflect.DeepEqual(d.Destinations, tt.dests) || !reflect.DeepEqual(d.Tried, tt.tried) {
				t.Errorf("got %s %q %q tried %v; want %s %q %q tried %v", d.Outcome, rule, d.Destinations, d.Tried, tt.out, tt.rule, tt.dests, tt.tried)
			}
		})
	}
}

func TestEvalErrorNamesTheRule(t *testing.T) {
	set := compileSpecs(t,
		Spec{ID: "ok", Match: `build.name == "x"`, Destinations: `"t"`},
		Spec{ID: "broken", Match: `data.missing == 1`, Destinations: `"t"`},
		Spec{ID: "empty", Destinations: `[]`},
	)
	_, err := set.Eval(input("ready", map[string]any{}))
	var ee *EvalError
	if !errors.As(err, &ee) || ee.RuleID != "broken" || ee.RuleIndex != 2 {
		t.Fatalf("error %v, want an EvalError naming rule 2 \"broken\"", err)
	}
	_, err = set.Eval(input("ready", map[string]any{"missing": 2}))
	if !errors.As(err, &ee) || ee.RuleID != "empty" || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("error %v, want rule \"empty\" refused for empty destinations", err)
	}
}

func TestCostLimit(t *testing.T) {
	set := compileSpecs(t, Spec{ID: "runaway",
		Match:        `data.xs.map(a, data.xs.map(b, data.xs.map(c, a + b + c))).size() > 0`,
		Destinations: `"t"`})
	xs := make([]any, 100)
	for i := range xs {
		xs[i] = i
	}
	_, err := set.Eval(input("ready", map[string]any{"xs": xs}))
	var ee *EvalError
	if !errors.As(err, &ee) || ee.RuleID != "runaway" || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("error %v, want the cost limit to stop rule \"runaway\"", err)
	}
}

func TestVariables(t *testing.T) {
	scope := &Scope{Variables: []Variable{
		{Name: "platforms", Expr: `data.platforms.map(p, string(p))`},
		{Name: "fedora", Expr: `platforms.filter(p, p.startsWith("f"))`},
	}}
	set := compileSpecs(t,
		Spec{ID: "fedora", Scope: scope, Match: `size(fedora) > 0`, Destinations: `fedora.map(p, p + "-t")`},
		Spec{ID: "other", Scope: scope, Match: `size(platforms) > 0`, Destinations: `"other"`},
	)
	d, err := set.Eval(input("ready", map[string]any{"platforms": []any{"el8", "f30"}}))
	if err != nil || d.Rule.ID != "fedora" || !reflect.DeepEqual(d.Destinations, []string{"f30-t"}) {
		t.Fatalf("got %+v, %v", d, err)
	}
	d, err = set.Eval(input("ready", map[string]any{"platforms": []any{"el8"}}))
	if err != nil || d.Rule.ID != "other" {
		t.Fatalf("got %+v, %v", d, err)
	}
}

func TestCompileRefuses(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	pos := Position{File: "r.yaml", Line: 3, Col: 5}
	_, err = env.Compile([]Spec{
		{ID: "a", States: []string{"ready"}, Match: `build.name ==`, MatchPos: pos, Destinations: `"t"`},
		{ID: "b", States: []string{"ready"}, Match: `"not bool"`, Destinations: `"t"`, Source: pos},
		{ID: "c", States: []string{"ready"}, Destinations: `42`, Source: pos},
		{ID: "d", States: []string{"ready"}, Match: `build.nope == 1`, Destinations: `"t"`, Source: pos},
	})
	var errs Errors
	if !errors.Is(err, ErrRefused) || !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("got %v, want 4 problems", err)
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		if errs[i].RuleID != id || !strings.HasPrefix(errs[i].Error(), "r.yaml:3:5: ") {
			t.Errorf("problem %d: %v", i, errs[i])
		}
	}
}

// fixed is a Native rule with a fixed answer.
type fixed struct {
	ok       bool
	matchErr error
	dests    []string
}

func (f fixed) Match(*State) (bool, error) { return f.ok, f.matchErr }

func (f fixed) Destinations(*State) ([]string, error) { return append([]string(nil), f.dests...), nil }

// TestNative: a rule evaluated natively is tried in file order like any
// other, its destinations lose their duplicates, and its failures stop the
// decision naming it; its CEL texts are not compiled.
func TestNative(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		rules []Spec
		out   Outcome
		rule  string
		dests []string
		err   error
	}{
		{"no match falls through", []Spec{
			{ID: "a", Match: "not CEL (", Destinations: "(", Native: fixed{}},
			{ID: "b", Destinations: `"b-tag"`},
		}, Matched, "b", []string{"b-tag"}, nil},
		{"duplicates dropped", []Spec{
			{ID: "a", Native: fixed{ok: true, dests: []string{"x", "y", "x"}}},
		}, Matched, "a", []string{"x", "y"}, nil},
		{"match error names the rule", []Spec{
			{ID: "a", Native: fixed{matchErr: boom}},
			{ID: "b", Destinations: `"b-tag"`},
		}, "", "", nil, boom},
		{"no destinations", []Spec{
			{ID: "a", Native: fixed{ok: true}},
		}, "", "", nil, errEmptyDestinations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := compileSpecs(t, tt.rules...)
			d, err := set.Eval(input("ready", map[string]any{}))
			if tt.err != nil {
				var ee *EvalError
				if !errors.As(err, &ee) || ee.RuleID != "a" || !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v from rule a", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tt.out || d.Rule == nil || d.Rule.ID != tt.rule || !reflect.DeepEqual(d.Destinations, tt.dests) {
				t.Fatalf("got %s %v %v, want %s %s %v", d.Outcome, d.Rule, d.Destinations, tt.out, tt.rule, tt.dests)
			}
		})
	}
}
