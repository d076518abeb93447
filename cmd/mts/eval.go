package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/koji"
)

func rulesFlag() *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: "rules", TakesFile: true, Aliases: []string{"r"}, Usage: "rule `PATH`, file or directory; several make one ordered set (repeatable)", Required: true}
}

func stateFlag() *choiceFlag {
	return &choiceFlag{choices: lint.States, StringFlag: &cli.StringFlag{Name: "default-state", Value: "ready", Usage: "build state of rules that name none (build_state)",
		Action: func(_ *cli.Context, s string) error {
			if !lint.KnownState(s) {
				return usageErr("--default-state: unknown build state %q (did you mean %q? MBS announces %s)", s, lint.ClosestState(s), strings.Join(lint.States, ", "))
			}
			return nil
		}}}
}

func modulemdDirFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "modulemd-dir", TakesFile: true, Usage: "find an event's modulemd in `DIR`, as serve --dev does (<id>.yaml, or matched on name, stream, version and context)"}
}

// loadRules loads the rule set, printing every problem of a refused set to
// stderr.
func loadRules(c *cli.Context, paths []string) (*ruleset.Ruleset, error) {
	rs, err := ruleset.Load(paths, ruleset.Options{DefaultState: c.String("default-state")})
	if err != nil {
		report.RuleProblems(c.App.ErrWriter, err)
		return nil, &exitError{code: 1, err: fmt.Errorf("rule set refused (%d problems)", ruleset.Count(err))}
	}
	return rs, nil
}

// modulemdDir is the --modulemd-dir source, or nil.
func modulemdDir(c *cli.Context) (decision.ModulemdSource, error) {
	d := c.String("modulemd-dir")
	if d == "" {
		return nil, nil
	}
	dir, err := source.NewDir(d)
	if err != nil {
		return nil, failErr(err)
	}
	return dir, nil
}

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "decide for recorded events, offline",
		Description: `Decides for one event (--event with --modulemd or --modulemd-dir, or a bus
message) or for an events file (--events, - for stdin): one JSON object per
line, either {"event": {MBS message}, "modulemd": "<modulemd YAML>"}, an MBS
message as the service receives it, whose document comes from
--modulemd-dir, or a message as a bus delivers it, {"topic": T, "body": B}
(one of Koji's build events: T such as VirtualTopic.eng.brew.build.tag or
org.fedoraproject.prod.buildsys.tag; or MBS's). A Koji message that carries
only its build's identity, when a rule reads more of the build, is an
error naming what is missing, unless --koji-profile lets eval ask the hub.
Each decision is one JSON object per line with -o json (the shape is
documented in the README). Exit 0 when every case got a line (outcome error
included), 1 when the rule set is refused or the input cannot be read, 2 on
usage errors.`,
		Flags: []cli.Flag{
			rulesFlag(),
			&cli.StringFlag{Name: "event", TakesFile: true, Usage: "MBS message or {topic, body} bus message `FILE` (JSON)"},
			&cli.StringFlag{Name: "modulemd", TakesFile: true, Usage: "modulemd `FILE` of the event's build"},
			&cli.StringFlag{Name: "events", TakesFile: true, Usage: "events `FILE` (JSON lines, - for stdin)"},
			modulemdDirFlag(),
			kojiProfileFlag(), kojiConfigFlag(),
			formatFlag(report.EvalFormats...),
			stateFlag(),
		},
		Action: runEval,
	}
}

func runEval(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := conflicts(c, [2]string{"event", "events"}, [2]string{"modulemd", "events"}, [2]string{"modulemd", "modulemd-dir"}); err != nil {
		return err
	}
	if !c.IsSet("event") && !c.IsSet("events") {
		return usageErr("give --event (with --modulemd or --modulemd-dir) or --events")
	}
	var ec decision.EventCase
	if c.IsSet("event") {
		var err error
		if ec, err = singleCase(c.String("event"), c.String("modulemd")); err != nil {
			return failErr(err)
		}
		if ec.Topic == "" && !c.IsSet("modulemd") && !c.IsSet("modulemd-dir") {
			return usageErr("--event needs --modulemd or --modulemd-dir")
		}
	}
	hub, closeHub, err := kojiReader(c)
	if err != nil {
		return err
	}
	defer closeHub()
	src, err := modulemdDir(c)
	if err != nil {
		return err
	}
	rs, err := loadRules(c, c.StringSlice("rules"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.App.Writer)
	defer w.Flush()
	format := c.String("format")
	if c.IsSet("event") {
		return report.Decision(w, format, ec.Decide(c.Context, rs, src, hub))
	}
	return evalEvents(c, w, rs, src, hub)
}

func kojiProfileFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "koji-profile", Usage: "ask the Koji of this client `PROFILE` for the build info a Koji message lacks"}
}

func kojiConfigFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "koji-config", TakesFile: true, Usage: "koji client configuration `FILE` read instead of ~/.koji/config"}
}

// kojiReader is the hub of --koji-profile, nil without it, and how to
// let it go.
func kojiReader(c *cli.Context) (decision.BuildInfoSource, func(), error) {
	if c.IsSet("koji-config") && !c.IsSet("koji-profile") {
		return nil, nil, usageErr("--koji-config needs --koji-profile")
	}
	p := c.String("koji-profile")
	if p == "" {
		return nil, func() {}, nil
	}
	cl, err := app.KojiReader(p, c.String("koji-config"))
	if err != nil {
		return nil, nil, failErr(err)
	}
	return retryingHub{cl: cl, errw: c.App.ErrWriter}, cl.Close, nil
}

// retryingHub asks the hub for build infos with the profile's retries, as
// the koji commands call it.
type retryingHub struct {
	cl   *koji.Client
	errw io.Writer
}

func (h retryingHub) GetBuildInfo(ctx context.Context, nvrOrID string) (build.KojiBuild, error) {
	var b build.KojiBuild
	err := koji.Retry(ctx, h.cl.Config(), func(attempt int, wait time.Duration, err error) {
		fmt.Fprintf(h.errw, "getBuild %s failed (attempt %d), trying again in %s: %v\n", nvrOrID, attempt, wait, err)
	}, func(ctx context.Context) error {
		var err error
		b, err = h.cl.GetBuildInfo(ctx, nvrOrID)
		return err
	})
	return b, err
}

// evalEvents decides for each line of --events.
func evalEvents(c *cli.Context, w io.Writer, rs *ruleset.Ruleset, src decision.ModulemdSource, hub decision.BuildInfoSource) error {
	format := c.String("format")
	in, closeIn, err := openInput(c, c.String("events"))
	if err != nil {
		return failErr(err)
	}
	defer closeIn()
	err = decision.ReadEvents(in, func(line int, ec decision.EventCase, err error) error {
		if cerr := c.Context.Err(); cerr != nil {
			return cerr
		}
		r := decision.FromError(build.Message{}, fmt.Errorf("line %d: %w", line, err))
		if err == nil {
			r = ec.Decide(c.Context, rs, src, hub)
		}
		return report.Decision(w, format, r)
	})
	if err != nil {
		return failErr(err)
	}
	return nil
}

// singleCase reads --event and, when given, --modulemd. An event file
// that is a bus message ({"topic": T, "body": B}) is read as one.
func singleCase(eventFile, modulemdFile string) (decision.EventCase, error) {
	ev, err := os.ReadFile(eventFile)
	if err != nil {
		return decision.EventCase{}, err
	}
	if bus, err := decision.ParseCase(ev); err == nil && bus.Topic != "" {
		if modulemdFile != "" {
			return decision.EventCase{}, fmt.Errorf("%s: a bus message takes no --modulemd", eventFile)
		}
		return bus, nil
	}
	ec := decision.EventCase{Event: ev, EventFile: eventFile, ModulemdFile: modulemdFile}
	if modulemdFile != "" {
		mmd, err := os.ReadFile(modulemdFile)
		if err != nil {
			return decision.EventCase{}, err
		}
		ec.Modulemd, ec.HasModulemd = string(mmd), true
	}
	return ec, nil
}

// openInput opens a file argument, "-" being stdin.
func openInput(c *cli.Context, name string) (io.Reader, func(), error) {
	if name == "-" {
		in := c.App.Reader
		if in == nil {
			in = os.Stdin
		}
		return in, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
