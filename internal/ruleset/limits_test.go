package ruleset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/policy"
)

// TestLimits: each limit refuses the set with one problem naming the file,
// the line and the setting, and the set just under it loads.
func TestLimits(t *testing.T) {
	rule := "- {id: r, type: module, rule: {name: '^a$'}, destinations: t}\n"
	three := strings.Repeat(rule, 3)
	long := "- id: r\n  type: module\n  rule:\n    name: '^" + strings.Repeat("a", 300) + "$'\n  destinations: t\n"
	longCEL := "format: cel\nrules:\n  - id: r\n    match: build.name == '" + strings.Repeat("a", 300) + "'\n    destinations: \"'t'\"\n"
	tests := []struct {
		name, src string
		limits    Limits
		line      int
		setting   string
	}{
		{"file size", three, Limits{MaxFileSize: int64(len(three) - 1)}, 1, "max_rules_file_size"},
		{"rule count", three, Limits{MaxRules: 2}, 3, "max_rules"},
		{"pattern length", long, Limits{MaxPatternLength: 200}, 4, "max_pattern_length"},
		{"expression length", longCEL, Limits{MaxPatternLength: 200}, 4, "max_pattern_length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load([]string{path}, Options{Limits: tc.limits})
			probs := Problems(err)
			if !errors.Is(err, policy.ErrRefused) || len(probs) != 1 {
				t.Fatalf("Load = %v, want one problem", err)
			}
			p := probs[0]
			if p.Source.File != path || p.Source.Line != tc.line || !strings.Contains(p.Msg, tc.setting) {
				t.Fatalf("problem %v, want %s:%d naming %s", p, path, tc.line, tc.setting)
			}
			if _, err := Load([]string{path}, Options{}); err != nil {
				t.Fatalf("under the default limits: %v", err)
			}
		})
	}
}
