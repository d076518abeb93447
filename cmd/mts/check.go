package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/bus/amqp10"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/koji"
)

// probeTimeout bounds each connection --check-config --connect tries.
const probeTimeout = 20 * time.Second

// checkConfig is `serve --check-config`: every problem of the deployment,
// each with its key and line, on stdout; exit 1 when there is one.
func checkConfig(c *cli.Context, cfg *config.Config, loadErr error) error {
	var probs config.Problems
	if loadErr != nil && !errors.As(loadErr, &probs) {
		return failErr(loadErr)
	}
	probs = append(probs, cfg.Check(config.CheckOptions{
		Rules: func(paths []string) []config.Problem {
			_, err := ruleset.Load(paths, app.RuleLoadOptions(cfg))
			if err == nil {
				return nil
			}
			rp := ruleset.Problems(err)
			if rp == nil {
				return []config.Problem{{Key: "rules", Msg: err.Error()}}
			}
			var out []config.Problem
			for _, p := range rp {
				// The rule file's own place, which is where to fix it.
				out = append(out, config.Problem{File: p.Source.File, Line: p.Source.Line, Col: p.Source.Col, Key: "rules", Msg: strings.TrimPrefix(p.Error(), p.Source.String()+": ")})
			}
			return out
		},
		KojiProfile: func(profile, file string) error {
			_, err := koji.LoadConfig(profile, koji.LoadOptions{File: file})
			return err
		},
	})...)
	var reached []string
	if c.Bool("connect") && len(probs) == 0 {
		probes, closeAll, err := connectProbes(cfg)
		if err != nil {
			probs = append(probs, config.Problem{Msg: err.Error()})
		} else {
			probs = append(probs, cfg.RunProbes(c.Context, probeTimeout, probes)...)
			closeAll()
			for _, p := range probes {
				reached = append(reached, targetName[p.Key])
			}
		}
	}
	if err := writeCheck(c.App.Writer, c.String("format"), cfg, probs, reached); err != nil {
		return err
	}
	if len(probs) > 0 {
		return failed()
	}
	return nil
}

// joinAnd lists items as a sentence does: "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// targetName says what a probe of a key reaches, for the summary.
var targetName = map[string]string{
	"rhmsg_brokers": "the brokers", "amqp_url": "the broker", "fedmsg_endpoints": "the endpoints",
	"koji_profile": "Koji", "mbs_api_url": "MBS", "rules_file_url": "the rules URL",
}

func writeCheck(w io.Writer, format string, cfg *config.Config, probs config.Problems, reached []string) error {
	if format == report.JSON {
		return report.JSONDocument(w, struct {
			OK       bool             `json:"ok"`
			Reached  []string         `json:"connected_to"`
			Problems []config.Problem `json:"problems"`
		}{len(probs) == 0, append([]string{}, reached...), append([]config.Problem{}, probs...)})
	}
	for _, p := range probs {
		fmt.Fprintln(w, p.Error())
	}
	what := "checked without connecting"
	if len(reached) > 0 {
		what = "checked, and " + joinAnd(reached) + " answered"
	}
	if len(probs) > 0 {
		_, err := fmt.Fprintf(w, "%d problems\n", len(probs))
		return err
	}
	_, err := fmt.Fprintf(w, "configuration ok (%s; backend %s)\n", what, backendName(cfg))
	return err
}

// connectProbes are the connections --connect tries once: the brokers, the
// Koji login, MBS and the rules URL.
func connectProbes(cfg *config.Config) ([]config.Probe, func(), error) {
	var probes []config.Probe
	closeAll := func() {}
	if cfg.Dev {
		return nil, closeAll, nil
	}
	switch cfg.MessagingBackend {
	case config.BackendRhmsg:
		sc, ac := app.StompConfig(cfg), app.AMQP10Config(cfg)
		probes = append(probes, config.Probe{Name: "connecting", Key: "rhmsg_brokers", Try: func(ctx context.Context) error {
			if cfg.RhmsgAMQP10() {
				return amqp10.Probe(ctx, ac)
			}
			return stomp.Probe(ctx, sc)
		}})
	case config.BackendFedoraMessaging:
		ac, err := app.AMQPConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		probes = append(probes, config.Probe{Name: "connecting", Key: "amqp_url", Try: func(ctx context.Context) error {
			return amqp.Probe(ctx, ac)
		}})
	case config.BackendFedmsg:
		for _, e := range cfg.FedmsgEndpoints {
			probes = append(probes, dialProbe("fedmsg_endpoints", e))
		}
	}
	if !cfg.DryRun || cfg.ModulemdSource == config.SourceKoji {
		kc, err := app.NewKoji(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			return nil, nil, fmt.Errorf("koji_profile: %w", err)
		}
		closeAll = kc.Close
		probes = append(probes, config.Probe{Name: "Koji login at " + kc.Server(), Key: "koji_profile", Try: func(ctx context.Context) error {
			u, err := kc.GetLoggedInUser(ctx)
			if err != nil {
				return err
			}
			if u == nil || u.Name == "" {
				return errors.New("logged in as nobody")
			}
			return kc.Logout(ctx)
		}})
	}
	client := &http.Client{Timeout: cfg.RequestsTimeout.D()}
	if cfg.ModulemdSource == config.SourceMBS {
		probes = append(probes, httpProbe(client, "MBS", "mbs_api_url", strings.TrimSuffix(cfg.MBSAPIURL, "/")+"/module-builds/?per_page=1"))
	}
	if cfg.RulesFileURL != "" {
		probes = append(probes, httpProbe(client, "rules file", "rules_file_url", cfg.RulesFileURL))
	}
	return probes, closeAll, nil
}

// dialProbe opens a TCP connection to a fedmsg endpoint and closes it:
// ZeroMQ peers say nothing more before a message.
func dialProbe(key, raw string) config.Probe {
	addr := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		addr = u.Host
	}
	return config.Probe{Name: "endpoint " + raw, Key: key, Try: func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}}
}

func httpProbe(client *http.Client, name, key, u string) config.Probe {
	return config.Probe{Name: name + " " + u, Key: key, Try: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		return nil
	}}
}

// newLogger writes logs to w: text for a person at a terminal, JSON lines
// for a log collector otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func backendName(cfg *config.Config) string {
	if cfg.Dev {
		return "dev"
	}
	return cfg.MessagingBackend
}
