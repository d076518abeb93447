package main

import (
	"errors"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/ruletest"
)

func testCommand() *cli.Command {
	return &cli.Command{
		Name:      "test",
		Usage:     "run the rule tests of a rule repository",
		ArgsUsage: "PATH...",
		Description: `Runs rule test files (*.test.yaml, *_test.yaml, *.tests.yaml; directories are
searched recursively): each case names a build (a modulemd file or an inline
document, a state, optional event fields) and the decision expected. Exit 0
when every case passes, 1 when one fails or a file cannot be used, 2 on
usage errors. --update writes the current decisions as the expectations.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"o", "output"}, Value: "text", Usage: "output format: " + strings.Join(ruletest.Formats(), ", ")},
			&cli.BoolFlag{Name: "update", Usage: "record the current decisions as expectations"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list passing cases too (text)"},
		},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if !slices.Contains(ruletest.Formats(), format) {
				return usageErr("--format must be one of %s, not %q", strings.Join(ruletest.Formats(), ", "), format)
			}
			if c.NArg() == 0 {
				return usageErr("test: give rule test files or directories")
			}
			rep, err := ruletest.Run(c.Args().Slice(), ruletest.Options{Update: c.Bool("update")})
			if err != nil {
				return failErr(err)
			}
			if err := ruletest.Write(c.App.Writer, format, rep, c.Bool("verbose")); err != nil {
				return failErr(err)
			}
			if _, failed := rep.Counts(); failed > 0 {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
}
