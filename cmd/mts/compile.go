package main

import (
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/report"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:      "compile",
		Usage:     "print the CEL each rule compiles to, with its source line",
		ArgsUsage: "RULES...",
		Flags:     []cli.Flag{formatFlag(report.EvalFormats...), stateFlag()},
		Action:    runCompile,
	}
}

func runCompile(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("compile needs at least one rule file or directory")
	}
	rs, err := loadRules(c, c.Args().Slice())
	if err != nil {
		return err
	}
	return report.Compile(c.App.Writer, c.String("format"), rs.Set.Rules())
}
