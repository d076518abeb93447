package main

import (
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/report"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "show why each rule matched or not for one build",
		Description: `Decides for one build like eval and shows each rule tried: for a legacy
rule each criterion with the value seen, the pattern and the result; for a
CEL rule the value of each sub-expression of its condition that decided.
Exit 0 when the build got a decision, 1 when the rule set is refused or the
input cannot be read, 2 on usage errors.`,
		Flags: []cli.Flag{
			rulesFlag(),
			&cli.StringFlag{Name: "event", TakesFile: true, Usage: "MBS message `FILE` (JSON)", Required: true},
			&cli.StringFlag{Name: "modulemd", TakesFile: true, Usage: "modulemd `FILE` of the event's build"},
			modulemdDirFlag(),
			formatFlag(report.ExplainFormats...),
			stateFlag(),
		},
		Action: runExplain,
	}
}

func runExplain(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := conflicts(c, [2]string{"modulemd", "modulemd-dir"}); err != nil {
		return err
	}
	if !c.IsSet("modulemd") && !c.IsSet("modulemd-dir") {
		return usageErr("give --modulemd or --modulemd-dir")
	}
	src, err := modulemdDir(c)
	if err != nil {
		return err
	}
	ec, err := singleCase(c.String("event"), c.String("modulemd"))
	if err != nil {
		return failErr(err)
	}
	ev, doc, err := ec.Resolve(c.Context, src)
	if err != nil {
		return failErr(err)
	}
	rs, err := loadRules(c, c.StringSlice("rules"))
	if err != nil {
		return err
	}
	return report.Explain(c.App.Writer, c.String("format"), decision.Explain(rs, ev, doc))
}
