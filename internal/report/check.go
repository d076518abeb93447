package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/internal/config"
)

// CheckFormats are the formats of `serve --check-config`.
var CheckFormats = []string{Text, JSON}

// Check writes what `serve --check-config` found: each problem, then a
// count or a line saying the configuration is ok, what answered (reached)
// and the backend checked, then each input the consumer reads.
func Check(w io.Writer, format string, probs config.Problems, reached []string, backend string, inputs []string) error {
	if format == JSON {
		return writeJSON(w, struct {
			OK       bool             `json:"ok"`
			Reached  []string         `json:"connected_to"`
			Inputs   []string         `json:"inputs"`
			Problems []config.Problem `json:"problems"`
		}{len(probs) == 0, append([]string{}, reached...), append([]string{}, inputs...), append([]config.Problem{}, probs...)})
	}
	for _, p := range probs {
		fmt.Fprintln(w, p.Error())
	}
	what := "checked without connecting"
	if len(reached) > 0 {
		what = "checked, and " + joinAnd(reached) + " answered"
	}
	if len(probs) > 0 {
		_, err := fmt.Fprintln(w, counted(len(probs), "problem"))
		return err
	}
	if _, err := fmt.Fprintf(w, "configuration ok (%s; backend %s)\n", what, backend); err != nil {
		return err
	}
	for _, in := range inputs {
		if _, err := fmt.Fprintf(w, "input: %s\n", in); err != nil {
			return err
		}
	}
	return nil
}

// joinAnd lists items as a sentence does: "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
