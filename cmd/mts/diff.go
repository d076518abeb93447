package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/rulediff"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show which decisions change between two rule sets",
		Description: `Decides every build of a corpus (--events: modulemd files, directories of
them, or events files in the mts eval batch shape, *.jsonl) with the old and
the new rule set and prints the decisions that change (outcome, rule,
destinations). -o markdown gives a table for a pull request. Exit 0 whether
or not decisions change unless --exit-code is given (then 1 on changes);
1 when a rule set is refused or the corpus cannot be read; 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "old", Usage: "old rule `FILE` or directory (repeatable)", Required: true},
			&cli.StringSliceFlag{Name: "new", Usage: "new rule `FILE` or directory (repeatable)", Required: true},
			&cli.StringSliceFlag{Name: "events", Usage: "builds: modulemd `FILE`, directory or events .jsonl (repeatable)", Required: true},
			&cli.StringSliceFlag{Name: "state", Usage: "event state for modulemd documents (repeatable)", Value: cli.NewStringSlice("ready")},
			&cli.StringFlag{Name: "format", Aliases: []string{"o", "output"}, Value: "text", Usage: "output format: " + strings.Join(rulediff.Formats(), ", ")},
			&cli.BoolFlag{Name: "exit-code", Usage: "exit 1 when decisions change"},
			stateFlag(),
		},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if !slices.Contains(rulediff.Formats(), format) {
				return usageErr("--format must be one of %s, not %q", strings.Join(rulediff.Formats(), ", "), format)
			}
			if c.NArg() > 0 {
				return usageErr("diff takes no arguments (give --old, --new and --events)")
			}
			cases, err := rulediff.LoadCases(c.StringSlice("events"), c.StringSlice("state"))
			if err != nil {
				return failErr(fmt.Errorf("reading builds: %w", err))
			}
			old, err := loadRules(c, c.StringSlice("old"))
			if err != nil {
				return err
			}
			nw, err := loadRules(c, c.StringSlice("new"))
			if err != nil {
				return err
			}
			rep := rulediff.Compare(old, nw, cases)
			if err := rulediff.Write(c.App.Writer, format, rep); err != nil {
				return failErr(err)
			}
			if c.Bool("exit-code") && rep.Changed > 0 {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
}
