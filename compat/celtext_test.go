package compat_test

import (
	"os"
	"path/filepath"
	"testing"

	"cel.dev/cel-go/cel"

	"github.com/fedora-modularity/mts/internal/ruleset"
)

// TestGeneratedTextMatchesAST checks that the CEL text shown for legacy
// rules (mts compile, explain) is exactly what the engine runs: the text
// parses to the same expression as the one built for loading.
func TestGeneratedTextMatchesAST(t *testing.T) {
	env, err := ruleset.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../testdata/rules/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, errs := ruleset.ParseFile(f, data, ruleset.Options{})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, sp := range file.Specs {
			if sp.Parse == nil {
				t.Fatalf("%s %q: no parsed form", f, sp.ID)
			}
			matchAST, destsAST := sp.Parse()
			for _, pair := range []struct {
				text string
				ast  *cel.Ast
			}{{sp.Match, matchAST}, {sp.Destinations, destsAST}} {
				if pair.ast == nil {
					if pair.text != "" {
						t.Errorf("%s %q: text %q without a parsed form", f, sp.ID, pair.text)
					}
					continue
				}
				parsed, iss := env.CEL().Parse(pair.text)
				if iss.Err() != nil {
					t.Fatalf("%s %q: %v", f, sp.ID, iss.Err())
				}
				want, err := cel.AstToString(parsed)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cel.AstToString(pair.ast)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s %q:\n built %s\nparsed %s", f, sp.ID, got, want)
				}
			}
		}
	}
}
