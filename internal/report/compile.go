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
	}
	enc := json.NewEncoder(w)
	for _, r := range rules {
		m := r.Match
		if strings.TrimSpace(m) == "" {
			m = "true"
		}
		if format == JSON {
			if err := enc.Encode(compiled{r.ID, r.Index, r.Source, r.States, m, r.Destinations}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(w, "# %s rule %d %q, states %s\n", r.Source, r.Index, r.ID, strings.Join(r.States, ", "))
		fmt.Fprintf(w, "match: %s\ndestinations: %s\n\n", m, r.Destinations)
	}
	return nil
}
