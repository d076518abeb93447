package lint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/rulegen"
)

// TestSetAcrossFiles: a directory is one ordered rule set, so findings
// between files name both places; each file alone has none of them.
func TestSetAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.yaml": "- id: perl\n  type: module\n  rule: {name: '^perl$'}\n  destinations: t\n",
		"b.yaml": "- id: perl\n  type: module\n  rule: {name: '^ruby$'}\n  destinations: t\n" +
			"- id: perl again\n  type: module\n  rule: {name: '^perl$', stream: '^1$'}\n  destinations: t\n",
		"c.cel.yaml": "format: cel\nrules:\n  - id: everything\n    match: 'true'\n    destinations: \"'t'\"\n",
		"d.cel.yaml": "format: cel\nrules:\n  - id: late\n    match: build.name == 'x'\n    destinations: \"'t'\"\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Set(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, d := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "d.cel.yaml")
	c := filepath.Join(dir, "c.cel.yaml")
	want := []struct {
		code, file string
		line       int
		names      string
	}{
		{CodeDuplicateID, b, 1, a + ":1"},
		{CodeShadowed, b, 5, a + ":1"},
		{CodeUnreachable, d, 3, c + ":3"},
	}
	for _, w := range want {
		found := false
		for _, dg := range res.Diagnostics {
			if dg.Code == w.code && dg.Pos.File == w.file && dg.Pos.Line == w.line && strings.Contains(dg.Message, w.names) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s at %s:%d naming %s in %+v", w.code, w.file, w.line, w.names, res.Diagnostics)
		}
	}
	alone, err := Paths(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dg := range alone.Diagnostics {
		if dg.Code == CodeDuplicateID || dg.Code == CodeShadowed || dg.Code == CodeUnreachable {
			t.Errorf("file by file: %+v", dg)
		}
	}
}

// TestSetOnGeneratedRules: the analysis finds what the generator
// plants (the platform catch-alls hide the later ones of their platform)
// and never reports a rule as hidden by a later one.
func TestSetOnGeneratedRules(t *testing.T) {
	mix, _ := rulegen.MixNamed("mixed")
	gen := rulegen.Generate(3, 2000, mix)
	ds, err := File(context.Background(), "gen.yaml", gen.YAML, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hidden := 0
	for _, d := range ds {
		if d.Severity == Error {
			t.Fatalf("generated rules have an error: %+v", d)
		}
		if d.Code == CodeDuplicate || d.Code == CodeShadowed || d.Code == CodeUnreachable {
			hidden++
			var line int
			if _, err := fmt.Sscanf(d.Message[strings.Index(d.Message, "(line"):], "(line %d)", &line); err != nil || line >= d.Pos.Line {
				t.Fatalf("%+v: hidden by a rule at line %d", d, line)
			}
		}
	}
	if hidden == 0 {
		t.Fatal("no hidden rule found in a generated set")
	}
}
