package app

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

	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/koji"
)

// probeTimeout bounds each connection a check with Connect tries.
const probeTimeout = 20 * time.Second

// CheckResult is what `serve --check-config` found.
type CheckResult struct {
	Problems config.Problems
	// Reached names what answered the connections tried ("the broker",
	// "Koji"), in the order tried; empty without Connect.
	Reached []string
	// Backend is the messaging backend checked, "dev" in development mode.
	Backend string
	// Inputs are what the consumer reads, each address with the kind its
	// messages are read as; empty in development mode or with problems.
	Inputs []string
}

// CheckDeployment checks the deployment cfg describes the way New would build it:
// every setting, its files, the koji profile, the rules as the service
// loads them, and the bus settings as the service merges them (for
// fedora-messaging, with its config.toml). loadErr is what reading the
// settings returned: its problems are reported with the others, any other
// error is returned. With connect, and no problem found, it also tries the
// brokers, the Koji login, MBS and the rules URL once.
func CheckDeployment(ctx context.Context, cfg *config.Config, loadErr error, connect bool) (*CheckResult, error) {
	var probs config.Problems
	if loadErr != nil && !errors.As(loadErr, &probs) {
		return nil, loadErr
	}
	res := &CheckResult{Backend: backendName(cfg)}
	probs = append(probs, cfg.Check(config.CheckOptions{
		Rules: func(paths []string) []config.Problem { return ruleProblems(cfg, paths) },
		KojiProfile: func(profile, file string) error {
			_, err := koji.LoadConfig(profile, koji.LoadOptions{File: file})
			return err
		},
	})...)
	if b, ok := backends()[cfg.MessagingBackend]; ok && !cfg.Dev && b.check != nil && len(probs) == 0 {
		probs = append(probs, b.check(cfg)...)
	}
	if connect && len(probs) == 0 {
		probes, closeAll, err := connectProbes(cfg)
		if err != nil {
			probs = append(probs, config.Problem{Msg: err.Error()})
		} else {
			probs = append(probs, cfg.RunProbes(ctx, probeTimeout, probes)...)
			closeAll()
			for _, p := range probes {
				res.Reached = append(res.Reached, targetName[p.Key])
			}
		}
	}
	res.Problems = probs
	if len(probs) == 0 {
		res.Inputs = consumerInputs(cfg)
	}
	return res, nil
}

// ruleProblems loads the rules at paths as the service would, each problem
// at the rule file's own place, which is where to fix it.
func ruleProblems(cfg *config.Config, paths []string) []config.Problem {
	_, err := ruleset.Load(paths, RuleLoadOptions(cfg))
	if err == nil {
		return nil
	}
	rp := ruleset.Problems(err)
	if rp == nil {
		return []config.Problem{{Key: "rules", Msg: err.Error()}}
	}
	var out []config.Problem
	for _, p := range rp {
		out = append(out, config.Problem{Position: p.Source, Key: "rules", Msg: strings.TrimPrefix(p.Error(), p.Source.String()+": ")})
	}
	return out
}

// targetName says what a probe of a key reaches, for the summary.
var targetName = map[string]string{
	"rhmsg_brokers": "the brokers", "amqp_url": "the broker", "fedmsg_endpoints": "the endpoints",
	"koji_profile": "Koji", "mbs_api_url": "MBS", "rules_file_url": "the rules URL",
}

// connectProbes are the connections a check with Connect tries once: the
// bus's, the Koji login, MBS and the rules URL.
func connectProbes(cfg *config.Config) ([]config.Probe, func(), error) {
	closeAll := func() {}
	if cfg.Dev {
		return nil, closeAll, nil
	}
	var probes []config.Probe
	if b, ok := backends()[cfg.MessagingBackend]; ok {
		p, err := b.probes(cfg)
		if err != nil {
			return nil, nil, err
		}
		probes = p
	}
	if !cfg.DryRun || cfg.ModulemdSource == config.SourceKoji {
		kc, err := NewKoji(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			return nil, nil, fmt.Errorf("koji_profile: %w", err)
		}
		closeAll = kc.Close
		probes = append(probes, kojiProbe(kc))
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

// kojiProbe logs in to Koji and out again.
func kojiProbe(kc *koji.Client) config.Probe {
	return config.Probe{Name: "Koji login at " + kc.Server(), Key: "koji_profile", Try: func(ctx context.Context) error {
		u, err := kc.GetLoggedInUser(ctx)
		if err != nil {
			return err
		}
		if u == nil || u.Name == "" {
			return errors.New("logged in as nobody")
		}
		return kc.Logout(ctx)
	}}
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

// backendName is the messaging backend the service runs, "dev" in
// development mode.
func backendName(cfg *config.Config) string {
	if cfg.Dev {
		return "dev"
	}
	return cfg.MessagingBackend
}
