package main

import (
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/policy"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check rule files for mistakes",
		ArgsUsage: "PATH...",
		Description: `Checks the rule set the paths give (files, and directories' *.yaml files
in name order, rule tests excepted; together one ordered set, as the service
loads it; a directory without rule files of its own, such as a repository's
rules/, gives each of its subdirectories that has some as a set of its own)
and reports every load error and the warnings of the diagnostic
table in the README, each with a code (MTS1xx errors, MTS2xx warnings,
MTS3xx information). Exit 0 when no error was found (no warning either with
--strict), 1 otherwise, 2 on usage errors.`,
		Flags: []cli.Flag{
			formatFlag(report.LintFormats...),
			&cli.BoolFlag{Name: "strict", Usage: "fail on warnings too"},
			&cli.Uint64Flag{Name: "max-cost", Value: policy.DefaultCostLimit, Usage: "estimated CEL cost above which a rule is reported"},
			&cli.Uint64Flag{Name: "assume-size", Value: lint.DefaultAssumedSize, Usage: "size of document collections and strings assumed by cost estimates"},
			&cli.StringFlag{Name: "koji-profile", Usage: "check that literal destination tags exist in the Koji of this client `PROFILE`"},
			&cli.StringFlag{Name: "koji-config", TakesFile: true, Usage: "koji client configuration `FILE` read instead of ~/.koji/config"},
			stateFlag(),
		},
		Action: runLint,
	}
}

func runLint(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("lint: give rule files or directories")
	}
	if c.IsSet("koji-config") && !c.IsSet("koji-profile") {
		return usageErr("--koji-config needs --koji-profile")
	}
	opts := lint.Options{DefaultState: c.String("default-state"), MaxCost: c.Uint64("max-cost"), AssumedSize: c.Uint64("assume-size")}
	if p := c.String("koji-profile"); p != "" {
		tags, err := app.KojiTags(p, c.String("koji-config"))
		if err != nil {
			return failErr(err)
		}
		opts.Tags = tags
	}
	stop := progress(c, "linting")
	res, err := lint.Sets(c.Context, c.Args().Slice(), opts)
	stop()
	if err != nil {
		return failErr(err)
	}
	tool := report.Tool{Name: "mts lint", Version: c.App.Version, InformationURI: "https://github.com/fedora-modularity/mts"}
	if err := report.Lint(c.App.Writer, c.String("format"), res, c.Bool("strict"), tool); err != nil {
		return failErr(err)
	}
	if res.Failed(c.Bool("strict")) {
		return failed()
	}
	return nil
}
