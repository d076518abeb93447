package app

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/koji"
)

// openStore opens decision_store, the decision history, and keeps the
// rules in use in it; nil when none is kept.
func (a *App) openStore(ctx context.Context, kc *koji.Client) (*history.Store, error) {
	cfg := a.cfg
	if cfg.DecisionStore == "" {
		return nil, nil
	}
	opts := history.Options{
		Rules: a.rules, DefaultState: cfg.BuildState, Retention: cfg.DecisionRetention.D(),
		MaxBytes: int64(cfg.DecisionStoreMaxSizeMB) << 20, Logger: a.log,
	}
	if kc != nil && !cfg.DryRun {
		opts.Tasks = kc
	}
	store, err := history.Open(ctx, cfg.DecisionStore, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (set decision_store to a file the service can write, or to \"\" to keep no history)", err)
	}
	a.closers = append(a.closers, func() { store.Close() })
	if err := store.KeepRules(ctx, a.rules.Current()); err != nil {
		return nil, err
	}
	return store, nil
}

// apiToken reads api_token_file: the bearer token the history API
// requires, "" for none.
func apiToken(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("api_token_file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("api_token_file %s: empty", file)
	}
	return token, nil
}
