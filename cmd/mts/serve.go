package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji"
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
			&cli.StringFlag{Name: "modulemd-dir", Usage: "read modulemd documents from `DIR` instead of MBS (<id>.yaml, or matched on name, stream, version and context)"},
			&cli.StringFlag{Name: "mbs-api-url", Usage: "MBS API `URL` (mbs_api_url)"},
			&cli.StringFlag{Name: "koji-profile", Usage: "koji client `PROFILE` (koji_profile)"},
			&cli.StringFlag{Name: "messaging-backend", Usage: "fedora-messaging, rhmsg or fedmsg (messaging_backend)"},
			&cli.IntFlag{Name: "workers", Usage: "events handled at once (workers)"},
			&cli.StringFlag{Name: "listen", Usage: "`ADDRESS` of the metrics and health endpoints (listen_address); empty disables"},
			&cli.StringFlag{Name: "log-level", Usage: "DEBUG, INFO, WARNING or ERROR (log_level)"},
			&cli.StringFlag{Name: "decision-log", Usage: "append one JSON line per decision to `FILE`, - for stderr (decision_log)"},
			&cli.StringFlag{Name: "decision-store", Usage: "keep the decision history in the SQLite `FILE` (decision_store); empty keeps none"},
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
	setString("decision-store", &cfg.DecisionStore)
	if cfg.Dev && !c.IsSet("decision-store") && cfg.DecisionStore == config.DefaultDecisionStore {
		// A developer's run keeps no history unless asked to.
		cfg.DecisionStore = ""
	}
	if c.IsSet("workers") {
		cfg.Workers = c.Int("workers")
	}
	if cfg.Dev && !c.IsSet("workers") {
		// One worker keeps the output in the order of the input.
		cfg.Workers = 1
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func logLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	}
	return slog.LevelInfo
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
	log := slog.New(slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx := c.Context

	rules, err := reload.New(reload.Options{
		Paths: cfg.Rules, URL: cfg.RulesFileURL, PollInterval: cfg.RulesPollInterval.D(),
		HTTPClient: &http.Client{Timeout: cfg.RequestsTimeout.D()},
		Load:       ruleset.Options{DefaultState: cfg.BuildState},
		Logger:     log, Registerer: reg,
	})
	if err != nil {
		return failErr(err)
	}
	if err := rules.Load(ctx); err != nil {
		return failErr(fmt.Errorf("serve: loading rules: %w", err))
	}

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	// Koji: needed to tag, and as a modulemd source; not in dev or dry run.
	var kc *koji.Client
	if !cfg.Dev && (!cfg.DryRun || cfg.ModulemdSource == config.SourceKoji) {
		kc, err = newKoji(cfg, log, reg)
		if err != nil {
			return failErr(err)
		}
		closers = append(closers, kc.Close)
	}

	var src service.ModulemdSource
	switch {
	case c.IsSet("modulemd-dir"):
		dir, err := mbs.NewDir(c.String("modulemd-dir"))
		if err != nil {
			return failErr(err)
		}
		src = dir
	case cfg.ModulemdSource == config.SourceKoji:
		src = service.KojiModulemd{Koji: kc}
	default:
		client, err := mbs.New(cfg.MBSAPIURL, mbs.Options{Timeout: cfg.RequestsTimeout.D(), Logger: log})
		if err != nil {
			return failErr(err)
		}
		src = client
	}

	consumer, pub, err := newBus(c, cfg, log, reg)
	if err != nil {
		return failErr(err)
	}
	closers = append(closers, func() { consumer.Close() })
	if pub != nil {
		closers = append(closers, func() { pub.Close() })
	}

	var dlog io.Writer
	switch cfg.DecisionLog {
	case "":
	case "-":
		dlog = c.App.ErrWriter
	default:
		f, err := os.OpenFile(cfg.DecisionLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return failErr(fmt.Errorf("decision_log: %w", err))
		}
		closers = append(closers, func() { f.Close() })
		dlog = f
	}

	var store *history.Store
	if cfg.DecisionStore != "" {
		opts := history.Options{
			Rules: rules, DefaultState: cfg.BuildState, Retention: cfg.DecisionRetention.D(),
			MaxBytes: int64(cfg.DecisionStoreMaxSizeMB) << 20, Logger: log,
		}
		if kc != nil && !cfg.DryRun {
			opts.Tasks = kc
		}
		if store, err = history.Open(ctx, cfg.DecisionStore, opts); err != nil {
			return failErr(fmt.Errorf("%w (set decision_store to a file the service can write, or to \"\" to keep no history)", err))
		}
		closers = append(closers, func() { store.Close() })
		if err := store.KeepRules(ctx, rules.Current()); err != nil {
			return failErr(err)
		}
	}
	var apiToken string
	if cfg.APITokenFile != "" {
		b, err := os.ReadFile(cfg.APITokenFile)
		if err != nil {
			return failErr(fmt.Errorf("api_token_file: %w", err))
		}
		if apiToken = strings.TrimSpace(string(b)); apiToken == "" {
			return failErr(fmt.Errorf("api_token_file %s: empty", cfg.APITokenFile))
		}
	}

	svcCfg := service.Config{
		Workers: cfg.Workers, StateFilter: cfg.BuildStateMsgFilter,
		DryRun: cfg.DryRun || cfg.Dev, CheckTagged: cfg.CheckTagged,
		RetryAttempts: cfg.RetryAttempts, RetryMin: cfg.RetryMinBackoff.D(), RetryMax: cfg.RetryMaxBackoff.D(),
		ShutdownTimeout: cfg.ShutdownTimeout.D(), ModulemdCacheSize: cfg.ModulemdCacheSize,
	}
	var tagger service.Tagger
	if kc != nil {
		tagger = kc
	}
	svcOpts := service.Options{Logger: log, Registerer: reg, DecisionLog: dlog}
	if store != nil {
		svcOpts.Recorder = store
	}
	svc, err := service.New(svcCfg, consumer, pub, tagger, src, rules, svcOpts)
	if err != nil {
		return failErr(err)
	}

	if cfg.ListenAddress != "" && !cfg.Dev || c.IsSet("listen") && cfg.ListenAddress != "" {
		var probe func(context.Context) error
		if kc != nil {
			probe = service.CachedProbe(service.KojiProbe(kc), 30*time.Second)
		}
		checks := service.ReadinessChecks(consumer, rules, probe)
		mux := http.NewServeMux()
		if store != nil {
			checks = append(checks, service.Check{Name: "decision_store", Fn: service.CachedProbe(store.Check, 5*time.Second)})
			(&history.Server{Store: store, Rules: rules, Reload: history.ReloadFromMetrics(reg), Token: apiToken, Logger: log}).Register(mux)
		}
		mux.Handle("/", service.Handler(reg, checks))
		ln, err := net.Listen("tcp", cfg.ListenAddress)
		if err != nil {
			return failErr(fmt.Errorf("listen_address: %w", err))
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics endpoint", "error", err)
			}
		}()
		closers = append(closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
		log.Info("serving metrics and health", "address", ln.Addr().String())
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading rules")
				rules.Trigger()
			}
		}
	}()
	if !cfg.Dev {
		go func() { _ = rules.Run(watchCtx) }()
	}
	if store != nil {
		go store.Run(watchCtx)
	}

	log.Info("mts serve started", "version", version, "backend", backendName(cfg), "workers", cfg.Workers,
		"dry_run", svcCfg.DryRun, "revision", rules.Current().Revision)
	err = svc.Run(ctx)
	log.Info("mts serve stopped")
	return err
}

func backendName(cfg *config.Config) string {
	if cfg.Dev {
		return "dev"
	}
	return cfg.MessagingBackend
}

// kojiSessions is how many hub sessions the service holds.
const kojiSessions = 4

func newKoji(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*koji.Client, error) {
	kcfg, err := koji.LoadConfig(cfg.KojiProfileName(), koji.LoadOptions{File: cfg.KojiConfig})
	if err != nil {
		return nil, fmt.Errorf("koji_profile %s: %w", cfg.KojiProfileName(), err)
	}
	opts := []koji.Option{
		koji.WithLogger(log),
		koji.WithObserver(service.NewKojiMetrics(reg).Observe),
		// Calls on one session go one at a time to keep call numbers in
		// order; a few sessions let workers tag in parallel.
		koji.WithSessions(kojiSessions),
	}
	if cfg.KojiCert != "" {
		opts = append(opts, koji.WithCert(cfg.KojiCert))
	}
	if cfg.Keytab != "" {
		opts = append(opts, koji.WithKeytab(cfg.Principal, cfg.Keytab))
	}
	return koji.New(kcfg, opts...)
}

func newBus(c *cli.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (bus.Consumer, bus.Publisher, error) {
	if cfg.Dev {
		in := c.App.Reader
		if name := c.String("events"); name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return nil, nil, fmt.Errorf("--events: %w", err)
			}
			// The file stays open for the life of the process.
			in = f
		}
		if in == nil {
			in = os.Stdin
		}
		return service.NewLineConsumer(in, log), service.NewLinePublisher(c.App.Writer), nil
	}
	opts := []bus.Option{bus.WithLogger(log), bus.WithRegisterer(reg)}
	var (
		consumer bus.Consumer
		err      error
	)
	switch cfg.MessagingBackend {
	case config.BackendRhmsg:
		consumer, err = stomp.NewConsumer(stompConfig(cfg), opts...)
	case config.BackendFedoraMessaging:
		consumer, err = amqp.NewConsumer(amqpConfig(cfg), opts...)
	case config.BackendFedmsg:
		consumer, err = fedmsg.NewConsumer(fedmsgConfig(cfg), opts...)
	default:
		return nil, nil, fmt.Errorf("messaging_backend %s: not available in this build", cfg.MessagingBackend)
	}
	if err != nil {
		return nil, nil, err
	}
	if cfg.DryRun {
		return consumer, nil, nil
	}
	pub, err := newPublisher(cfg, log, reg)
	if err != nil {
		consumer.Close()
		return nil, nil, err
	}
	return consumer, pub, nil
}

// newPublisher connects the announcing end of the configured bus.
func newPublisher(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (bus.Publisher, error) {
	opts := []bus.Option{bus.WithLogger(log), bus.WithRegisterer(reg)}
	switch cfg.MessagingBackend {
	case config.BackendRhmsg:
		return stomp.NewPublisher(stompConfig(cfg), opts...)
	case config.BackendFedoraMessaging:
		return amqp.NewPublisher(amqpConfig(cfg), opts...)
	case config.BackendFedmsg:
		return fedmsg.NewPublisher(fedmsgConfig(cfg), opts...)
	}
	return nil, fmt.Errorf("messaging_backend %s: not available in this build", cfg.MessagingBackend)
}

func stompConfig(cfg *config.Config) stomp.Config {
	return stomp.Config{
		URIs: cfg.RhmsgBrokers, CertFile: cfg.RhmsgCertificate, KeyFile: cfg.RhmsgPrivateKey,
		CAFile: cfg.RhmsgCACert, Login: cfg.RhmsgLogin, Passcode: cfg.RhmsgPasscode,
		Broker: stomp.Broker(cfg.RhmsgBrokerType), Queue: cfg.RhmsgQueue, Topic: cfg.RhmsgTopic,
		TopicPrefix: cfg.RhmsgTopicPrefix, Prefetch: min(cfg.Workers, stomp.MaxPrefetch),
	}
}

func amqpConfig(cfg *config.Config) amqp.Config {
	return amqp.Config{
		URL: cfg.AMQPURL, CertFile: cfg.AMQPCertificate, KeyFile: cfg.AMQPPrivateKey, CAFile: cfg.AMQPCACert,
		Queue: cfg.AMQPQueue, Bindings: cfg.AMQPRoutingKeys, Prefetch: cfg.Workers,
		TopicPrefix: cfg.AMQPTopicPrefix,
	}
}

func fedmsgConfig(cfg *config.Config) fedmsg.Config {
	return fedmsg.Config{
		Endpoints: cfg.FedmsgEndpoints, Topics: cfg.FedmsgTopics,
		PublishEndpoint: cfg.FedmsgPublishEndpoint, TopicPrefix: cfg.FedmsgTopicPrefix,
	}
}
