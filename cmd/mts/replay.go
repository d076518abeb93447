package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/report"
)

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "decide recorded events again with the current rules; --apply tags what changed",
		Description: `Takes, for every build and state in the decision store, its newest recorded
decision (within --since, with --outcome and --rule when given), decides
its stored event and modulemd document again (an event of Koji's as kept,
with the build info it was decided on, a module build's modulemd in it)
with the rules of the configuration (or --rules) and prints the decisions that change, in the
shape of mts diff. Nothing is tagged or announced unless --apply is
given: then each changed build that the rules now tag (or untag) goes through the
service's pipeline (Koji and the bus of the configuration, the same checks
against a second tagBuild task) and its new decision is recorded, so a
second replay finds nothing to do. Builds that the rules no longer match
are listed but never untagged.
Exit 0; 1 when the rules are refused, the store cannot be read or an
applied event failed (run the replay again); 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", TakesFile: true, Usage: "YAML configuration `FILE` of mts serve (default $MTS_CONFIG_FILE)"},
			&cli.StringFlag{Name: "store", TakesFile: true, Usage: "decision store `FILE` (default: decision_store of the configuration)"},
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "decisions made within this `PERIOD` (7d, 36h) or since this RFC 3339 time"},
			&cli.StringFlag{Name: "outcome", Usage: "comma-separated `OUTCOMES` to replay (matched, unmatched, skipped, error)"},
			&cli.StringFlag{Name: "rule", Usage: "replay decisions made by rule `ID` only"},
			&cli.StringSliceFlag{Name: "rules", TakesFile: true, Usage: "decide with these rule `FILE`s or directories (repeatable) instead of the configuration's"},
			&cli.BoolFlag{Name: "apply", Usage: "tag and announce the changed builds that the rules now tag"},
			formatFlag(report.DiffFormats...),
		},
		Action: runReplay,
	}
}

func runReplay(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cfg, opts, err := replaySetup(c)
	if err != nil {
		return err
	}
	rp, err := app.NewReplay(c.Context, cfg, opts)
	if err != nil {
		return failErr(err)
	}
	defer rp.Close()
	for _, s := range rp.Skipped {
		fmt.Fprintf(c.App.ErrWriter, "mts: replay: not decided again: %s\n", s)
	}
	if err := report.Diff(c.App.Writer, c.String("format"), rp.Report); err != nil {
		return failErr(err)
	}
	if !opts.Apply || rp.ToApply() == 0 {
		return nil
	}
	applied, err := rp.Apply(c.Context)
	if err != nil {
		return failErr(err)
	}
	if failed := report.Applied(c.App.ErrWriter, applied); failed > 0 {
		return failErr(fmt.Errorf("replay: %d of %d builds not done; run the replay again", failed, len(applied)))
	}
	return nil
}

// replaySetup reads the flags, in the order their mistakes are told: the
// filter, the configuration with --store, then the rules.
func replaySetup(c *cli.Context) (*config.Config, app.ReplayOptions, error) {
	opts := app.ReplayOptions{
		Apply:  c.Bool("apply"),
		Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	since, err := history.ParseSince(c.String("since"), time.Now())
	if err != nil {
		return nil, opts, usageErr("--since: %v", err)
	}
	opts.Filter = history.Filter{Since: since, Rule: c.String("rule")}
	for _, o := range strings.Split(c.String("outcome"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			opts.Filter.Outcomes = append(opts.Filter.Outcomes, o)
		}
	}
	cfg, err := replayConfig(c, opts.Apply)
	if err == nil && c.IsSet("rules") {
		opts.Rules, err = loadRules(c, c.StringSlice("rules"))
	}
	return cfg, opts, err
}

// replayConfig is the service's configuration with --store.
func replayConfig(c *cli.Context, apply bool) (*config.Config, error) {
	cfg, err := serveFileConfig(c.String("config"))
	if err != nil {
		return nil, err
	}
	if c.IsSet("store") {
		cfg.DecisionStore = c.String("store")
	}
	switch {
	case cfg.DecisionStore == "":
		return nil, usageErr("replay: no decision store: give --store")
	case apply && cfg.DryRun:
		return nil, usageErr("replay: --apply with dry_run set would tag nothing")
	case !c.IsSet("rules") && len(cfg.Rules) == 0 && cfg.RulesFileURL == "":
		return nil, usageErr("replay: no rules in the configuration: give --rules")
	}
	return cfg, nil
}
