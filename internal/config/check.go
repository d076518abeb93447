package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CheckOptions give Check what it needs to check beyond the settings
// themselves, without this package knowing rule files or Koji.
type CheckOptions struct {
	// Rules loads the rule set at paths and returns its problems (nil when
	// it compiles).
	Rules func(paths []string) []Problem
	// KojiProfile reads the koji client profile and returns why it cannot
	// be used, or nil.
	KojiProfile func(profile, file string) error
}

// Check validates a deployment without connecting to anything: every
// setting (Validate), the broker URIs in every form the reference
// accepted, the files that must exist and be readable, the koji profile
// and the rules. Each problem names its key, and the line when the file
// set it.
func (c *Config) Check(opts CheckOptions) Problems {
	probs := c.problems()
	add := func(key, format string, args ...any) {
		probs = append(probs, c.problem(key, format, args...))
	}
	readable := func(key, path string) {
		if path == "" {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			add(key, "%s", pathError(err))
			return
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			add(key, "%s is a directory, want a file", path)
		}
	}
	for _, p := range c.Rules {
		if _, err := os.Stat(p); err != nil {
			add("rules", "%s", pathError(err))
		}
	}
	if len(c.Rules) > 0 && opts.Rules != nil && !hasKey(probs, "rules") {
		probs = append(probs, opts.Rules(c.Rules)...)
	}
	readable("koji_cert", c.KojiCert)
	readable("keytab", c.Keytab)
	readable("koji_config", c.KojiConfig)
	if c.DecisionLog != "" && c.DecisionLog != "-" {
		dir := filepath.Dir(c.DecisionLog)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			add("decision_log", "directory %s does not exist", dir)
		}
	}
	if c.needsKoji() && opts.KojiProfile != nil {
		if err := opts.KojiProfile(c.KojiProfileName(), c.KojiConfig); err != nil {
			add("koji_profile", "%s: %v", c.KojiProfileName(), err)
		}
	}
	if c.Dev {
		return probs
	}
	switch c.MessagingBackend {
	case BackendRhmsg:
		for _, entry := range c.RhmsgBrokers {
			for _, u := range splitList(entry) {
				if err := CheckBrokerURI(u); err != nil {
					add("rhmsg_brokers", "%v", err)
				}
			}
		}
		readable("rhmsg_certificate", c.RhmsgCertificate)
		readable("rhmsg_private_key", c.RhmsgPrivateKey)
		readable("rhmsg_ca_cert", c.RhmsgCACert)
	case BackendFedoraMessaging:
		// An empty amqp_url is not a problem: the URL then comes from
		// fedora-messaging's config.toml, or the bus's default, which the
		// service checks once they are merged.
		if u, err := url.Parse(c.AMQPURL); err == nil && c.AMQPURL != "" && u.Hostname() == "" {
			add("amqp_url", "%q has no host", c.AMQPURL)
		}
		readable("amqp_ca_cert", c.AMQPCACert)
		readable("amqp_certificate", c.AMQPCertificate)
		readable("amqp_private_key", c.AMQPPrivateKey)
	case BackendFedmsg:
		for _, e := range append(slices.Clone(c.FedmsgEndpoints), c.FedmsgPublishEndpoint) {
			if e == "" {
				continue
			}
			if u, err := url.Parse(e); err != nil || u.Scheme != "tcp" || u.Port() == "" {
				key := "fedmsg_endpoints"
				if e == c.FedmsgPublishEndpoint {
					key = "fedmsg_publish_endpoint"
				}
				add(key, "%q: want tcp://HOST:PORT", e)
			}
		}
	}
	return probs
}

func hasKey(ps Problems, key string) bool {
	for _, p := range ps {
		if p.Key == key {
			return true
		}
	}
	return false
}

// needsKoji tells whether serve would log in to Koji.
func (c *Config) needsKoji() bool {
	return !c.Dev && (!c.DryRun || c.ModulemdSource == SourceKoji)
}

// pathError words a file error without Go's "open" prefix.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return pe.Path + " does not exist"
		case errors.Is(err, os.ErrPermission):
			return pe.Path + " is not readable by this user"
		}
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// CheckBrokerURI checks one rhmsg broker URI in the forms the reference and
// its deployments used: STOMP as host:port, stomp://, stomp+ssl:// or
// ssl:// (also tcp://, tls://, stomps://), with a host and a port; AMQP 1.0
// as amqp:// or amqps://, the newest reference's form. A bare host name is
// explained rather than refused with a parser's words.
func CheckBrokerURI(raw string) error {
	s := raw
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		switch strings.ToLower(scheme) {
		case "stomp", "tcp", "stomp+ssl", "ssl", "stomp+tls", "tls", "stomps":
		case "amqp", "amqps":
			// AMQP 1.0, as the newest reference's rhmsg client; the port
			// defaults to 5672 or 5671.
			if host, _, _ := strings.Cut(rest, "/"); host == "" {
				return fmt.Errorf("%q: want %s://HOST[:PORT]", raw, scheme)
			}
			return nil
		default:
			return fmt.Errorf("%q: unknown scheme %q (want stomp://, stomp+ssl:// or ssl://, or HOST:PORT)", raw, scheme)
		}
		s = rest
	}
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") && s != "" {
			return fmt.Errorf("%q has no port: write %s:PORT (UMB's STOMP port is 61612)", raw, s)
		}
		return fmt.Errorf("%q: want HOST:PORT", raw)
	}
	if host == "" || port == "" {
		return fmt.Errorf("%q: want HOST:PORT", raw)
	}
	return nil
}

// Probe is one connection tried by `serve --check-config --connect`: what
// it reaches, the key that configures it, and the attempt.
type Probe struct {
	Name string
	Key  string
	Try  func(ctx context.Context) error
}

// RunProbes tries each probe once, each within timeout, and returns a
// problem for each that fails.
func (c *Config) RunProbes(ctx context.Context, timeout time.Duration, probes []Probe) Problems {
	var probs Problems
	for _, p := range probes {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := p.Try(pctx)
		cancel()
		if err != nil {
			probs = append(probs, c.problem(p.Key, "%s: %v", p.Name, err))
		}
	}
	return probs
}
