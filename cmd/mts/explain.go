package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/build"
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
--event is an MBS message (with --modulemd or --modulemd-dir) or a message
as a bus delivers it, {"topic": T, "body": B}, such as one of Koji's build
events; --koji-profile lets explain ask the hub for what it lacks. Exit 0 when the build got a decision, 1 when the rule set is refused or the
input cannot be read, 2 on usage errors.`,
		Flags: []cli.Flag{
			rulesFlag(),
			&cli.StringFlag{Name: "event", TakesFile: true, Usage: "MBS message or {topic, body} bus message `FILE` (JSON)", Required: true},
			&cli.StringFlag{Name: "modulemd", TakesFile: true, Usage: "modulemd `FILE` of the event's build"},
			modulemdDirFlag(),
			kojiProfileFlag(), kojiConfigFlag(),
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
	ec, err := singleCase(c.String("event"), c.String("modulemd"))
	if err != nil {
		return failErr(err)
	}
	if ec.Topic != "" {
		if _, ok := build.TopicKind(ec.Topic); !ok {
			return failErr(fmt.Errorf("topic %q: %w", ec.Topic, decision.ErrTopic))
		}
		m, err := build.DecodeMessage(ec.Topic, "", ec.Body)
		if err != nil {
			return failErr(err)
		}
		if m.Koji != nil {
			return explainKoji(c, m)
		}
		ec = decision.EventCase{Event: ec.Body}
	}
	if !c.IsSet("modulemd") && !c.IsSet("modulemd-dir") {
		return usageErr("give --modulemd or --modulemd-dir")
	}
	src, err := modulemdDir(c)
	if err != nil {
		return err
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

// explainKoji explains the decision on one of Koji's build events.
func explainKoji(c *cli.Context, m build.Message) error {
	hub, closeHub, err := kojiReader(c)
	if err != nil {
		return err
	}
	defer closeHub()
	rs, err := loadRules(c, c.StringSlice("rules"))
	if err != nil {
		return err
	}
	x, err := decision.ExplainKoji(c.Context, rs, m, hub)
	if err != nil {
		return failErr(err)
	}
	return report.Explain(c.App.Writer, c.String("format"), x)
}
