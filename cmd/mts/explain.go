package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/modulemd"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "show why each rule matched or not for one build",
		Flags: []cli.Flag{
			rulesFlag(),
			&cli.StringFlag{Name: "event", Usage: "MBS message `FILE` (JSON)", Required: true},
			&cli.StringFlag{Name: "modulemd", Usage: "modulemd `FILE` of the event's build", Required: true},
			outputFlag(),
			stateFlag(),
		},
		Action: func(c *cli.Context) error {
			out, err := checkOutput(c)
			if err != nil {
				return err
			}
			body, err := os.ReadFile(c.String("event"))
			if err != nil {
				return failErr(err)
			}
			ev, err := build.Decode(body)
			if err != nil {
				return failErr(fmt.Errorf("%s: %w", c.String("event"), err))
			}
			text, err := os.ReadFile(c.String("modulemd"))
			if err != nil {
				return failErr(err)
			}
			doc, err := modulemd.Parse(text)
			if err != nil {
				return failErr(fmt.Errorf("%s: %w", c.String("modulemd"), err))
			}
			rs, err := loadRules(c, c.StringSlice("rules"))
			if err != nil {
				return err
			}
			x := eval.Explain(rs, ev, doc)
			w := c.App.Writer
			if out == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(x)
			}
			fmt.Fprintf(w, "build %s:%s:%s:%s (id %d), state %s, rules revision %s\n",
				ev.Name, ev.Stream, ev.Version, ev.Context, ev.ID, ev.StateName, x.Revision)
			if len(x.Rules) == 0 {
				fmt.Fprintf(w, "no rule applies to state %q\n", ev.StateName)
			}
			for _, r := range x.Rules {
				fmt.Fprintf(w, "\nrule %d %q (%s): %s\n", r.Index, r.ID, r.Source, r.Verdict)
				if r.Match != "" {
					fmt.Fprintf(w, "  match: %s\n", r.Match)
				}
				for _, s := range r.Steps {
					mark := "no"
					if s.Result {
						mark = "yes"
					}
					fmt.Fprintf(w, "  %-3s %s (line %d): expected %s, saw %s\n", mark, s.Label, s.Source.Line, s.Expected, s.Seen)
					if s.Note != "" {
						fmt.Fprintf(w, "      %s\n", s.Note)
					}
				}
				if r.Error != "" {
					fmt.Fprintf(w, "  error: %s\n", r.Error)
				}
			}
			fmt.Fprintln(w)
			return writeResultText(w, x.Result)
		},
	}
}
