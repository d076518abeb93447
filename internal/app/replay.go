package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/service"
)

// ReplayOptions are what `mts replay` adds to the configuration.
type ReplayOptions struct {
	// Rules, when set, is the rule set to decide with instead of the
	// configuration's.
	Rules *ruleset.Ruleset
	// Filter selects the decisions to replay.
	Filter history.Filter
	// Apply opens the store for writing, so that Apply can record.
	Apply  bool
	Logger *slog.Logger
}

// Replay is `mts replay` assembled: the rule set, the decision store and
// the decisions that change; Apply runs them through the service's
// pipeline.
type Replay struct {
	*history.Replay
	cfg   *config.Config
	rules *ruleset.Ruleset
	store *history.Store
	log   *slog.Logger
	reg   *prometheus.Registry
}

// NewReplay loads the rules (the configuration's, as the service loads
// them, unless opts gives a set), opens decision_store and decides its
// newest decisions again. Close it when done.
func NewReplay(ctx context.Context, cfg *config.Config, opts ReplayOptions) (*Replay, error) {
	r := &Replay{cfg: cfg, rules: opts.Rules, log: opts.Logger, reg: prometheus.NewRegistry()}
	if r.rules == nil {
		co, err := newRules(cfg, r.log, r.reg)
		if err != nil {
			return nil, err
		}
		if err := co.Load(ctx); err != nil {
			return nil, fmt.Errorf("loading rules: %w", err)
		}
		r.rules = co.Current()
	}
	var err error
	if opts.Apply {
		r.store, err = history.Open(ctx, cfg.DecisionStore, history.Options{
			Rules: staticRules{r.rules}, DefaultState: cfg.BuildState, Logger: r.log,
		})
	} else {
		r.store, err = history.OpenReadOnly(ctx, cfg.DecisionStore)
	}
	if err != nil {
		return nil, err
	}
	if r.Replay, err = r.store.NewReplay(ctx, r.rules, opts.Filter); err != nil {
		r.store.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the decision store.
func (r *Replay) Close() error { return r.store.Close() }

// Apply runs the changed builds through the pipeline with the Koji
// client and the publisher of the configuration, recording each new
// decision in the store.
func (r *Replay) Apply(ctx context.Context) ([]history.Applied, error) {
	if err := r.store.KeepRules(ctx, r.rules); err != nil {
		return nil, err
	}
	kc, err := NewKoji(r.cfg, r.log, r.reg)
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	pub, err := NewPublisher(r.cfg, r.log, r.reg)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	svc, err := service.New(service.Config{
		Workers: 1, StateFilter: r.cfg.BuildStateMsgFilter,
		RetryMin: r.cfg.RetryMinBackoff.D(), RetryMax: r.cfg.RetryMaxBackoff.D(), TaskPoll: r.cfg.TaskPollInterval.D(),
		MaxModulemdSize: r.cfg.MaxModulemdSize,
	}, noConsumer{}, pub, kc, r.Replay, staticRules{r.rules}, service.Options{Logger: r.log, Registerer: r.reg,
		Recorders: []service.Recorder{r.store}})
	if err != nil {
		return nil, err
	}
	return r.Replay.Apply(ctx, svc), nil
}

// newRules is the coordinator of the configured rules: files, or a URL
// polled every rules_poll_interval, loaded with the configured limits.
func newRules(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*reload.Coordinator, error) {
	return reload.New(reload.Options{
		Paths: cfg.Rules, URL: cfg.RulesFileURL, PollInterval: cfg.RulesPollInterval.D(),
		HTTPClient: &http.Client{Timeout: cfg.RequestsTimeout.D()},
		Load:       RuleLoadOptions(cfg),
		Logger:     log, Registerer: reg,
	})
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
