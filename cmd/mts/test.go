package main

import (
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

func testCommand() *cli.Command {
	return &cli.Command{
		Name:      "test",
		Usage:     "run the rule tests of a rule repository",
		ArgsUsage: "PATH...",
		Description: `Runs rule test files (*.test.yaml, *_test.yaml, *.tests.yaml; directories are
searched recursively): each case names a build (a modulemd file or an inline
document, a state, optional event fields) and the decision expected. Every
case is reported: one that cannot run (a missing document, a test file or
rule set that cannot be loaded) fails with its reason, and the others still
run. Exit 0 when every case passes, 1 when one fails or no test file is
found, 2 on usage errors. --update writes the current decisions as the
expectations.`,
		Flags: []cli.Flag{
			formatFlag(report.TestFormats...),
			&cli.BoolFlag{Name: "update", Usage: "record the current decisions as expectations"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list passing cases too (text)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("test: give rule test files or directories")
			}
			stop := progress(c, "testing")
			rep, err := ruletest.Run(c.Context, c.Args().Slice(), ruletest.Options{Update: c.Bool("update")})
			stop()
			if err != nil {
				return failErr(err)
			}
			if err := report.Tests(c.App.Writer, c.String("format"), rep, c.Bool("verbose")); err != nil {
				return failErr(err)
			}
			if _, nfailed := rep.Counts(); nfailed > 0 {
				return failed()
			}
			return nil
		},
	}
}
