package policy

import (
	"strings"
	"testing"
)

func TestMatchValues(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	scope := &Scope{Variables: []Variable{{Name: "plats", Expr: `data.platforms`}}}
	specs := []Spec{
		{ID: "and", Index: 1, States: []string{"ready"}, Match: `build.name == "nodejs" && size(plats) > 5`, Destinations: `"t"`, Scope: scope},
		{ID: "ternary", Index: 2, States: []string{"ready"}, Match: `size(plats) > 0 ? plats[0] == "f31" : false`, Destinations: `"t"`, Scope: scope},
		{ID: "short", Index: 3, States: []string{"ready"}, Match: `build.name == "perl" && plats[9] == "x"`, Destinations: `"t"`, Scope: scope},
	}
	set, err := env.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	in := input("ready", map[string]any{"platforms": []any{"f31", "el8"}})
	want := map[string][]string{
		"and": {
			`build.name == "nodejs" && size(plats) > 5 = false`,
			`build.name == "nodejs" = true`, `build.name = "nodejs"`,
			`size(plats) > 5 = false`, `size(plats) = 2`,
		},
		"ternary": {
			`plats[0] == "f31" = true`, `plats[0] = "f31"`, `size(plats) > 0 = true`,
		},
		// The right of && was not evaluated: it did not decide.
		"short": {`build.name == "perl" = false`, `build.name = "nodejs"`},
	}
	for _, r := range set.Rules() {
		vals, err := env.MatchValues(set, r, in)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		var got []string
		for _, v := range vals {
			got = append(got, v.Expr+" = "+v.Value)
		}
		for _, w := range want[r.ID] {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: no %q in\n%s", r.ID, w, strings.Join(got, "\n"))
			}
		}
		if r.ID == "short" {
			for _, g := range got {
				if strings.HasPrefix(g, "plats[9]") {
					t.Errorf("short: shows %q, which short-circuiting never evaluated", g)
				}
			}
		}
	}
}
