package ruleset

import (
	"slices"
	"testing"
)

// TestCELFileEveryProblem: one problem does not hide the others. Every
// structural problem of every rule, and the compile errors of the rules
// that have none, are reported together, each at its place.
func TestCELFileEveryProblem(t *testing.T) {
	file := `format: cel
rules:
  - id: a
    match: build.name == "x"
    destinations: '"t"'
    colour: blue
  - id: a
    destinations: '"u"'
  - id: c
    match: [build.name]
    destinations: '"v"'
  - id: d
    match: build.name + 1
    destinations: '"w"'
  - id: e
    state: [ready, {x: 1}]
    destinations: '"x"'
`
	_, err := LoadBytes("f.yaml", []byte(file), Options{})
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`f.yaml:6:5: unknown key "colour" in a rule`,
		`f.yaml:7:9: rule "a": rule id "a" is used twice (first by rule 1)`,
		`f.yaml:10:12: rule "c": match must be a CEL expression (a string), not a list`,
		`f.yaml:16:20: rule "e": state must be a state name or a list of them, not a mapping`,
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	cel := 0
	for _, g := range got {
		if len(g) > 12 && g[:12] == "f.yaml:13:23" {
			cel++
		}
	}
	if cel == 0 {
		t.Errorf("the type error of rule d is not reported with the others: %q", got)
	}
	if len(got) != len(want)+cel {
		t.Errorf("problems:\n%s", got)
	}
}
