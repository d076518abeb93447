package report

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// sources caches the lines of the files reports quote.
type sources map[string][]string

// snippet writes the source line at p and a caret under its column, as
// compilers do; nothing when the file cannot be read or p has no line.
// Without a column, the line is written alone when bare is set, else not
// at all. Columns count characters, and tabs stay tabs so that the caret
// lines up in a terminal.
func (s sources) snippet(w io.Writer, p policy.Position, bare bool) {
	if p.File == "" || p.Line == 0 || p.Col == 0 && !bare {
		return
	}
	lines, ok := s[p.File]
	if !ok {
		if data, err := os.ReadFile(p.File); err == nil {
			lines = strings.Split(string(data), "\n")
		}
		s[p.File] = lines
	}
	if p.Line > len(lines) {
		return
	}
	line := strings.TrimSuffix(lines[p.Line-1], "\r")
	runes := []rune(line)
	if p.Col == 0 || p.Col > len(runes)+1 {
		if bare {
			fmt.Fprintf(w, "    %s\n", line)
		}
		return
	}
	pad := strings.Map(func(r rune) rune {
		if r == '\t' {
			return '\t'
		}
		return ' '
	}, string(runes[:p.Col-1]))
	fmt.Fprintf(w, "    %s\n    %s^\n", line, pad)
}

// RuleProblems writes the problems of a refused rule set, one per entry
// as FILE:LINE:COL: message, followed by the offending source line and a
// caret under the column when the file can be read. Other errors are
// written as they are.
func RuleProblems(w io.Writer, err error) {
	probs := ruleset.Problems(err)
	if probs == nil {
		fmt.Fprintln(w, err)
		return
	}
	src := sources{}
	for _, p := range probs {
		fmt.Fprintln(w, p.Error())
		src.snippet(w, p.Source, true)
	}
}
