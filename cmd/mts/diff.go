package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/rulediff"
	"github.com/fedora-modularity/mts/internal/source"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show which decisions change between two rule sets",
		Description: `Decides every build of a corpus (--events: modulemd files, directories of
them, or events files, *.jsonl: lines in the mts eval batch shape, MBS
messages as the service receives them, whose documents come from
--modulemd-dir, or messages as a bus delivers them, {"topic": T, "body": B},
such as Koji's build events) with the old and the new rule set and prints
the decisions that change (outcome, rule, destinations, untag, error) and
every build that could not be decided. A Koji message that carries only
its build's identity is completed from the hub of --koji-profile, when
given. -o markdown gives a table for a pull request. Exit 0 whether
or not decisions change unless --exit-code is given (then 1 on changes); 1
when a rule set is refused, the corpus cannot be read or no build of it
could be decided; 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "old", TakesFile: true, Usage: "old rule `FILE` or directory (repeatable)", Required: true},
			&cli.StringSliceFlag{Name: "new", TakesFile: true, Usage: "new rule `FILE` or directory (repeatable)", Required: true},
			&cli.StringSliceFlag{Name: "events", TakesFile: true, Usage: "builds: modulemd `FILE`, directory or events .jsonl (repeatable)", Required: true},
			&cli.StringFlag{Name: "modulemd-dir", TakesFile: true, Usage: "documents of the MBS messages in events files: `DIR` of <id>.yaml, or matched on name, stream, version and context"},
			kojiProfileFlag(), kojiConfigFlag(),
			&cli.StringSliceFlag{Name: "state", Usage: "event state for modulemd documents (repeatable)", Value: cli.NewStringSlice("ready")},
			formatFlag(report.DiffFormats...),
			&cli.BoolFlag{Name: "exit-code", Usage: "exit 1 when decisions change"},
			stateFlag(),
		},
		Action: runDiff,
	}
}

func runDiff(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	stop := progress(c, "deciding")
	defer stop()
	cases, err := diffCases(c)
	if err != nil {
		return err
	}
	old, err := loadRules(c, c.StringSlice("old"))
	if err != nil {
		return err
	}
	nw, err := loadRules(c, c.StringSlice("new"))
	if err != nil {
		return err
	}
	rep := rulediff.Compare(c.Context, old, nw, cases)
	stop()
	if err := report.Diff(c.App.Writer, c.String("format"), rep); err != nil {
		return failErr(err)
	}
	switch {
	case rep.Compared == 0:
		return failErr(fmt.Errorf("none of the %d builds could be decided", rep.Cases))
	case c.Bool("exit-code") && rep.Changed > 0:
		return failed()
	}
	return nil
}

// diffCases reads the builds of --events.
func diffCases(c *cli.Context) ([]rulediff.Case, error) {
	opts := rulediff.LoadOptions{States: c.StringSlice("state")}
	if d := c.String("modulemd-dir"); d != "" {
		dir, err := source.NewDir(d)
		if err != nil {
			return nil, failErr(err)
		}
		opts.Modulemds = dir
	}
	hub, closeHub, err := kojiReader(c)
	if err != nil {
		return nil, err
	}
	defer closeHub()
	opts.Hub = hub
	cases, err := rulediff.LoadCases(c.Context, c.StringSlice("events"), opts)
	if err != nil {
		return nil, failErr(fmt.Errorf("reading builds: %w", err))
	}
	if len(cases) == 0 {
		return nil, failErr(errors.New("no builds found in --events"))
	}
	return cases, nil
}
