package report

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fedora-modularity/mts/policy"
)

// sources caches the lines of the files reports quote.
type sources map[string][]string

// snippet writes the source line at p and a caret under its column, as
// compilers do; nothing when the file cannot be read or p has no column.
func (s sources) snippet(w io.Writer, p policy.Position) {
	if p.File == "" || p.Line == 0 || p.Col == 0 {
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
	if p.Col > len(runes)+1 {
		return
	}
	// Tabs stay tabs so that the caret lines up in a terminal.
	pad := strings.Map(func(r rune) rune {
		if r == '\t' {
			return '\t'
		}
		return ' '
	}, string(runes[:p.Col-1]))
	fmt.Fprintf(w, "    %s\n    %s^\n", line, pad)
}
