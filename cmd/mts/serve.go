package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/report"
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
written to stdout as one line per event a person can read (build, state,
outcome, rule, destinations, or why it was skipped or failed); -o json
writes the announcements instead, as {"topic": ..., "body": ...} lines.
Logs go to stderr, as text on a terminal and JSON otherwise.

--check-config checks the configuration without connecting (every key,
the broker URIs, the files that must be readable, the koji profile, the
rules) and prints each problem with its key and line; --connect also tries
the broker, the Koji login and MBS once. Exit 0 when all is well, 1 when a
problem was found.`,
		Flags:  serveCLIFlags(),
		Action: runServe,
	}
}

// serveCLIFlags are serve's flags.
func serveCLIFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", TakesFile: true, Usage: "YAML configuration `FILE` (default $MTS_CONFIG_FILE)"},
		&cli.BoolFlag{Name: "dev", Usage: "development mode: events from --events, no broker, no Koji"},
		&cli.BoolFlag{Name: "dry-run", Usage: "decide and log only: tag nothing, publish nothing"},
		&cli.StringSliceFlag{Name: "rules", TakesFile: true, Usage: "rule `PATH` (file or directory; repeatable)"},
		&cli.StringFlag{Name: "rules-url", Usage: "HTTP `URL` of the rule file (rules_file_url)"},
		&cli.StringFlag{Name: "events", TakesFile: true, Usage: "with --dev: JSON-lines `FILE` of MBS events, - for stdin", Value: "-"},
		&cli.StringFlag{Name: "modulemd-dir", TakesFile: true, Usage: "read modulemd documents from `DIR` instead of MBS (<id>.yaml, or matched on name, stream, version and context; modulemd_dir)"},
		&cli.StringFlag{Name: "mbs-api-url", Usage: "MBS API `URL` (mbs_api_url)"},
		&cli.StringFlag{Name: "koji-profile", Usage: "koji client `PROFILE` (koji_profile)"},
		&cli.StringFlag{Name: "messaging-backend", Usage: "fedora-messaging, rhmsg or fedmsg (messaging_backend)"},
		&cli.IntFlag{Name: "workers", Usage: "events handled at once (workers)"},
		&cli.StringFlag{Name: "listen", Usage: "`ADDRESS` of the metrics and health endpoints (listen_address); empty disables"},
		&cli.StringFlag{Name: "log-level", Usage: "DEBUG, INFO, WARNING or ERROR (log_level)"},
		&cli.StringFlag{Name: "decision-store", TakesFile: true, Usage: "keep the decision history in the SQLite `FILE` (decision_store); empty keeps none"},
		&cli.StringFlag{Name: "decision-log", TakesFile: true, Usage: "append one JSON line per decision to `FILE`, - for stderr (decision_log)"},
		&cli.BoolFlag{Name: "check-config", Usage: "check the configuration, its files, the koji profile and the rules without connecting, then exit"},
		&cli.BoolFlag{Name: "connect", Usage: "with --check-config: also try the broker, the Koji login and MBS once"},
		formatFlag("text", "json"),
	}
}

// serveFlags are the text flags that set a key of the configuration
// file.
var serveFlags = []struct {
	flag, key string
	field     func(*config.Config) *string
}{
	{"mbs-api-url", "mbs_api_url", func(c *config.Config) *string { return &c.MBSAPIURL }},
	{"koji-profile", "koji_profile", func(c *config.Config) *string { return &c.KojiProfile }},
	{"messaging-backend", "messaging_backend", func(c *config.Config) *string { return &c.MessagingBackend }},
	{"listen", "listen_address", func(c *config.Config) *string { return &c.ListenAddress }},
	{"log-level", "log_level", func(c *config.Config) *string { return &c.LogLevel }},
	{"decision-log", "decision_log", func(c *config.Config) *string { return &c.DecisionLog }},
	{"modulemd-dir", "modulemd_dir", func(c *config.Config) *string { return &c.ModulemdDir }},
	{"decision-store", "decision_store", func(c *config.Config) *string { return &c.DecisionStore }},
}

// loadServeConfig reads the settings, the flags over the file and the
// environment; a file with problems still gives the settings it could
// read, with the problems as the error.
func loadServeConfig(c *cli.Context) (*config.Config, error) {
	cfg, loadErr := config.Load(c.String("config"), os.LookupEnv)
	if c.IsSet("dev") {
		cfg.Dev = c.Bool("dev")
	}
	if c.IsSet("dry-run") {
		cfg.DryRun = c.Bool("dry-run")
	}
	if c.IsSet("rules") {
		cfg.Rules, cfg.RulesFileURL = c.StringSlice("rules"), ""
		cfg.SetFrom("rules", "--rules")
	}
	if c.IsSet("rules-url") {
		cfg.RulesFileURL, cfg.Rules = c.String("rules-url"), nil
		cfg.SetFrom("rules_file_url", "--rules-url")
	}
	for _, f := range serveFlags {
		if c.IsSet(f.flag) {
			*f.field(cfg) = c.String(f.flag)
			cfg.SetFrom(f.key, "--"+f.flag)
		}
	}
	if c.IsSet("workers") {
		cfg.Workers = c.Int("workers")
		cfg.SetFrom("workers", "--workers")
	}
	cfg.ApplyDev()
	return cfg, loadErr
}

func runServe(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := conflicts(c, [2]string{"rules", "rules-url"}); err != nil {
		return err
	}
	if c.IsSet("connect") && !c.Bool("check-config") {
		return usageErr("--connect needs --check-config")
	}
	cfg, err := loadServeConfig(c)
	if c.Bool("check-config") {
		return checkConfig(c, cfg, err)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return failErr(err)
	}
	if c.IsSet("events") && !cfg.Dev {
		return usageErr("--events needs --dev")
	}
	opts, closeEvents, err := serveOptions(c, cfg)
	if err != nil {
		return err
	}
	defer closeEvents()
	a, err := app.New(c.Context, cfg, opts)
	if err != nil {
		return failErr(fmt.Errorf("serve: %w", err))
	}
	return runWithReload(c.Context, a)
}

// serveOptions are the streams of serve: logs and --dev's output and
// input.
func serveOptions(c *cli.Context, cfg *config.Config) (app.Options, func(), error) {
	opts := app.Options{
		Logger: newLogger(c.App.ErrWriter, app.LogLevel(cfg.LogLevel)),
		Stdout: c.App.Writer, Stderr: c.App.ErrWriter, Events: c.App.Reader, Version: c.App.Version,
	}
	if cfg.Dev && c.String("format") == report.Text {
		// A person reads the quick start: a line per event and a summary.
		opts.DevLines = c.App.Writer
	}
	closeEvents := func() {}
	if name := c.String("events"); cfg.Dev && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return opts, nil, failErr(fmt.Errorf("--events: %w", err))
		}
		closeEvents = func() { f.Close() }
		opts.Events = f
	}
	if opts.Events == nil {
		opts.Events = os.Stdin
	}
	// A read from a terminal or a pipe does not end with the context: stop
	// reading on a signal so that the service can stop.
	opts.Events = &contextReader{ctx: c.Context, r: opts.Events}
	return opts, closeEvents, nil
}

// runWithReload runs a until ctx ends, reloading its rules on SIGHUP.
func runWithReload(ctx context.Context, a *app.App) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := context.WithCancel(ctx)
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

// contextReader is r, ending with io.EOF once ctx is done even while a
// read is blocked; the blocked read is left behind.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

type readResult struct {
	n   int
	err error
}

func (cr *contextReader) Read(p []byte) (int, error) {
	if cr.ctx.Err() != nil {
		return 0, io.EOF
	}
	buf := make([]byte, len(p))
	done := make(chan readResult, 1)
	go func() {
		n, err := cr.r.Read(buf)
		done <- readResult{n, err}
	}()
	select {
	case res := <-done:
		copy(p, buf[:res.n])
		return res.n, res.err
	case <-cr.ctx.Done():
		return 0, io.EOF
	}
}
