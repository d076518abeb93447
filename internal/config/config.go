// Package config reads the settings of `mts serve`: one YAML file whose keys
// keep the names of the reference Python service, the reference's
// environment variables, and command-line flags, in that order of
// precedence (flags > environment > file > defaults). Validate checks the
// result once, at start, and names the key of every problem.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Messaging backends.
const (
	BackendFedoraMessaging = "fedora-messaging" // AMQP 0-9-1 on RabbitMQ
	BackendRhmsg           = "rhmsg"            // STOMP (UMB on ActiveMQ, or RabbitMQ)
	BackendFedmsg          = "fedmsg"           // ZeroMQ
)

// Modulemd sources.
const (
	SourceMBS  = "mbs"
	SourceKoji = "koji"
)

// Duration is a time.Duration that YAML may give as a Go duration string
// ("1m30s") or as a number of seconds, as the reference's requests_timeout.
type Duration time.Duration

// UnmarshalYAML accepts "90s", "90d" or 90.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 30s or a number of seconds", n.Line)
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: want a duration such as 30s or a number of seconds: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads a Go duration ("36h", "90s") or a whole number of
// days ("90d"), the unit retention and look-back periods are thought in.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a whole number of days such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is every setting of `mts serve`. The yaml names are the keys of
// the configuration file.
type Config struct {
	DryRun bool `yaml:"dry_run"`
	Dev    bool `yaml:"dev"`

	// Rules are rule files or directories; RulesFileURL an HTTP URL of one
	// rule file. Exactly one of the two is used.
	Rules             []string `yaml:"rules"`
	RulesFileURL      string   `yaml:"rules_file_url"`
	RulesPollInterval Duration `yaml:"rules_poll_interval"`
	BuildState        string   `yaml:"build_state"`

	BuildStateMsgFilter []string `yaml:"build_state_msg_filter"`

	ModulemdSource    string   `yaml:"modulemd_source"`
	MBSAPIURL         string   `yaml:"mbs_api_url"`
	ModulemdCacheSize int      `yaml:"modulemd_cache_size"`
	RequestsTimeout   Duration `yaml:"requests_timeout"`

	KojiProfile string `yaml:"koji_profile"`
	KojiConfig  string `yaml:"koji_config"`
	KojiCert    string `yaml:"koji_cert"`
	Keytab      string `yaml:"keytab"`
	Principal   string `yaml:"principal"`
	CheckTagged bool   `yaml:"check_tagged"`

	MessagingBackend      string   `yaml:"messaging_backend"`
	RhmsgBrokers          []string `yaml:"rhmsg_brokers"`
	RhmsgBrokerType       string   `yaml:"rhmsg_broker_type"`
	RhmsgCertificate      string   `yaml:"rhmsg_certificate"`
	RhmsgPrivateKey       string   `yaml:"rhmsg_private_key"`
	RhmsgCACert           string   `yaml:"rhmsg_ca_cert"`
	RhmsgTopicPrefix      string   `yaml:"rhmsg_topic_prefix"`
	RhmsgQueue            string   `yaml:"rhmsg_queue"`
	RhmsgTopic            string   `yaml:"rhmsg_topic"`
	RhmsgSubscriptionName string   `yaml:"rhmsg_subscription_name"`
	RhmsgLogin            string   `yaml:"rhmsg_login"`
	RhmsgPasscode         string   `yaml:"rhmsg_passcode"`

	AMQPURL         string   `yaml:"amqp_url"`
	AMQPQueue       string   `yaml:"amqp_queue"`
	AMQPRoutingKeys []string `yaml:"amqp_routing_keys"`
	AMQPTopicPrefix string   `yaml:"amqp_topic_prefix"`
	AMQPCACert      string   `yaml:"amqp_ca_cert"`
	AMQPCertificate string   `yaml:"amqp_certificate"`
	AMQPPrivateKey  string   `yaml:"amqp_private_key"`

	FedmsgEndpoints       []string `yaml:"fedmsg_endpoints"`
	FedmsgTopics          []string `yaml:"fedmsg_topics"`
	FedmsgPublishEndpoint string   `yaml:"fedmsg_publish_endpoint"`
	FedmsgTopicPrefix     string   `yaml:"fedmsg_topic_prefix"`

	Workers         int      `yaml:"workers"`
	RetryAttempts   int      `yaml:"retry_attempts"`
	RetryMinBackoff Duration `yaml:"retry_min_backoff"`
	RetryMaxBackoff Duration `yaml:"retry_max_backoff"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`

	ListenAddress string `yaml:"listen_address"`
	LogLevel      string `yaml:"log_level"`
	DecisionLog   string `yaml:"decision_log"`

	// DecisionStore is the SQLite file of the decision history; empty
	// keeps none. DecisionRetention and DecisionStoreMaxSizeMB bound what
	// it keeps; APITokenFile, when set, holds the bearer token the
	// history API and status page require.
	DecisionStore          string   `yaml:"decision_store"`
	DecisionRetention      Duration `yaml:"decision_retention"`
	DecisionStoreMaxSizeMB int      `yaml:"decision_store_max_size_mb"`
	APITokenFile           string   `yaml:"api_token_file"`
}

// DefaultDecisionStore is decision_store's default, a volume of the
// container image.
const DefaultDecisionStore = "/var/lib/mts/decisions.db"

// Defaults are the settings before any file, variable or flag.
func Defaults() *Config {
	return &Config{
		RulesPollInterval:   Duration(time.Minute),
		BuildState:          "ready",
		BuildStateMsgFilter: []string{"ready", "done"},
		ModulemdSource:      SourceMBS,
		MBSAPIURL:           "https://mbs.fedoraproject.org/module-build-service/1/",
		ModulemdCacheSize:   256,
		RequestsTimeout:     Duration(60 * time.Second),
		CheckTagged:         true,
		MessagingBackend:    BackendFedoraMessaging,
		RhmsgBrokerType:     "activemq",
		RhmsgTopicPrefix:    "VirtualTopic.eng.mts",
		RhmsgQueue:          "Consumer.client-mts.queue.VirtualTopic.eng.mbs.module.state.change",
		RhmsgTopic:          "VirtualTopic.eng.mbs.module.state.change",
		AMQPURL:             "amqp://guest:guest@127.0.0.1:5672/%2F",
		AMQPQueue:           "mts",
		AMQPRoutingKeys:     []string{"org.fedoraproject.prod.mbs.module.state.change"},
		AMQPTopicPrefix:     "org.fedoraproject.prod.mts",
		FedmsgTopics:        []string{"org.fedoraproject.prod.mbs.module.state.change"},
		FedmsgTopicPrefix:   "org.fedoraproject.prod.mts",
		Workers:             4,
		RetryAttempts:       5,
		RetryMinBackoff:     Duration(time.Second),
		RetryMaxBackoff:     Duration(30 * time.Second),
		ShutdownTimeout:     Duration(30 * time.Second),
		ListenAddress:       ":8080",
		LogLevel:            "INFO",

		DecisionStore:          DefaultDecisionStore,
		DecisionRetention:      Duration(90 * 24 * time.Hour),
		DecisionStoreMaxSizeMB: 1024,
	}
}

// LoadFile reads the YAML file at path over c. Unknown keys are errors,
// so that a misspelt key does not silently fall back to its default.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return c.LoadBytes(path, data)
}

// LoadBytes reads YAML data named name over c.
func (c *Config) LoadBytes(name string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	return nil
}

// Environment variables of the reference service.
const (
	EnvDryRun     = "MTS_DRY_RUN"
	EnvDev        = "MTS_DEV"
	EnvConfigFile = "MTS_CONFIG_FILE"
	EnvUseStomp   = "MTS_USE_STOMP"
	EnvStompURI   = "MTS_STOMP_URI"
	EnvStompCrt   = "MTS_STOMP_CRT"
	EnvStompKey   = "MTS_STOMP_KEY"
)

// truthy follows the reference, where defining the variable turns the
// setting on; the usual spellings of "off" are honoured as well.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}

// ApplyEnv sets what the environment variables say over c; lookup is
// os.LookupEnv outside tests.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	if v, ok := lookup(EnvDryRun); ok {
		c.DryRun = truthy(v)
	}
	if v, ok := lookup(EnvDev); ok {
		c.Dev = truthy(v)
	}
	if v, ok := lookup(EnvUseStomp); ok && truthy(v) {
		c.MessagingBackend = BackendRhmsg
	}
	if v, ok := lookup(EnvStompURI); ok && v != "" {
		c.RhmsgBrokers = splitList(v)
	}
	if v, ok := lookup(EnvStompCrt); ok && v != "" {
		c.RhmsgCertificate = v
	}
	if v, ok := lookup(EnvStompKey); ok && v != "" {
		c.RhmsgPrivateKey = v
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// KojiProfileName is koji_profile, or the reference's default: "stg" in
// development, "koji" otherwise.
func (c *Config) KojiProfileName() string {
	switch {
	case c.KojiProfile != "":
		return c.KojiProfile
	case c.Dev:
		return "stg"
	}
	return "koji"
}

// states are MBS's build state names.
var states = map[string]bool{
	"init": true, "wait": true, "build": true, "done": true,
	"failed": true, "ready": true, "garbage": true,
}

// Validate checks the settings. Every problem is reported, each starting
// with the key it is about.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	switch {
	case len(c.Rules) == 0 && c.RulesFileURL == "":
		bad("rules", "no rules: set rules (files or directories) or rules_file_url")
	case len(c.Rules) > 0 && c.RulesFileURL != "":
		bad("rules_file_url", "set either rules or rules_file_url, not both")
	}
	if c.RulesFileURL != "" {
		checkHTTPURL(bad, "rules_file_url", c.RulesFileURL)
		if c.RulesPollInterval.D() < 0 {
			bad("rules_poll_interval", "must not be negative")
		}
	}
	if !states[c.BuildState] {
		bad("build_state", "unknown build state %q", c.BuildState)
	}
	if len(c.BuildStateMsgFilter) == 0 {
		bad("build_state_msg_filter", "empty: no event would ever be looked at")
	}
	for _, s := range c.BuildStateMsgFilter {
		if !states[s] {
			bad("build_state_msg_filter", "unknown build state %q", s)
		}
	}
	switch c.ModulemdSource {
	case SourceMBS:
		checkHTTPURL(bad, "mbs_api_url", c.MBSAPIURL)
	case SourceKoji:
	default:
		bad("modulemd_source", "%q: want %q or %q", c.ModulemdSource, SourceMBS, SourceKoji)
	}
	if c.ModulemdCacheSize < 0 {
		bad("modulemd_cache_size", "must not be negative")
	}
	if c.RequestsTimeout.D() <= 0 {
		bad("requests_timeout", "must be positive")
	}
	if (c.Keytab == "") != (c.Principal == "") {
		bad("keytab", "keytab and principal go together")
	}
	if c.KojiCert != "" && c.Keytab != "" {
		bad("koji_cert", "choose koji_cert or keytab, not both")
	}
	if !c.Dev {
		c.validateBus(bad)
	}
	if c.Workers < 1 {
		bad("workers", "must be at least 1")
	}
	if c.RetryAttempts < 1 {
		bad("retry_attempts", "must be at least 1")
	}
	if c.RetryMinBackoff.D() <= 0 {
		bad("retry_min_backoff", "must be positive")
	}
	if c.RetryMaxBackoff.D() < c.RetryMinBackoff.D() {
		bad("retry_max_backoff", "must not be below retry_min_backoff")
	}
	if c.ShutdownTimeout.D() <= 0 {
		bad("shutdown_timeout", "must be positive")
	}
	if c.DecisionStore != "" {
		if c.DecisionRetention.D() <= 0 {
			bad("decision_retention", "must be positive")
		}
		if c.DecisionStoreMaxSizeMB < 0 {
			bad("decision_store_max_size_mb", "must not be negative (0: no bound)")
		}
	}
	switch strings.ToUpper(c.LogLevel) {
	case "DEBUG", "INFO", "WARN", "WARNING", "ERROR":
	default:
		bad("log_level", "%q: want DEBUG, INFO, WARNING or ERROR", c.LogLevel)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

func (c *Config) validateBus(bad func(key, format string, args ...any)) {
	switch c.MessagingBackend {
	case BackendRhmsg:
		if len(c.RhmsgBrokers) == 0 {
			bad("rhmsg_brokers", "required when messaging_backend is %s (or set %s)", BackendRhmsg, EnvStompURI)
		}
		if (c.RhmsgCertificate == "") != (c.RhmsgPrivateKey == "") {
			bad("rhmsg_certificate", "rhmsg_certificate and rhmsg_private_key go together")
		}
		if c.RhmsgQueue == "" {
			bad("rhmsg_queue", "required")
		}
		switch c.RhmsgBrokerType {
		case "activemq", "rabbitmq":
		default:
			bad("rhmsg_broker_type", "%q: want activemq or rabbitmq", c.RhmsgBrokerType)
		}
	case BackendFedoraMessaging:
		if u, err := url.Parse(c.AMQPURL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
			bad("amqp_url", "%q: want amqp:// or amqps://", c.AMQPURL)
		}
		if c.AMQPQueue == "" {
			bad("amqp_queue", "required")
		}
		if len(c.AMQPRoutingKeys) == 0 {
			bad("amqp_routing_keys", "required")
		}
	case BackendFedmsg:
		if len(c.FedmsgEndpoints) == 0 {
			bad("fedmsg_endpoints", "required when messaging_backend is %s", BackendFedmsg)
		}
		// Announcing needs a socket to bind; a dry run announces nothing.
		if c.FedmsgPublishEndpoint == "" && !c.DryRun {
			bad("fedmsg_publish_endpoint", "required when messaging_backend is %s, unless dry_run", BackendFedmsg)
		}
	default:
		bad("messaging_backend", "%q: want %s, %s or %s", c.MessagingBackend,
			BackendFedoraMessaging, BackendRhmsg, BackendFedmsg)
	}
}

func checkHTTPURL(bad func(key, format string, args ...any), key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key, "%q: want an http:// or https:// URL", raw)
	}
}
