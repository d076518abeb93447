package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "consume module build events, tag builds in Koji by the rules, announce the results",
		Description: `Settings come from, in increasing precedence: defaults, the YAML file
(--config or MTS_CONFIG_FILE), the environment (MTS_DRY_RUN, MTS_DEV,
MTS_USE_STOMP, MTS_STOMP_URI, MTS_STOMP_CRT, MTS_STOMP_KEY), then flags.

With --dev no broker and no Koji are used: events are read from --events
(JSON lines, "-" for stdin), modulemd documents from --modulemd-dir (or
MBS), nothing is tagged, and the messages that would be published are
written to stdout as {"topic": ..., "body": ...} lines.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "YAML configuration `FILE` (default $MTS_CONFIG_FILE)"},
			&cli.BoolFlag{Name: "dev", Usage: "development mode: events from --events, no broker, no Koji"},
			&cli.BoolFlag{Name: "dry-run", Usage: "decide and log only: tag nothing, publish nothing"},
			&cli.StringSliceFlag{Name: "rules", Usage: "rule `PATH` (file or directory; repeatable)"},
			&cli.StringFlag{Name: "rules-url", Usage: "HTTP `URL` of the rule file (rules_file_url)"},
			&cli.StringFlag{Name: "events", Usage: "with --dev: JSON-lines `FILE` of MBS events, - for stdin", Value: "-"},
			&cli.StringFlag{Name: "modulemd-dir", Usage: "read modulemd documents from `DIR` instead of MBS (<id>.yaml, or matched on name, stream, version and context; modulemd_dir)"},
			&cli.StringFlag{Name: "mbs-api-url", Usage: "MBS API `URL` (mbs_api_url)"},
			&cli.StringFlag{Name: "koji-profile", Usage: "koji client `PROFILE` (koji_profile)"},
			&cli.StringFlag{Name: "messaging-backend", Usage: "fedora-messaging, rhmsg or fedmsg (messaging_backend)"},
			&cli.IntFlag{Name: "workers", Usage: "events handled at once (workers)"},
			&cli.StringFlag{Name: "listen", Usage: "`ADDRESS` of the metrics and health endpoints (listen_address); empty disables"},
			&cli.StringFlag{Name: "log-level", Usage: "DEBUG, INFO, WARNING or ERROR (log_level)"},
			&cli.StringFlag{Name: "decision-log", Usage: "append one JSON line per decision to `FILE`, - for stderr (decision_log)"},
		},
		Action: runServe,
	}
}

func loadServeConfig(c *cli.Context) (*config.Config, error) {
	cfg := config.Defaults()
	file := c.String("config")
	if file == "" {
		file = os.Getenv(config.EnvConfigFile)
	}
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			return nil, err
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if c.IsSet("dev") {
		cfg.Dev = c.Bool("dev")
	}
	if c.IsSet("dry-run") {
		cfg.DryRun = c.Bool("dry-run")
	}
	if c.IsSet("rules") {
		cfg.Rules, cfg.RulesFileURL = c.StringSlice("rules"), ""
	}
	if c.IsSet("rules-url") {
		cfg.RulesFileURL, cfg.Rules = c.String("rules-url"), nil
	}
	setString := func(flag string, dst *string) {
		if c.IsSet(flag) {
			*dst = c.String(flag)
		}
	}
	setString("mbs-api-url", &cfg.MBSAPIURL)
	setString("koji-profile", &cfg.KojiProfile)
	setString("messaging-backend", &cfg.MessagingBackend)
	setString("listen", &cfg.ListenAddress)
	setString("log-level", &cfg.LogLevel)
	setString("decision-log", &cfg.DecisionLog)
	setString("modulemd-dir", &cfg.ModulemdDir)
	if c.IsSet("workers") {
		cfg.Workers = c.Int("workers")
	}
	if cfg.Dev && !c.IsSet("workers") {
		// One worker keeps the output in the order of the input.
		cfg.Workers = 1
	}
	if cfg.Dev && !c.IsSet("listen") {
		// --dev serves no endpoints unless asked to.
		cfg.ListenAddress = ""
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func runServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("serve: unexpected argument %q", c.Args().First())
	}
	cfg, err := loadServeConfig(c)
	if err != nil {
		return usageErr("serve: %v", err)
	}
	if c.IsSet("events") && !cfg.Dev {
		return usageErr("serve: --events needs --dev")
	}
	opts := app.Options{Stdout: c.App.Writer, Stderr: c.App.ErrWriter, Events: c.App.Reader, Version: version}
	if name := c.String("events"); cfg.Dev && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return failErr(fmt.Errorf("--events: %w", err))
		}
		defer f.Close()
		opts.Events = f
	}
	if opts.Events == nil {
		opts.Events = os.Stdin
	}
	a, err := app.New(c.Context, cfg, opts)
	if err != nil {
		return failErr(fmt.Errorf("serve: %w", err))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := context.WithCancel(c.Context)
	defer stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.Reload()
			}
		}
	}()
	return a.Run(ctx)
}
