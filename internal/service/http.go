package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fedora-modularity/mts/koji"
)

// Check is one readiness condition.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Handler serves the operational endpoints: the Prometheus metrics at
// /monitor/metrics (the reference's path), a welcome text at /, /healthz
// (the process answers) and /readyz (every check passes; the failing ones
// are listed with status 503).
func Handler(g prometheus.Gatherer, checks []Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /monitor/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Welcome to the Message Tagging Service. Metrics: /monitor/metrics; health: /healthz, /readyz.")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var failed []string
		for _, c := range checks {
			if err := c.Fn(ctx); err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", c.Name, err))
			}
		}
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, f := range failed {
				fmt.Fprintln(w, f)
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Connector is the part of a bus consumer readiness looks at.
type Connector interface {
	Connected() bool
}

// TagGetter is the Koji call KojiProbe makes; *koji.Client has it.
type TagGetter interface {
	GetTag(ctx context.Context, name string) (*koji.Tag, error)
}

// ReadinessChecks are the conditions of /readyz for a running service:
// "bus" (the consumer is connected), "rules" (a rule set is loaded) and,
// when kojiProbe is not nil, "koji".
func ReadinessChecks(c Connector, rules Rules, kojiProbe func(ctx context.Context) error) []Check {
	checks := []Check{
		{Name: "bus", Fn: func(context.Context) error {
			if !c.Connected() {
				return errors.New("not connected to the broker")
			}
			return nil
		}},
		{Name: "rules", Fn: func(context.Context) error {
			if rules.Current() == nil {
				return errors.New("no rule set loaded")
			}
			return nil
		}},
	}
	if kojiProbe != nil {
		checks = append(checks, Check{Name: "koji", Fn: kojiProbe})
	}
	return checks
}

// KojiProbe asks the hub for a tag that does not exist: any answer, a
// fault included, shows the hub takes calls, except ServerOffline, which
// a hub in maintenance gives to every call.
func KojiProbe(k TagGetter) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := k.GetTag(ctx, "mts-readiness-probe")
		if err == nil || koji.IsNotFound(err) || (koji.FaultCode(err) != 0 && !koji.IsServerOffline(err)) {
			return nil
		}
		return err
	}
}

// CachedProbe runs probe at most once per ttl and answers with its last
// result in between, so that readiness polling does not load the hub.
func CachedProbe(probe func(ctx context.Context) error, ttl time.Duration) func(ctx context.Context) error {
	var (
		mu   sync.Mutex
		last time.Time
		err  error
	)
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !last.IsZero() && time.Since(last) < ttl {
			return err
		}
		err = probe(ctx)
		last = time.Now()
		return err
	}
}
