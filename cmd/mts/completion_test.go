package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	bin := buildMTS(t, t.TempDir())
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

// TestCompletionAtPrompt types at an interactive bash prompt in tmux, so
// that readline itself inserts and lists what the script offers.
func TestCompletionAtPrompt(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		testenv.Missing(t, "tmux: %v", err)
	}
	dir := t.TempDir()
	buildMTS(t, dir)
	work, err := filepath.Abs(filepath.Join("testdata", "complete"))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-x", "150", "-y", "30", "-c", work, "env", "-i", "HOME="+dir, "HISTFILE=/dev/null", "TERM=screen", "PATH="+dir+":"+os.Getenv("PATH"), "PS1=$ ", "bash", "--norc", "--noprofile", "-i")
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", sock, "kill-server").Run() })
	run("send-keys", "source <(mts completion bash)", "Enter")
	tests := []struct {
		keys []string
		want string // a line of the screen after the keys
	}{
		{[]string{"mts lint --st", "Tab"}, "$ mts lint --strict"},
		{[]string{"mts lint -o ", "Tab", "Tab"}, "github  json    junit   sarif   text"},
		{[]string{"mts lint ", "Tab", "Tab"}, "fedora.yaml  rules/"},
		{[]string{"mts test rul", "Tab"}, "$ mts test rules/"},
	}
	screen := func() string { return run("capture-pane", "-p") }
	for i, tt := range tests {
		// Each case starts at a fresh prompt on a clear screen.
		ready := fmt.Sprintf("ready-%d", i)
		run("send-keys", "C-u", "clear; echo "+ready, "Enter")
		if !waitForLine(screen, ready) {
			t.Fatalf("bash did not answer:\n%s", screen())
		}
		run(append([]string{"send-keys"}, tt.keys...)...)
		if !waitForLine(screen, tt.want) {
			t.Errorf("after %q the screen has no line %q:\n%s", tt.keys, tt.want, screen())
		}
	}
}

// buildMTS builds the mts binary into dir and returns its path.
func buildMTS(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mts")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitForLine polls the screen until one of its lines is want, for at most
// ten seconds (the machine may be busy).
func waitForLine(screen func() string, want string) bool {
	for range 100 {
		for _, l := range strings.Split(screen(), "\n") {
			if strings.TrimRight(l, " ") == want {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
