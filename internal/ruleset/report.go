package ruleset

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Report writes the problems of a refused rule set, one per entry as
// FILE:LINE:COL: message, followed by the offending source line and a
// caret under the column when the file can be read. Other errors are
// written as they are.
func Report(w io.Writer, err error) {
	probs := Problems(err)
	if probs == nil {
		fmt.Fprintln(w, err)
		return
	}
	lines := map[string][]string{}
	for _, p := range probs {
		fmt.Fprintln(w, p.Error())
		src := p.Source
		if src.Line == 0 || src.File == "" {
			continue
		}
		ls, ok := lines[src.File]
		if !ok {
			if data, err := os.ReadFile(src.File); err == nil {
				ls = strings.Split(string(data), "\n")
			}
			lines[src.File] = ls
		}
		if src.Line > len(ls) {
			continue
		}
		line := ls[src.Line-1]
		fmt.Fprintf(w, "    %s\n", line)
		if src.Col > 0 && src.Col <= len(line)+1 {
			pad := strings.Map(func(r rune) rune {
				if r == '\t' {
					return '\t'
				}
				return ' '
			}, line[:src.Col-1])
			fmt.Fprintf(w, "    %s^\n", pad)
		}
	}
}

// Count is the number of problems of a refused set (1 for other errors).
func Count(err error) int {
	if p := Problems(err); p != nil {
		return len(p)
	}
	return 1
}
