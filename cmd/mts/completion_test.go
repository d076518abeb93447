package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// completeInBash completes line (the cursor at its end) in a real bash with
// `mts completion bash` sourced, calling the function the script
// registered for mts as bash's completion would, and returns the sorted
// candidates. bash splits the line at its COMP_WORDBREAKS, as it does at
// a prompt.
const completeInBash = `
source <("$MTS" completion bash) || exit 1
spec=$(complete -p mts) || exit 1
fn=${spec#*-F }; fn=${fn%% *}
COMP_LINE=$LINE COMP_POINT=${#LINE}
words=() w=
for ((i = 0; i < ${#LINE}; i++)); do
  c=${LINE:i:1}
  if [[ $c == ' ' ]]; then [[ -n $w ]] && words+=("$w"); w=
  elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then [[ -n $w ]] && words+=("$w"); words+=("$c"); w=
  else w+=$c; fi
done
COMP_WORDS=("${words[@]}" "$w") COMP_CWORD=${#words[@]}
"$fn" mts "$w" "${words[-1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort
`

func TestCompletionInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Missing(t, "bash: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mts")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		line string
		want []string
	}{
		{"mts ", []string{"compile", "completion", "diff", "eval", "explain", "koji", "lint", "man", "replay", "serve", "test", "version", "why"}},
		{"mts li", []string{"lint"}},
		{"mts lint --", []string{"--assume-size", "--default-state", "--format", "--help", "--koji-config", "--koji-profile", "--max-cost", "--output", "--strict"}},
		{"mts lint --st", []string{"--strict"}},
		{"mts lint ", []string{"fedora.yaml", "rules"}},
		{"mts lint rules/", []string{"rules/fedora.test.yaml"}},
		{"mts lint fedora.yaml --strict f", []string{"fedora.yaml"}},
		{"mts lint -o ", []string{"github", "json", "junit", "sarif", "text"}},
		{"mts lint --output j", []string{"json", "junit"}},
		{"mts lint --format=", []string{"github", "json", "junit", "sarif", "text"}},
		{"mts lint --format=s", []string{"sarif"}},
		{"mts test ", []string{"fedora.yaml", "rules"}},
		{"mts test -o ", []string{"json", "junit", "text"}},
		{"mts diff -o ", []string{"json", "markdown", "text"}},
		{"mts eval --rules ", []string{"fedora.yaml", "rules"}},
		{"mts eval -r fedora.yaml --event r", []string{"rules"}},
		{"mts eval --default-state d", []string{"done"}},
		{"mts koji ", []string{"check", "whoami"}},
		{"mts koji check --t", []string{"--tags"}},
		{"mts completion ", []string{"bash", "zsh"}},
		{"mts why ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", completeInBash)
			cmd.Dir = filepath.Join("testdata", "complete")
			cmd.Env = append(os.Environ(), "MTS="+bin, "LINE="+tt.line, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates for %q:\n got %q\nwant %q", tt.line, got, tt.want)
			}
		})
	}
}
