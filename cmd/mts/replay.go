package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
)

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "decide recorded events again with the current rules; --apply tags what changed",
		Description: `Takes, for every build and state in the decision store, its newest recorded
decision (within --since, with --outcome and --rule when given), decides
its stored event and modulemd document again with the rules of the
configuration (or --rules) and prints the decisions that change, in the
shape of mts diff. Nothing is tagged or announced unless --apply is
given: then each changed build that the rules now tag goes through the
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
	since, err := history.ParseSince(c.String("since"), time.Now())
	if err != nil {
		return usageErr("--since: %v", err)
	}
	f := history.Filter{Since: since, Rule: c.String("rule")}
	for _, o := range strings.Split(c.String("outcome"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			f.Outcomes = append(f.Outcomes, o)
		}
	}
	cfg, err := serveFileConfig(c.String("config"))
	if err != nil {
		return err
	}
	if c.IsSet("store") {
		cfg.DecisionStore = c.String("store")
	}
	if cfg.DecisionStore == "" {
		return usageErr("replay: no decision store: give --store")
	}
	apply := c.Bool("apply")
	if apply && cfg.DryRun {
		return usageErr("replay: --apply with dry_run set would tag nothing")
	}
	ctx := c.Context
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()

	var rs *ruleset.Ruleset
	if c.IsSet("rules") {
		if rs, err = loadRules(c, c.StringSlice("rules")); err != nil {
			return err
		}
	} else {
		if len(cfg.Rules) == 0 && cfg.RulesFileURL == "" {
			return usageErr("replay: no rules in the configuration: give --rules")
		}
		co, err := reload.New(reload.Options{
			Paths: cfg.Rules, URL: cfg.RulesFileURL, HTTPClient: &http.Client{Timeout: cfg.RequestsTimeout.D()},
			Load: app.RuleLoadOptions(cfg), Logger: log, Registerer: reg,
		})
		if err != nil {
			return failErr(err)
		}
		if err := co.Load(ctx); err != nil {
			return failErr(fmt.Errorf("loading rules: %w", err))
		}
		rs = co.Current()
	}

	var store *history.Store
	if apply {
		store, err = history.Open(ctx, cfg.DecisionStore, history.Options{
			Rules: staticRules{rs}, DefaultState: cfg.BuildState, Logger: log,
		})
	} else {
		store, err = history.OpenReadOnly(ctx, cfg.DecisionStore)
	}
	if err != nil {
		return failErr(err)
	}
	defer store.Close()

	rp, err := store.NewReplay(ctx, rs, f)
	if err != nil {
		return failErr(err)
	}
	for _, s := range rp.Skipped {
		fmt.Fprintf(c.App.ErrWriter, "mts: replay: not decided again: %s\n", s)
	}
	if err := report.Diff(c.App.Writer, c.String("format"), rp.Report); err != nil {
		return failErr(err)
	}
	if !apply || rp.ToApply() == 0 {
		return nil
	}
	if err := store.KeepRules(ctx, rs); err != nil {
		return failErr(err)
	}
	applied, err := applyReplay(ctx, cfg, rs, store, rp, log, reg)
	if err != nil {
		return failErr(err)
	}
	failed := 0
	for _, a := range applied {
		d := a.Decision
		fmt.Fprintf(c.App.ErrWriter, "mts: replay: %s %s (decision %d): %s\n", d.Build, d.State, d.ID, a.Outcome)
		if a.Settled != "ack" {
			failed++
		}
	}
	if failed > 0 {
		return failErr(fmt.Errorf("replay: %d of %d builds not done; run the replay again", failed, len(applied)))
	}
	return nil
}

// applyReplay runs the changed builds through the pipeline with the Koji
// client and the publisher of the configuration.
func applyReplay(ctx context.Context, cfg *config.Config, rs *ruleset.Ruleset, store *history.Store, rp *history.Replay, log *slog.Logger, reg *prometheus.Registry) ([]history.Applied, error) {
	kc, err := app.NewKoji(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	pub, err := app.NewPublisher(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	svc, err := service.New(service.Config{
		Workers: 1, StateFilter: cfg.BuildStateMsgFilter,
		RetryMin: cfg.RetryMinBackoff.D(), RetryMax: cfg.RetryMaxBackoff.D(), TaskPoll: cfg.TaskPollInterval.D(),
		MaxModulemdSize: cfg.MaxModulemdSize,
	}, noConsumer{}, pub, kc, rp, staticRules{rs}, service.Options{Logger: log, Registerer: reg,
		Recorders: []service.Recorder{store}})
	if err != nil {
		return nil, err
	}
	return rp.Apply(ctx, svc), nil
}

// staticRules is one rule set that does not change.
type staticRules struct{ rs *ruleset.Ruleset }

func (s staticRules) Current() *ruleset.Ruleset { return s.rs }

// noConsumer stands for the bus end a replay does not read: its events
// come from the store.
type noConsumer struct{}

func (noConsumer) Receive(context.Context) (bus.Delivery, error) { return nil, bus.ErrClosed }
func (noConsumer) Connected() bool                               { return true }
func (noConsumer) Close() error                                  { return nil }
