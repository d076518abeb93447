// Package app is the composition root of everything that runs the
// pipeline or touches the outside, from the one configuration the service
// runs with: `mts serve` (New, Run), `serve --check-config [--connect]`
// (CheckDeployment, which checks the settings as New would merge them),
// `mts replay --apply` (NewReplay), the koji commands (NewKojiLogin,
// CheckTags) and lint's Koji tag checker. Each messaging backend is one
// row of the table in buses.go: its consumer, publisher, parking setting,
// check and probes. It builds the rule coordinator, the Koji client, the
// modulemd source, the bus ends, the decision log and the pipeline, and
// mounts internal/web's endpoints. It must not parse flags (cmd/mts does)
// or write a command's output (internal/report does); tests start the
// service through New and Run as cmd/mts does.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/lines"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/internal/web"
	"github.com/fedora-modularity/mts/koji"
)

// KojiSessions is how many hub sessions the service holds: calls on one
// session go one at a time to keep call numbers in order, and a few let
// workers tag in parallel.
const KojiSessions = 4

// Options are what the configuration does not say.
type Options struct {
	// Logger defaults to JSON lines on Stderr at the configured level.
	Logger *slog.Logger
	// Registry gets every metric; a new one (with the Go and process
	// collectors) by default.
	Registry *prometheus.Registry
	// Events is the input of --dev (JSON lines); Stdout gets what --dev
	// would publish; Stderr is decision_log "-". They default to the
	// process's.
	Events io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Recorders keep decisions besides the decision log, before each
	// event is acknowledged.
	Recorders []service.Recorder
	// DevLines, with --dev, gets one line a person can read per event and a
	// summary at the end, instead of the announcements on Stdout.
	DevLines io.Writer
	// Version is logged at start.
	Version string
}

// App is one assembled service.
type App struct {
	cfg      *config.Config
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	rules    *reload.Coordinator
	svc      *service.Service
	consumer bus.Consumer
	store    *history.Store
	lines    *report.Lines
	mux      *http.ServeMux
	ln       net.Listener
	closers  []func()
}

// New assembles the service: it loads the rules (an error if they do not
// load), builds the clients and opens the HTTP listener, without taking
// any event yet.
func New(ctx context.Context, cfg *config.Config, opts Options) (a *App, err error) {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Events == nil {
		opts.Events = os.Stdin
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(opts.Stderr, &slog.HandlerOptions{Level: LogLevel(cfg.LogLevel)}))
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	a = &App{cfg: cfg, opts: opts, log: log, reg: reg}
	built := a
	defer func() {
		// The returns of a failure leave a nil: close what was opened.
		if err != nil {
			built.close()
		}
	}()
	if cfg.RetryAttempts > 0 {
		log.Warn("retry_attempts no longer limits anything: events are held until their dependency answers (see retry_give_up_after)")
	}
	if !cfg.CheckTagged {
		log.Warn("check_tagged: false is ignored: the tag listing and pending tasks are always checked before tagBuild")
	}

	if a.rules, err = newRules(cfg, log, reg); err != nil {
		return nil, err
	}
	if err := a.rules.Load(ctx); err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}

	// Koji: needed to tag, and as a modulemd source; not in dev or dry run.
	var kc *koji.Client
	if !cfg.Dev && (!cfg.DryRun || cfg.ModulemdSource == config.SourceKoji && cfg.ModulemdDir == "") {
		if kc, err = NewKoji(cfg, log, reg); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, kc.Close)
	}
	src, err := newSource(cfg, kc)
	if err != nil {
		return nil, err
	}

	var pub bus.Publisher
	a.consumer, pub, err = a.newBus()
	if err != nil {
		return nil, err
	}
	// Not a.consumer: a failure's return sets a, the result, to nil.
	consumer := a.consumer
	a.closers = append(a.closers, func() { consumer.Close() })
	if pub != nil {
		a.closers = append(a.closers, func() { pub.Close() })
	}

	recorders := opts.Recorders
	if a.lines != nil {
		recorders = append(recorders, linesRecorder{a.lines})
	}
	if dl, err := a.decisionLog(); err != nil {
		return nil, err
	} else if dl != nil {
		recorders = append([]service.Recorder{dl}, recorders...)
	}
	if a.store, err = a.openStore(ctx, kc); err != nil {
		return nil, err
	}
	if a.store != nil {
		recorders = append(recorders, a.store)
	}
	svcCfg := service.Config{
		Workers: cfg.Workers, StateFilter: cfg.BuildStateMsgFilter, DryRun: cfg.DryRun || cfg.Dev,
		RetryMin: cfg.RetryMinBackoff.D(), RetryMax: cfg.RetryMaxBackoff.D(),
		GiveUpAfter: cfg.RetryGiveUpAfter.D(), TaskPoll: cfg.TaskPollInterval.D(),
		ShutdownTimeout: cfg.ShutdownTimeout.D(), ModulemdCacheSize: cfg.ModulemdCacheSize,
		MaxModulemdSize: cfg.MaxModulemdSize,
		KojiUser:        cfg.KojiUser, MaxReactionHops: cfg.MaxReactionHops,
		AnnounceUnmatchedKoji: cfg.AnnounceUnmatchedKoji,
	}
	svcOpts := service.Options{Logger: log, Registerer: reg, Recorders: recorders}
	if cfg.KojiUser == "" && kc == nil && slices.ContainsFunc(a.rules.Current().Kinds(), build.Kind.Koji) {
		log.Warn("koji_user is not set and no hub is asked: Koji events made by the service's own user are not told apart, and max_reaction_hops stops no loop")
	}
	if cfg.KojiUser == "" && kc != nil {
		// Asked once, when the first Koji event is to be acted on: a hub
		// down at start then holds that event, not the start.
		svcOpts.WhoAmI = func(ctx context.Context) (string, error) {
			u, err := kc.GetLoggedInUser(ctx)
			if err != nil {
				return "", err
			}
			return u.Name, nil
		}
	}
	if a.lines != nil {
		svcOpts.Dropped = droppedLine(a.lines)
	}
	if svcCfg.GiveUpAfter > 0 && pub != nil {
		parker, ok := pub.(bus.Parker)
		if !ok {
			return nil, fmt.Errorf("retry_give_up_after: messaging_backend %s cannot park events", cfg.MessagingBackend)
		}
		if b, ok := backends()[cfg.MessagingBackend]; ok && !cfg.Dev {
			if setting, value := b.parkingOn(cfg); value == "" {
				return nil, fmt.Errorf("retry_give_up_after: messaging_backend %s parks events on %s, which is not set", cfg.MessagingBackend, setting)
			}
		}
		svcOpts.Parker = parker
	}
	if pub == nil {
		// A dry run never waits to park: nothing is tagged or published.
		svcCfg.GiveUpAfter = 0
	}
	var tagger service.Tagger
	if kc != nil {
		tagger = kc
	}
	if a.svc, err = service.New(svcCfg, a.consumer, pub, tagger, src, a.rules, svcOpts); err != nil {
		return nil, err
	}

	a.mux = web.NewMux(reg, func() []web.Check {
		checks := web.Readiness(a.consumer, a.rules, a.svc)
		if a.store != nil {
			checks = append(checks, web.Check{Name: service.DependencyDecisionStore, Fn: a.store.Check})
		}
		return checks
	}, a.store == nil)
	if a.store != nil {
		token, err := apiToken(cfg.APITokenFile)
		if err != nil {
			return nil, err
		}
		(&web.Server{Store: a.store, Rules: a.rules, Reload: a.rules.State,
			Held: a.svc, Token: token, Logger: log}).Register(a.mux)
	}
	if cfg.ListenAddress != "" {
		if a.ln, err = net.Listen("tcp", cfg.ListenAddress); err != nil {
			return nil, fmt.Errorf("listen_address: %w", err)
		}
	}
	return a, nil
}

// Handle mounts h on the metrics and health listener, for pages beside
// the operational endpoints (call it before Run).
func (a *App) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// Addr is the address the HTTP endpoints listen on, "" when disabled.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Service is the pipeline, for its held events and dependency states.
func (a *App) Service() *service.Service { return a.svc }

// Reload reads the rules again (SIGHUP).
func (a *App) Reload() {
	a.log.Info("reloading rules")
	a.rules.Trigger()
}

// Run takes events until ctx ends or the input is exhausted (--dev), then
// finishes those in flight and closes everything.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	if a.ln != nil {
		srv := &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("metrics endpoint", "error", err)
			}
		}()
		a.closers = append(a.closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
		a.log.Info("serving metrics and health", "address", a.Addr())
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if !a.cfg.Dev {
		go func() { _ = a.rules.Run(watchCtx) }()
	}
	if a.store != nil {
		go a.store.Run(watchCtx)
	}
	a.log.Info("mts serve started", "version", a.opts.Version, "backend", backendName(a.cfg), "workers", a.cfg.Workers,
		"dry_run", a.cfg.DryRun || a.cfg.Dev, "revision", a.rules.Current().Revision)
	err := a.svc.Run(ctx)
	a.log.Info("mts serve stopped")
	if a.lines != nil {
		if serr := a.lines.Summary(); err == nil {
			err = serr
		}
	}
	return err
}

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
	if a.ln != nil {
		a.ln.Close()
	}
}

func (a *App) newBus() (bus.Consumer, bus.Publisher, error) {
	if a.cfg.Dev {
		consumer := bus.Consumer(lines.NewConsumer(a.opts.Events, a.log))
		out := a.opts.Stdout
		if a.opts.DevLines != nil {
			a.lines = report.NewLines(a.opts.DevLines)
			out = io.Discard
		}
		return consumer, lines.NewPublisher(out), nil
	}
	b, ok := backends()[a.cfg.MessagingBackend]
	if !ok {
		return nil, nil, fmt.Errorf("messaging_backend %s: not available in this build", a.cfg.MessagingBackend)
	}
	opts := []bus.Option{bus.WithLogger(a.log), bus.WithRegisterer(a.reg)}
	consumer, err := b.consumer(a.cfg, opts...)
	if err != nil {
		return nil, nil, err
	}
	if a.cfg.DryRun {
		return consumer, nil, nil
	}
	pub, err := b.publisher(a.cfg, opts...)
	if err != nil {
		consumer.Close()
		return nil, nil, err
	}
	return consumer, pub, nil
}

func (a *App) decisionLog() (service.Recorder, error) {
	switch a.cfg.DecisionLog {
	case "":
		return nil, nil
	case "-":
		return &decisionLog{w: a.opts.Stderr}, nil
	}
	f, err := os.OpenFile(a.cfg.DecisionLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("decision_log: %w", err)
	}
	a.closers = append(a.closers, func() { f.Close() })
	return &decisionLog{w: f}, nil
}

// RuleLoadOptions are how the service loads its rules, limits included;
// `serve --check-config` loads them the same way.
func RuleLoadOptions(cfg *config.Config) ruleset.Options {
	return ruleset.Options{DefaultState: cfg.BuildState, Limits: ruleset.Limits{
		MaxFileSize: cfg.MaxRulesFileSize, MaxRules: cfg.MaxRules, MaxPatternLength: cfg.MaxPatternLength}}
}

func newSource(cfg *config.Config, kc *koji.Client) (source.Source, error) {
	switch {
	case cfg.ModulemdDir != "":
		return source.NewDir(cfg.ModulemdDir)
	case cfg.ModulemdSource == config.SourceKoji && kc != nil:
		return source.Koji{Koji: kc}, nil
	}
	return source.NewMBS(cfg.MBSAPIURL, source.MBSOptions{Timeout: cfg.RequestsTimeout.D()})
}

// NewKoji is the service's Koji client: the profile, its login, its
// sessions and metrics.
func NewKoji(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*koji.Client, error) {
	kcfg, err := koji.LoadConfig(cfg.KojiProfileName(), koji.LoadOptions{File: cfg.KojiConfig})
	if err != nil {
		return nil, fmt.Errorf("koji_profile %s: %w", cfg.KojiProfileName(), err)
	}
	opts := []koji.Option{koji.WithLogger(log), koji.WithMetrics(koji.NewMetrics(reg)), koji.WithSessions(KojiSessions)}
	return koji.New(kcfg, append(opts, kojiAuth(cfg.KojiCert, cfg.Keytab, cfg.Principal)...)...)
}

// LogLevel maps log_level to a slog level.
func LogLevel(s string) slog.Level {
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
