package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

func rulesFlag() *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: "rules", Aliases: []string{"r"}, Usage: "rule `FILE` or directory (repeatable)", Required: true}
}

func outputFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json"}
}

func stateFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "default-state", Value: "ready", Usage: "build state of rules that name none (build_state)"}
}

func checkOutput(c *cli.Context) (string, error) {
	o := c.String("output")
	if o != "text" && o != "json" {
		return "", usageErr("--output must be text or json, not %q", o)
	}
	return o, nil
}

// loadRules loads the rule set, printing every problem of a refused set to
// stderr.
func loadRules(c *cli.Context, paths []string) (*ruleset.Ruleset, error) {
	rs, err := ruleset.Load(paths, ruleset.Options{DefaultState: c.String("default-state")})
	if err != nil {
		ruleset.Report(c.App.ErrWriter, err)
		return nil, &exitError{code: 1, err: fmt.Errorf("rule set refused (%d problems)", ruleset.Count(err))}
	}
	return rs, nil
}

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "decide for recorded events, offline",
		Description: `Decides for one event (--event with --modulemd) or a batch (--events, one
JSON object per line: {"event": {MBS message}, "modulemd": "<modulemd YAML>"}).
Each decision is printed as one JSON object per line with -o json (the shape
is documented in the README). Exit 0 when every case got a decision, 1 when
the rule set is refused or the input cannot be read, 2 on usage errors.`,
		Flags: []cli.Flag{
			rulesFlag(),
			&cli.StringFlag{Name: "event", Usage: "MBS message `FILE` (JSON)"},
			&cli.StringFlag{Name: "modulemd", Usage: "modulemd `FILE` of the event's build"},
			&cli.StringFlag{Name: "events", Usage: "batch `FILE` of cases (JSON lines, - for stdin)"},
			outputFlag(),
			stateFlag(),
		},
		Action: func(c *cli.Context) error {
			out, err := checkOutput(c)
			if err != nil {
				return err
			}
			single := c.IsSet("event") || c.IsSet("modulemd")
			if single == c.IsSet("events") || (single && !(c.IsSet("event") && c.IsSet("modulemd"))) {
				return usageErr("give either --event and --modulemd, or --events")
			}
			var cases []eval.Case
			if single {
				ev, err := os.ReadFile(c.String("event"))
				if err != nil {
					return failErr(err)
				}
				mmd, err := os.ReadFile(c.String("modulemd"))
				if err != nil {
					return failErr(err)
				}
				cases = append(cases, eval.Case{Event: ev, Modulemd: string(mmd)})
			}
			rs, err := loadRules(c, c.StringSlice("rules"))
			if err != nil {
				return err
			}
			w := bufio.NewWriter(c.App.Writer)
			defer w.Flush()
			emit := func(r eval.Result) error {
				if out == "json" {
					b, err := json.Marshal(r)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(w, "%s\n", b)
					return err
				}
				return writeResultText(w, r)
			}
			if single {
				return emit(eval.Run(rs, cases[0]))
			}
			return evalBatch(c.String("events"), rs, emit)
		},
	}
}

func evalBatch(path string, rs *ruleset.Ruleset, emit func(eval.Result) error) error {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return failErr(err)
		}
		defer f.Close()
		in = f
	}
	err := eval.ReadCases(in, func(line int, cs eval.Case, err error) error {
		if err != nil {
			return emit(eval.ErrorResult(fmt.Errorf("line %d: %w", line, err)))
		}
		return emit(eval.Run(rs, cs))
	})
	if err != nil {
		return failErr(err)
	}
	return nil
}

func writeResultText(w io.Writer, r eval.Result) error {
	switch {
	case r.Outcome == eval.OutcomeError:
		where := ""
		if r.RuleID != nil {
			where = fmt.Sprintf(" in rule %d %q", *r.RuleIndex, *r.RuleID)
		}
		_, err := fmt.Fprintf(w, "error%s: %s\n", where, *r.Error)
		return err
	case r.RuleID != nil:
		fmt.Fprintf(w, "matched rule %d %q\n", *r.RuleIndex, *r.RuleID)
		fmt.Fprintf(w, "destinations: %s\n", strings.Join(r.Destinations, ", "))
		for _, tc := range r.TagCalls {
			fmt.Fprintf(w, "  tagBuild(%s, %s)\n", tc[0], tc[1])
		}
	default:
		fmt.Fprintln(w, r.Outcome)
	}
	for _, m := range r.Messages {
		b, _ := json.Marshal(m.Body)
		fmt.Fprintf(w, "publish %s %s\n", m.Topic, b)
	}
	return nil
}
