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
	"github.com/fedora-modularity/mts/bus/amqp10"
	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/report"
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
written to stdout as one line per event a person can read (build, state,
outcome, rule, destinations, or why it was skipped or failed); -o json
writes the announcements instead, as {"topic": ..., "body": ...} lines.
Logs go to stderr, as text on a terminal and JSON otherwise.

--check-config checks the configuration without connecting (every key,
the broker URIs, the files that must be readable, the koji profile, the
rules) and prints each problem with its key and line; --connect also tries
the broker, the Koji login and MBS once. Exit 0 when all is well, 1 when a
problem was found.`,
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
			&cli.BoolFlag{Name: "check-config", Usage: "check the configuration, its files, the koji profile and the rules without connecting, then exit"},
			&cli.BoolFlag{Name: "connect", Usage: "with --check-config: also try the broker, the Koji login and MBS once"},
			formatFlag("text", "json"),
		},
		Action: runServe,
	}
}

// loadServeConfig reads the settings; a file with problems still gives
// the settings it could read, with the problems as the error.
func loadServeConfig(c *cli.Context) (*config.Config, error) {
	cfg := config.Defaults()
	file := c.String("config")
	if file == "" {
		file = os.Getenv(config.EnvConfigFile)
	}
	var loadErr error
	if file != "" {
		loadErr = cfg.LoadFile(file)
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
		cfg.SetFrom("rules", "--rules")
	}
	if c.IsSet("rules-url") {
		cfg.RulesFileURL, cfg.Rules = c.String("rules-url"), nil
		cfg.SetFrom("rules_file_url", "--rules-url")
	}
	setString := func(flag, key string, dst *string) {
		if c.IsSet(flag) {
			*dst = c.String(flag)
			cfg.SetFrom(key, "--"+flag)
		}
	}
	setString("mbs-api-url", "mbs_api_url", &cfg.MBSAPIURL)
	setString("koji-profile", "koji_profile", &cfg.KojiProfile)
	setString("messaging-backend", "messaging_backend", &cfg.MessagingBackend)
	setString("listen", "listen_address", &cfg.ListenAddress)
	setString("log-level", "log_level", &cfg.LogLevel)
	setString("decision-log", "decision_log", &cfg.DecisionLog)
	if c.IsSet("workers") {
		cfg.Workers = c.Int("workers")
		cfg.SetFrom("workers", "--workers")
	}
	if cfg.Dev && !c.IsSet("workers") {
		// One worker keeps the output in the order of the input.
		cfg.Workers = 1
	}
	return cfg, loadErr
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
	log := newLogger(c.App.ErrWriter, logLevel(cfg.LogLevel))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx := c.Context

	rules, err := reload.New(reload.Options{
		Paths: cfg.Rules, URL: cfg.RulesFileURL, PollInterval: cfg.RulesPollInterval.D(),
		HTTPClient: &http.Client{Timeout: cfg.RequestsTimeout.D()},
		Load: ruleset.Options{DefaultState: cfg.BuildState, Limits: ruleset.Limits{
			MaxFileSize: cfg.MaxRulesFileSize, MaxRules: cfg.MaxRules, MaxPatternLength: cfg.MaxPatternLength}},
		Logger: log, Registerer: reg,
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
	// A person reads the quick start: one line per event on stdout
	// instead of the announcements, and a summary at the end.
	var lines *report.Lines
	if cfg.Dev && c.String("format") == report.Text {
		lines = report.NewLines(c.App.Writer)
		consumer = filterLines{Consumer: consumer, lines: lines, filter: cfg.BuildStateMsgFilter}
		src = documentLines{ModulemdSource: src, lines: lines}
		defer func() { _ = lines.Summary() }()
	}
	closers = append(closers, func() { consumer.Close() })
	if pub != nil {
		closers = append(closers, func() { pub.Close() })
	}

	var dlog io.Writer
	if lines != nil {
		dlog = lines
	}
	switch cfg.DecisionLog {
	case "":
	case "-":
		dlog = teeWriter(dlog, c.App.ErrWriter)
	default:
		f, err := os.OpenFile(cfg.DecisionLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return failErr(fmt.Errorf("decision_log: %w", err))
		}
		closers = append(closers, func() { f.Close() })
		dlog = teeWriter(dlog, f)
	}

	svcCfg := service.Config{
		Workers: cfg.Workers, StateFilter: cfg.BuildStateMsgFilter,
		DryRun: cfg.DryRun || cfg.Dev, CheckTagged: cfg.CheckTagged,
		RetryAttempts: cfg.RetryAttempts, RetryMin: cfg.RetryMinBackoff.D(), RetryMax: cfg.RetryMaxBackoff.D(),
		ShutdownTimeout: cfg.ShutdownTimeout.D(), ModulemdCacheSize: cfg.ModulemdCacheSize,
		MaxModulemdSize: cfg.MaxModulemdSize,
	}
	var tagger service.Tagger
	if kc != nil {
		tagger = kc
	}
	svc, err := service.New(svcCfg, consumer, pub, tagger, src, rules, service.Options{
		Logger: log, Registerer: reg, DecisionLog: dlog,
	})
	if err != nil {
		return failErr(err)
	}

	if cfg.ListenAddress != "" && !cfg.Dev || c.IsSet("listen") && cfg.ListenAddress != "" {
		var probe func(context.Context) error
		if kc != nil {
			probe = service.CachedProbe(service.KojiProbe(kc), 30*time.Second)
		}
		checks := service.ReadinessChecks(consumer, rules, probe)
		ln, err := net.Listen("tcp", cfg.ListenAddress)
		if err != nil {
			return failErr(fmt.Errorf("listen_address: %w", err))
		}
		srv := &http.Server{Handler: service.Handler(reg, checks), ReadHeaderTimeout: 10 * time.Second}
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

	log.Info("mts serve started", "version", c.App.Version, "backend", backendName(cfg), "workers", cfg.Workers,
		"dry_run", svcCfg.DryRun, "revision", rules.Current().Revision)
	err = svc.Run(ctx)
	log.Info("mts serve stopped")
	return err
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

// teeWriter writes to both writers, either of which may be nil.
func teeWriter(a, b io.Writer) io.Writer {
	if a == nil {
		return b
	}
	return io.MultiWriter(a, b)
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
		// A read from a terminal or a pipe does not end with the context:
		// stop reading on a signal so that the service can stop.
		in = &contextReader{ctx: c.Context, r: in}
		out := c.App.Writer
		if c.String("format") == report.Text {
			out = io.Discard
		}
		return service.NewLineConsumer(in, log), service.NewLinePublisher(out), nil
	}
	opts := []bus.Option{bus.WithLogger(log), bus.WithRegisterer(reg)}
	var (
		consumer bus.Consumer
		pub      bus.Publisher
		err      error
	)
	switch cfg.MessagingBackend {
	case config.BackendRhmsg:
		if cfg.RhmsgAMQP10() {
			return newAMQP10Bus(cfg, opts)
		}
		sc := stompConfig(cfg)
		if consumer, err = stomp.NewConsumer(sc, opts...); err != nil {
			return nil, nil, err
		}
		if !cfg.DryRun {
			if pub, err = stomp.NewPublisher(sc, opts...); err != nil {
				consumer.Close()
				return nil, nil, err
			}
		}
	case config.BackendFedoraMessaging:
		ac, err := fedoraMessagingConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		if consumer, err = amqp.NewConsumer(ac, opts...); err != nil {
			return nil, nil, err
		}
		if !cfg.DryRun {
			if pub, err = amqp.NewPublisher(ac, opts...); err != nil {
				consumer.Close()
				return nil, nil, err
			}
		}
	case config.BackendFedmsg:
		fc := fedmsg.Config{
			Endpoints: cfg.FedmsgEndpoints, Topics: cfg.FedmsgTopics,
			PublishEndpoint: cfg.FedmsgPublishEndpoint, TopicPrefix: cfg.FedmsgTopicPrefix,
		}
		if consumer, err = fedmsg.NewConsumer(fc, opts...); err != nil {
			return nil, nil, err
		}
		if !cfg.DryRun {
			if pub, err = fedmsg.NewPublisher(fc, opts...); err != nil {
				consumer.Close()
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("messaging_backend %s: not available in this build", cfg.MessagingBackend)
	}
	return consumer, pub, nil
}

// newAMQP10Bus is the rhmsg backend on AMQP 1.0 brokers (amqps://), as the
// newest reference's rhmsg speaks to UMB.
func amqp10Config(cfg *config.Config) amqp10.Config {
	return amqp10.Config{
		URIs: cfg.RhmsgBrokers, CertFile: cfg.RhmsgCertificate, KeyFile: cfg.RhmsgPrivateKey,
		CAFile: cfg.RhmsgCACert, Login: cfg.RhmsgLogin, Password: cfg.RhmsgPasscode,
		Broker: amqp10.Broker(cfg.RhmsgBrokerType), Queue: cfg.RhmsgQueue,
		QueueAddressPrefix: cfg.RhmsgQueueAddressPrefix, TopicAddressPrefix: cfg.RhmsgTopicAddressPrefix,
		SubscriptionName: cfg.RhmsgSubscriptionName, TopicPrefix: cfg.RhmsgTopicPrefix,
		Prefetch: min(cfg.Workers, amqp10.MaxPrefetch),
	}
}

func newAMQP10Bus(cfg *config.Config, opts []bus.Option) (bus.Consumer, bus.Publisher, error) {
	ac := amqp10Config(cfg)
	consumer, err := amqp10.NewConsumer(ac, opts...)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DryRun {
		return consumer, nil, nil
	}
	pub, err := amqp10.NewPublisher(ac, opts...)
	if err != nil {
		consumer.Close()
		return nil, nil, err
	}
	return consumer, pub, nil
}

// fedoraMessagingConfig is the AMQP 0-9-1 bus configuration: mts's amqp_*
// keys, then what fedora-messaging's config.toml gives for the keys left
// empty, then the bus's defaults.
func fedoraMessagingConfig(cfg *config.Config) (amqp.Config, error) {
	ac := amqpConfig(cfg)
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }
	file := amqp.FedoraMessagingFile(cfg.FedoraMessagingConfig, os.LookupEnv, exists)
	if file == "" {
		return ac, nil
	}
	fm, err := amqp.LoadFedoraMessaging(file)
	if err != nil {
		return ac, fmt.Errorf("fedora_messaging_config: %w", err)
	}
	ac, err = fm.Apply(ac, cfg.AllowTransientQueue)
	if err != nil {
		return ac, fmt.Errorf("fedora_messaging_config: %w", err)
	}
	return ac, nil
}
