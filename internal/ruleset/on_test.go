package ruleset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
)

// TestOnProblems checks every problem of on:, untag: and the variables of
// rules on Koji's events, each at its FILE:LINE:COL: testdata/onfile/X.yaml
// gives the problems in X.errs (rewritten with -update).
func TestOnProblems(t *testing.T) {
	files, err := filepath.Glob("testdata/onfile/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load([]string{f}, Options{})
			probs := Problems(err)
			if len(probs) == 0 {
				t.Fatalf("loaded without problems (%v)", err)
			}
			var b strings.Builder
			for _, p := range probs {
				b.WriteString(p.Error() + "\n")
			}
			want := strings.TrimSuffix(f, ".yaml") + ".errs"
			if *update {
				if err := os.WriteFile(want, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(w) {
				t.Errorf("problems:\n%s\nwant:\n%s", b.String(), w)
			}
		})
	}
}

// TestNeedsBuildInfo: a rule on a kind needs the hub's build info when it
// reads what Fedora's flat bodies lack, directly or through a variable.
func TestNeedsBuildInfo(t *testing.T) {
	tests := []struct {
		name  string
		vars  string
		match string
		dests string
		untag string
		want  bool
	}{
		{"identity fields", "", `build.name == "x" && build.nvr.startsWith("x-") && build.owner != "" && build.id > 0`, `"t"`, "", false},
		{"epoch, task_id and version by index", "", `build["epoch"] == null && build["task_id"] != null`, `build.version`, "", false},
		{"event only", "", `event.tag == "a" && event.user != "mts"`, `event.tag + "-b"`, "", false},
		{"no match", "", "", `"t"`, `build.release`, false},
		{"state", "", `build.state == "complete"`, `"t"`, "", true},
		{"has(typeinfo)", "", `has(build.typeinfo.module)`, `"t"`, "", true},
		{"types in destinations", "", `true`, `build.types`, "", true},
		{"extra in untag", "", `true`, `"t"`, `build.extra.tags`, true},
		{"cg and volume", "", `build.cg == "" || build.volume == "DEFAULT"`, `"t"`, "", true},
		{"data", "", `data.name == "x"`, `"t"`, "", true},
		{"modulemd", "", `true`, `modulemd.data.name`, "", true},
		{"whole build", "", `size(build) > 3`, `"t"`, "", true},
		{"computed key", "", `build[event.tag] == "x"`, `"t"`, "", true},
		{"build in a comprehension", "", `build.exists(k, k == "x")`, `"t"`, "", true},
		{"optional field", "", `build.?cg.orValue("") == ""`, `"t"`, "", true},
		{"variable reads data", "  - {name: s, expression: data.stream}\n", `s == "x"`, `"t"`, "", true},
		{"variable through variable", "  - {name: e, expression: build.extra}\n  - {name: f, expression: e.size() > 0}\n", `f`, `"t"`, "", true},
		{"variable of identity", "  - {name: n, expression: build.name}\n", `n == "x"`, `"t"`, "", false},
		{"unused variable", "  - {name: s, expression: data.stream}\n", `build.name == "x"`, `"t"`, "", false},
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "format: cel\non: [build.tag, build.complete]\n"
			if tt.vars != "" {
				src += "variables:\n" + tt.vars
			}
			src += "rules:\n  - id: r\n    destinations: " + q(tt.dests) + "\n"
			if tt.match != "" {
				src += "    match: " + q(tt.match) + "\n"
			}
			if tt.untag != "" {
				src += "    untag: " + q(tt.untag) + "\n"
			}
			src += "  - id: plain\n    match: build.name == 'y'\n    destinations: '\"u\"'\n"
			rs, err := LoadBytes("n.yaml", []byte(src), Options{})
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			for _, k := range []build.Kind{build.KindTag, build.KindComplete} {
				if got := rs.NeedsBuildInfo(k); got != tt.want {
					t.Errorf("NeedsBuildInfo(%s) = %v, want %v", k, got, tt.want)
				}
			}
			if rs.NeedsBuildInfo(build.KindUntag) || rs.NeedsBuildInfo(build.KindModule) {
				t.Error("NeedsBuildInfo is true for a kind without rules")
			}
		})
	}
}

func TestNearest(t *testing.T) {
	kinds := []string{"module.state.change", "build.building", "build.complete", "build.failed", "build.canceled", "build.deleted", "build.tag", "build.untag"}
	for _, tt := range []struct{ typo, want string }{
		{"build.tagged", "build.tag"},
		{"build.completed", "build.complete"},
		{"Build.Untag", "build.untag"},
		{"build.cancelled", "build.canceled"},
	} {
		if got := Nearest(tt.typo, kinds); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.typo, got, tt.want)
		}
	}
}
