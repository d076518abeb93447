package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/policy"
)

// Compile writes the CEL each rule compiles to, with its source line: a
// block per rule in text, a JSON line per rule in json.
func Compile(w io.Writer, format string, rules []*policy.Rule) error {
	type compiled struct {
		ID           string          `json:"id"`
		Index        int             `json:"index"`
		Source       policy.Position `json:"source"`
		States       []string        `json:"states"`
		Match        string          `json:"match"`
		Destinations string          `json:"destinations"`
		// Untag, for rules on Koji's events.
		Untag string `json:"untag,omitempty"`
	}
	enc := json.NewEncoder(w)
	for _, r := range rules {
		m := r.Match
		if strings.TrimSpace(m) == "" {
			m = "true"
		}
		if format == JSON {
			untag, _ := r.UntagExpr()
			if err := enc.Encode(compiled{r.ID, r.Index, r.Source, r.States, m, r.Destinations, untag}); err != nil {
				return err
			}
			continue
		}
		if r.Koji != nil {
			// A Koji rule's States are the kinds of its file's on:.
			fmt.Fprintf(w, "# %s rule %d %q, on %s\n", r.Source, r.Index, r.ID, strings.Join(r.States, ", "))
		} else {
			fmt.Fprintf(w, "# %s rule %d %q, states %s\n", r.Source, r.Index, r.ID, strings.Join(r.States, ", "))
		}
		fmt.Fprintf(w, "match: %s\n", m)
		if r.Koji == nil || r.Destinations != "" {
			fmt.Fprintf(w, "destinations: %s\n", r.Destinations)
		}
		if untag, _ := r.UntagExpr(); untag != "" {
			fmt.Fprintf(w, "untag: %s\n", untag)
		}
		fmt.Fprintln(w)
	}
	return nil
}
