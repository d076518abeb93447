package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/policy"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:      "compile",
		Usage:     "print the CEL each rule compiles to, with its source line",
		ArgsUsage: "RULES...",
		Flags:     []cli.Flag{formatFlag(report.EvalFormats...), stateFlag()},
		Action: func(c *cli.Context) error {
			out := c.String("format")
			if c.NArg() == 0 {
				return usageErr("compile needs at least one rule file or directory")
			}
			rs, err := loadRules(c, c.Args().Slice())
			if err != nil {
				return err
			}
			type compiled struct {
				ID           string          `json:"id"`
				Index        int             `json:"index"`
				Source       policy.Position `json:"source"`
				States       []string        `json:"states"`
				Match        string          `json:"match"`
				Destinations string          `json:"destinations"`
			}
			w := c.App.Writer
			enc := json.NewEncoder(w)
			for _, r := range rs.Set.Rules() {
				m := r.Match
				if strings.TrimSpace(m) == "" {
					m = "true"
				}
				if out == "json" {
					if err := enc.Encode(compiled{r.ID, r.Index, r.Source, r.States, m, r.Destinations}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(w, "# %s rule %d %q, states %s\n", r.Source, r.Index, r.ID, strings.Join(r.States, ", "))
				fmt.Fprintf(w, "match: %s\ndestinations: %s\n\n", m, r.Destinations)
			}
			return nil
		},
	}
}
