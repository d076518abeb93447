package ruleset

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/policy"
)

var update = flag.Bool("update", false, "rewrite the expected positions in testdata/syntax and testdata/celpos")

// TestSyntaxPositions checks where YAML syntax errors are reported. The
// .pos files were first written from PyYAML's problem marks on the same
// files (python3-yaml: problem_mark.line+1, problem_mark.column+1), the
// reference's reading of rule files; -update rewrites them from ours.
func TestSyntaxPositions(t *testing.T) {
	checkPositions(t, "testdata/syntax")
}

// TestCELPositions checks that a CEL parse or type error is reported at the
// mistake in the file, through the expression's place in its YAML scalar,
// for every scalar style.
func TestCELPositions(t *testing.T) {
	checkPositions(t, "testdata/celpos")
}

func checkPositions(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load([]string{f}, Options{})
			probs := Problems(err)
			if len(probs) == 0 {
				t.Fatalf("loaded without problems (%v)", err)
			}
			got := fmt.Sprintf("%d:%d\n", probs[0].Source.Line, probs[0].Source.Col)
			want := strings.TrimSuffix(f, ".yaml") + ".pos"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(w) {
				t.Errorf("problem at %s, want %s (%s)", strings.TrimSpace(got), strings.TrimSpace(string(w)), probs[0].Msg)
			}
		})
	}
}

func TestErrorsKeepTheirCause(t *testing.T) {
	_, err := LoadBytes("r.yaml", []byte("format: cel\nrules:\n  - id: a\n    match: build.nmae == 'x'\n    destinations: '\"t\"'\n"), Options{})
	probs := Problems(err)
	if len(probs) != 1 {
		t.Fatalf("problems %v", err)
	}
	var ce *policy.CompileError
	if !errors.Is(probs[0], policy.ErrCompile) || !errors.As(probs[0], &ce) || ce.Line != 1 || ce.Col != 6 {
		t.Errorf("problem %#v does not keep its CEL cause", probs[0])
	}
}

// FuzzLocate checks that mapping a place in any scalar never panics and
// stays inside the file.
func FuzzLocate(f *testing.F) {
	for _, s := range []string{"a: >\n  x &&\n  y\n", "a: |\n  x\n\n  y\n", "a: \"x\\ty\n  z\"\n", "a: 'it''s\n\n  b'\n", "a: plain\n  more\n"} {
		f.Add([]byte(s), 1, 2)
	}
	f.Fuzz(func(t *testing.T, data []byte, line, col int) {
		root, err := parseForTest(data)
		if err != nil || root == nil {
			return
		}
		for _, n := range root.Content {
			loc := scalarLocator("f.yaml", data, n)
			if loc == nil {
				continue
			}
			p, ok := loc.Locate(line, col)
			if ok && (p.Line < 1 || p.Line > strings.Count(string(data), "\n")+1 || p.Col < 1) {
				t.Fatalf("Locate(%d, %d) = %v outside the file", line, col, p)
			}
		}
	})
}

func parseForTest(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, err
	}
	return doc.Content[0], nil
}
