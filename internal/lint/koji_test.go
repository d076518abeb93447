package lint

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestKojiRules lints the rule sets of testdata/koji (a directory each):
// tagging loops across files, rules that react to their own tagging,
// fields rules on Koji's events cannot read, and on: problems.
func TestKojiRules(t *testing.T) {
	type want struct {
		code, file string
		line       int
		says       []string // in the message or the hint
	}
	tests := []struct {
		dir  string
		want []want
		not  []string // codes that must not appear
	}{
		{"cycle", []want{{CodeLoop, "a.cel.yaml", 4, []string{
			`rule "candidate-to-testing" (line 4) on build.tag tags into "f40-testing"`,
			`rule "testing-back" (testdata/koji/cycle/b.cel.yaml:7) on build.tag tags into "f40-candidate"`,
			`which rule "candidate-to-testing" reacts to again`}}}, []string{CodeOwnTagging}},
		{"prefix", []want{{CodeLoop, "p.cel.yaml", 4, []string{`"spread"`, `tags into "eln-nodejs"`, `"gather" (line 7)`}}}, nil},
		{"self", []want{{CodeLoop, "s.cel.yaml", 4, []string{`rule "again" (line 4) on build.tag tags into "f40", which rule "again" reacts to again`}}}, nil},
		{"untag", []want{{CodeLoop, "u.cel.yaml", 4, []string{`"move-out" (line 4) on build.tag untags from "f40-testing"`, `"put-back" (line 7) on build.untag tags into "f40-pending"`}}}, nil},
		{"chain", nil, []string{CodeLoop, CodeOwnTagging}},
		{"user", nil, []string{CodeLoop}},
		{"own", []want{{CodeOwnTagging, "o.cel.yaml", 6, []string{`reacts to its own tagging`, `"python-seen"`}}}, []string{CodeLoop}},
		{"fields", []want{
			{CodeEventField, "f.cel.yaml", 5, []string{`event.tag is always empty on build.complete, build.failed`}},
			{CodeEventField, "f.cel.yaml", 5, []string{`build has no field "stat"`, `did you mean build.state?`}},
		}, nil},
		{"on", []want{{CodeLoad, "bad.cel.yaml", 2, []string{`unknown event kind "build.completed"`, `did you mean "build.complete"?`, `on: is module.state.change`}}}, nil},
		{"untag-only", nil, []string{"MTS1", "MTS2"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata/koji", tt.dir)
			res, err := Set(context.Background(), []string{dir}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				found := false
				for _, d := range res.Diagnostics {
					text := d.Message + "\n" + d.Hint
					ok := d.Code == w.code && d.Pos.File == filepath.Join(dir, w.file) && d.Pos.Line == w.line
					for _, s := range w.says {
						ok = ok && strings.Contains(text, s)
					}
					found = found || ok
				}
				if !found {
					t.Errorf("no %s at %s:%d saying %q in %+v", w.code, w.file, w.line, w.says, res.Diagnostics)
				}
			}
			for _, d := range res.Diagnostics {
				for _, n := range tt.not {
					if strings.HasPrefix(d.Code, n) {
						t.Errorf("unexpected %+v", d)
					}
				}
			}
			loops := 0
			for _, d := range res.Diagnostics {
				if d.Code == CodeLoop {
					loops++
				}
			}
			if loops > 1 {
				t.Errorf("a cycle reported %d times: %+v", loops, res.Diagnostics)
			}
		})
	}
}

// TestUntagTags: literal untag tags are checked as destinations are: a
// name Koji cannot have, and a tag Koji does not have.
func TestUntagTags(t *testing.T) {
	src := "format: cel\non: build.tag\nrules:\n  - id: a\n    match: event.tag == 'x'\n    untag: '[\"present\", \"gone\", \"bad name\"]'\n"
	ds, err := File(context.Background(), "r.yaml", []byte(src), Options{Tags: fakeTags{"present": true}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s %d:%d %s", d.Code, d.Pos.Line, d.Pos.Col, d.Message))
	}
	want := []string{
		`MTS105 6:12 untag tag "gone" does not exist in Koji`,
		`MTS105 6:12 untag tag "bad name" does not exist in Koji`,
		`MTS217 6:12 untag "bad name" can never be a Koji tag name, so untagging from it always fails`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
