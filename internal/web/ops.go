package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fedora-modularity/mts/internal/service"
)

// Check is one readiness condition.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// NewMux serves the operational endpoints: the Prometheus metrics at
// /monitor/metrics (the reference's path), a welcome text at /, /healthz
// (the process answers) and /readyz (every check passes; the failing ones
// are listed with status 503). More handlers can be mounted on it; without
// welcome, / is left to them (the status page of the decision history).
func NewMux(g prometheus.Gatherer, checks func() []Check, welcome bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /monitor/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	if welcome {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "Welcome to the Message Tagging Service. Metrics: /monitor/metrics; health: /healthz, /readyz.")
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var failed []string
		for _, c := range checks() {
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

// Readiness lists the conditions of /readyz: "bus" (the consumer is
// connected), "rules" (a rule set is loaded), and one per dependency of
// the pipeline that is down, named after it (koji, mbs, bus,
// decision_store), with how long and why.
func Readiness(c Connector, rules service.Rules, svc *service.Service) []Check {
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
	for _, d := range svc.Dependencies() {
		if d.Up {
			continue
		}
		held := 0
		for _, h := range svc.Held() {
			if h.Dependency == d.Name {
				held++
			}
		}
		checks = append(checks, Check{Name: d.Name, Fn: func(context.Context) error {
			return fmt.Errorf("down since %s (%s), %d events held: %s",
				d.Since.UTC().Format(time.RFC3339), time.Since(d.Since).Round(time.Second), held, d.LastError)
		}})
	}
	return checks
}
