// Package config reads the settings of `mts serve`: one YAML file whose keys
// keep the names of the reference Python service, the reference's
// environment variables, and command-line flags, in that order of
// precedence (flags > environment > file > defaults). Validate checks the
// result once, at start, and names the key of every problem.
// It must not build clients or connect (internal/app does, from the Config
// this package gives).
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"
	yamlv4 "go.yaml.in/yaml/v4"

	"github.com/fedora-modularity/mts/policy/position"
)

// Messaging backends.
const (
	BackendFedoraMessaging = "fedora-messaging" // AMQP 0-9-1 on RabbitMQ
	BackendRhmsg           = "rhmsg"            // UMB: AMQP 1.0 (amqps:// brokers) or STOMP
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
		return errors.New("want a duration such as 30s or a number of seconds")
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("want a duration such as 30s or a number of seconds, not %q", n.Value)
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
	// Limits on rule files and modulemd documents (0: the default).
	MaxRulesFileSize int64 `yaml:"max_rules_file_size"`
	MaxRules         int   `yaml:"max_rules"`
	MaxPatternLength int   `yaml:"max_pattern_length"`
	MaxModulemdSize  int   `yaml:"max_modulemd_size"`

	BuildStateMsgFilter []string `yaml:"build_state_msg_filter"`

	ModulemdSource    string   `yaml:"modulemd_source"`
	ModulemdDir       string   `yaml:"modulemd_dir"`
	MBSAPIURL         string   `yaml:"mbs_api_url"`
	ModulemdCacheSize int      `yaml:"modulemd_cache_size"`
	RequestsTimeout   Duration `yaml:"requests_timeout"`

	KojiProfile string `yaml:"koji_profile"`
	KojiConfig  string `yaml:"koji_config"`
	KojiCert    string `yaml:"koji_cert"`
	Keytab      string `yaml:"keytab"`
	Principal   string `yaml:"principal"`
	CheckTagged bool   `yaml:"check_tagged"`
	// KojiUser is the Koji user the service tags as, which Koji's
	// build.tag and build.untag events name for the service's own work;
	// empty: asked of the hub at start (needed with dev or dry_run).
	KojiUser string `yaml:"koji_user"`
	// MaxReactionHops bounds, per build, the consecutive reactions to
	// Koji events made by koji_user: a rule loop stops there.
	MaxReactionHops int `yaml:"max_reaction_hops"`
	// AnnounceUnmatchedKoji publishes build.tag.unmatched for Koji events
	// no rule matched, as for MBS events; off, since most of Koji's
	// events concern no rule.
	AnnounceUnmatchedKoji bool `yaml:"announce_unmatched_koji"`

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
	// RhmsgInputs, AMQPInputs and FedmsgInputs are read beside the MBS
	// queue or topic above: Koji's topics, say (see Input).
	RhmsgInputs   Inputs `yaml:"rhmsg_inputs"`
	RhmsgLogin    string `yaml:"rhmsg_login"`
	RhmsgPasscode string `yaml:"rhmsg_passcode"`
	// The AMQP 1.0 address prefixes; unset means the broker type's
	// (queue:// and topic:// on activemq, /queue/ and /topic/ on
	// rabbitmq), "" means none.
	RhmsgQueueAddressPrefix *string `yaml:"rhmsg_queue_address_prefix"`
	RhmsgTopicAddressPrefix *string `yaml:"rhmsg_topic_address_prefix"`

	AMQPURL         string   `yaml:"amqp_url"`
	AMQPQueue       string   `yaml:"amqp_queue"`
	AMQPRoutingKeys []string `yaml:"amqp_routing_keys"`
	AMQPInputs      Inputs   `yaml:"amqp_inputs"`
	AMQPTopicPrefix string   `yaml:"amqp_topic_prefix"`
	AMQPCACert      string   `yaml:"amqp_ca_cert"`
	AMQPCertificate string   `yaml:"amqp_certificate"`
	AMQPPrivateKey  string   `yaml:"amqp_private_key"`
	// FedoraMessagingConfig is fedora-messaging's config.toml; unset
	// means $FEDORA_MESSAGING_CONF, then /etc/fedora-messaging/config.toml
	// when it exists. The amqp_* keys above win over it, and are empty
	// by default for that reason (the bus fills in its defaults last).
	FedoraMessagingConfig string `yaml:"fedora_messaging_config"`
	// AllowTransientQueue accepts an exclusive, auto-deleted or
	// non-durable queue from that file, which loses events while mts is
	// down.
	AllowTransientQueue bool `yaml:"allow_transient_queue"`

	FedmsgEndpoints       []string `yaml:"fedmsg_endpoints"`
	FedmsgTopics          []string `yaml:"fedmsg_topics"`
	FedmsgInputs          Inputs   `yaml:"fedmsg_inputs"`
	FedmsgPublishEndpoint string   `yaml:"fedmsg_publish_endpoint"`
	FedmsgTopicPrefix     string   `yaml:"fedmsg_topic_prefix"`

	Workers int `yaml:"workers"`
	// RetryAttempts no longer bounds anything: events are held until
	// their dependency answers. Kept so that older files still load.
	RetryAttempts     int      `yaml:"retry_attempts"`
	RetryMinBackoff   Duration `yaml:"retry_min_backoff"`
	RetryMaxBackoff   Duration `yaml:"retry_max_backoff"`
	RetryGiveUpAfter  Duration `yaml:"retry_give_up_after"`
	ParkingQueue      string   `yaml:"parking_queue"`
	ParkingRoutingKey string   `yaml:"parking_routing_key"`
	TaskPollInterval  Duration `yaml:"koji_task_poll_interval"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`

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
	// src is where the file set each key, for problems to name the line.
	src source
}

// source is the file a configuration was read from and the line of each
// key in it.
type source struct {
	file  string
	lines map[string]int
	// origin names the environment variable or flag that set a key over
	// the file.
	origin map[string]string
}

func (s *source) setFrom(key, origin string) {
	if s.origin == nil {
		s.origin = map[string]string{}
	}
	s.origin[key] = origin
}

// SetFrom records that key was set by origin (a command-line flag, such
// as "--rules"), so that a problem with it names the flag rather than a
// line of the file.
func (c *Config) SetFrom(key, origin string) { c.src.setFrom(key, origin) }

// DefaultListenAddress is listen_address's default.
const DefaultListenAddress = ":8080"

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
		MaxReactionHops:     5,
		MessagingBackend:    BackendFedoraMessaging,
		RhmsgBrokerType:     "activemq",
		RhmsgTopicPrefix:    "VirtualTopic.eng.mts",
		RhmsgQueue:          "Consumer.client-mts.queue.VirtualTopic.eng.mbs.module.state.change",
		RhmsgTopic:          "VirtualTopic.eng.mbs.module.state.change",
		FedmsgTopics:        []string{"org.fedoraproject.prod.mbs.module.state.change"},
		FedmsgTopicPrefix:   "org.fedoraproject.prod.mts",
		Workers:             4,
		RetryMinBackoff:     Duration(time.Second),
		RetryMaxBackoff:     Duration(30 * time.Second),
		TaskPollInterval:    Duration(time.Second),
		ShutdownTimeout:     Duration(30 * time.Second),
		ListenAddress:       DefaultListenAddress,
		LogLevel:            "INFO",

		DecisionStore:          DefaultDecisionStore,
		DecisionRetention:      Duration(90 * 24 * time.Hour),
		DecisionStoreMaxSizeMB: 1024,
	}
}

// Load is the settings before flags: the defaults, the YAML file (file,
// or $MTS_CONFIG_FILE when empty, or none) and the environment, read with
// lookup (os.LookupEnv outside tests). A file with problems still gives
// the settings it could read, with the problems as the error.
func Load(file string, lookup func(string) (string, bool)) (*Config, error) {
	c := Defaults()
	if file == "" {
		file, _ = lookup(EnvConfigFile)
	}
	var err error
	if file != "" {
		err = c.LoadFile(file)
	}
	c.ApplyEnv(lookup)
	return c, err
}

// ApplyDev sets what development mode changes where no flag asked
// otherwise: one worker, which keeps the output in the order of the
// input; no decision history and no HTTP endpoints unless set (a
// listen_address or decision_store of the file asks too).
func (c *Config) ApplyDev() {
	if !c.Dev {
		return
	}
	if _, flag := c.src.origin["decision_store"]; !flag && c.DecisionStore == DefaultDecisionStore {
		c.DecisionStore = ""
	}
	if _, flag := c.src.origin["workers"]; !flag {
		c.Workers = 1
	}
	if _, flag := c.src.origin["listen_address"]; !flag && c.ListenAddress == DefaultListenAddress {
		c.ListenAddress = ""
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

// LoadBytes reads YAML data named name over c. Every problem names the
// file, the line and the key, in the words of the setting, never a Go
// type: the error is Problems wrapped with "config: ".
func (c *Config) LoadBytes(name string, data []byte) error {
	c.src.file, c.src.lines = name, map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			_, msg, _ = strings.Cut(msg, ": ")
		}
		// yaml.v3 gives the line where the construct began; v4 keeps the
		// problem's own mark.
		var n yamlv4.Node
		var le *yamlv4.LoadError
		if errors.As(yamlv4.Unmarshal(data, &n), &le) && le.Mark.Line > 0 {
			line = le.Mark.Line
		}
		return fmt.Errorf("config: %w", Problems{{Position: position.Position{File: name, Line: line}, Msg: "not valid YAML: " + msg}})
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %w", Problems{{Position: position.Position{File: name, Line: root.Line}, Msg: "the file must be a mapping of settings (key: value)"}})
	}
	fields := c.fields()
	var probs Problems
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		p := Problem{Position: position.Position{File: name, Line: k.Line}, Key: k.Value}
		f, ok := fields[k.Value]
		if !ok {
			p.Msg = "unknown key"
			if near := nearest(k.Value, fields); near != "" {
				p.Msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			probs = append(probs, p)
			continue
		}
		if _, dup := c.src.lines[k.Value]; dup {
			p.Msg = fmt.Sprintf("set twice (also on line %d)", c.src.lines[k.Value])
			probs = append(probs, p)
			continue
		}
		c.src.lines[k.Value] = k.Line
		var err error
		if f.Type() == inputsType {
			var ins Inputs
			if ins, err = decodeInputs(k.Value, v); err == nil {
				f.Set(reflect.ValueOf(ins))
			}
		} else {
			err = decodeValue(v, f)
		}
		if err != nil {
			p.Line, p.Msg = v.Line, err.Error()
			var le *lineError
			if errors.As(err, &le) {
				p.Line = le.line
			}
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("config: %w", probs)
	}
	return nil
}

// fields maps each configuration key to its field in c.
func (c *Config) fields() map[string]reflect.Value {
	out := map[string]reflect.Value{}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); key != "" && key != "-" {
			out[key] = v.Field(i)
		}
	}
	return out
}

var (
	durationType = reflect.TypeFor[Duration]()
	inputsType   = reflect.TypeFor[Inputs]()
)

// decodeValue sets field from n, saying what the setting wants when n
// does not give it.
func decodeValue(n *yaml.Node, field reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if field.Type() == durationType {
		var d Duration
		if err := d.UnmarshalYAML(n); err != nil {
			return err
		}
		field.Set(reflect.ValueOf(d))
		return nil
	}
	want := map[reflect.Kind]string{
		reflect.Bool:   "true or false",
		reflect.Int:    "a whole number",
		reflect.String: "a text value",
		reflect.Slice:  "a list of text values",
	}[field.Kind()]
	if field.Kind() == reflect.Slice && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		// One value where a list is wanted is a list of one.
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}}
	}
	if field.Kind() != reflect.Slice && n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want %s, not a %s", want, kindName(n))
	}
	ptr := reflect.New(field.Type())
	if err := n.Decode(ptr.Interface()); err != nil {
		if n.Kind == yaml.ScalarNode {
			return fmt.Errorf("want %s, not %q", want, n.Value)
		}
		return fmt.Errorf("want %s", want)
	}
	field.Set(ptr.Elem())
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// nearest is the known key closest to key, when it is a likely typo.
func nearest(key string, fields map[string]reflect.Value) string {
	best, bestD := "", 3
	for k := range fields {
		if d := levenshtein.ComputeDistance(key, k); d < bestD || d == bestD && best != "" && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// Problem is one thing wrong with a configuration, at the key (and the
// line of the file, when the file set it) it is about.
type Problem struct {
	position.Position
	Key string
	Msg string
}

// MarshalJSON leaves out what is not known: a problem of a setting that
// the environment or a flag gave has no file.
func (p Problem) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// The document's encoder decides about escaping, not this one.
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		File string `json:"file,omitempty"`
		Line int    `json:"line,omitempty"`
		Col  int    `json:"col,omitempty"`
		Key  string `json:"key,omitempty"`
		Msg  string `json:"message"`
	}{p.File, p.Line, p.Col, p.Key, p.Msg})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0 && p.Col > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Col)
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// KeyProblem is a Problem about key, placed as Check places its own: at
// the key's line, or naming the flag or variable that set it.
func (c *Config) KeyProblem(key, format string, args ...any) Problem {
	return c.problem(key, format, args...)
}

// problem is a Problem about key, at its line when the file set it, or
// naming the environment variable or flag that set it.
func (c *Config) problem(key, format string, args ...any) Problem {
	p := Problem{Key: key, Msg: fmt.Sprintf(format, args...)}
	if origin, ok := c.src.origin[key]; ok {
		p.Key = fmt.Sprintf("%s (from %s)", key, origin)
	} else if line, ok := c.src.lines[key]; ok {
		p.File, p.Line = c.src.file, line
	}
	return p
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
		c.src.setFrom("dry_run", EnvDryRun)
	}
	if v, ok := lookup(EnvDev); ok {
		c.Dev = truthy(v)
		c.src.setFrom("dev", EnvDev)
	}
	if v, ok := lookup(EnvUseStomp); ok && truthy(v) {
		c.MessagingBackend = BackendRhmsg
		c.src.setFrom("messaging_backend", EnvUseStomp)
	}
	if v, ok := lookup(EnvStompURI); ok && v != "" {
		c.RhmsgBrokers = splitList(v)
		c.src.setFrom("rhmsg_brokers", EnvStompURI)
	}
	if v, ok := lookup(EnvStompCrt); ok && v != "" {
		c.RhmsgCertificate = v
		c.src.setFrom("rhmsg_certificate", EnvStompCrt)
	}
	if v, ok := lookup(EnvStompKey); ok && v != "" {
		c.RhmsgPrivateKey = v
		c.src.setFrom("rhmsg_private_key", EnvStompKey)
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
	if probs := c.problems(); len(probs) > 0 {
		return fmt.Errorf("config: %w", probs)
	}
	return nil
}

func (c *Config) problems() Problems {
	var probs Problems
	bad := func(key, format string, args ...any) {
		probs = append(probs, c.problem(key, format, args...))
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
	for key, v := range map[string]int64{"max_rules_file_size": c.MaxRulesFileSize, "max_rules": int64(c.MaxRules),
		"max_pattern_length": int64(c.MaxPatternLength), "max_modulemd_size": int64(c.MaxModulemdSize)} {
		if v < 0 {
			bad(key, "must not be negative (0 takes the default)")
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
	// The backend is checked in development mode too: a configuration
	// that works with --dev must not fail when it goes live.
	c.validateBus(bad)
	if !c.Dev {
		c.checkInputs(func(p Problem) { probs = append(probs, p) })
	}
	if c.Workers < 1 {
		bad("workers", "must be at least 1")
	}
	if c.MaxReactionHops < 1 {
		bad("max_reaction_hops", "must be at least 1: reactions to the service's own events are always bounded")
	}
	if c.RetryAttempts < 0 {
		bad("retry_attempts", "must not be negative")
	}
	if c.RetryMinBackoff.D() <= 0 {
		bad("retry_min_backoff", "must be positive")
	}
	if c.RetryMaxBackoff.D() < c.RetryMinBackoff.D() {
		bad("retry_max_backoff", "must not be below retry_min_backoff")
	}
	if c.RetryGiveUpAfter.D() < 0 {
		bad("retry_give_up_after", "must not be negative (0: never give up)")
	}
	if c.RetryGiveUpAfter.D() > 0 && !c.Dev && !c.DryRun && c.ParkingQueue == "" && c.ParkingRoutingKey == "" {
		bad("retry_give_up_after", "needs parking_queue or parking_routing_key: an event given up on goes there")
	}
	if c.TaskPollInterval.D() <= 0 {
		bad("koji_task_poll_interval", "must be positive")
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
	return probs
}

func (c *Config) validateBus(bad func(key, format string, args ...any)) {
	known := c.MessagingBackend == BackendRhmsg || c.MessagingBackend == BackendFedoraMessaging || c.MessagingBackend == BackendFedmsg
	if c.Dev && known {
		// Development mode reads events from a file: no broker settings
		// are used.
		return
	}
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
		amqp10, stomp := 0, 0
		for _, u := range c.RhmsgBrokers {
			for _, one := range splitList(u) {
				if isAMQP10URI(one) {
					amqp10++
				} else {
					stomp++
				}
			}
		}
		if amqp10 > 0 && stomp > 0 {
			bad("rhmsg_brokers", "mixes AMQP 1.0 (amqp://, amqps://) and STOMP brokers: list one kind")
		}
		if amqp10 == 0 && c.RhmsgQueueAddressPrefix != nil {
			bad("rhmsg_queue_address_prefix", "only used with AMQP 1.0 brokers (amqps://)")
		}
		if amqp10 == 0 && c.RhmsgTopicAddressPrefix != nil {
			bad("rhmsg_topic_address_prefix", "only used with AMQP 1.0 brokers (amqps://)")
		}
	case BackendFedoraMessaging:
		if c.AMQPURL != "" {
			if u, err := url.Parse(c.AMQPURL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
				bad("amqp_url", "%q: want amqp:// or amqps://", c.AMQPURL)
			}
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

// RhmsgAMQP10 reports whether the rhmsg brokers speak AMQP 1.0 (amqp://
// or amqps:// URIs, as the newest reference's rhmsg_brokers) rather than
// STOMP (stomp://, stomp+ssl://, ssl:// or host:port).
func (c *Config) RhmsgAMQP10() bool {
	for _, u := range c.RhmsgBrokers {
		for _, one := range splitList(u) {
			if isAMQP10URI(one) {
				return true
			}
		}
	}
	return false
}

func isAMQP10URI(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "amqp", "amqps", "amqp+ssl":
		return true
	}
	return false
}

func checkHTTPURL(bad func(key, format string, args ...any), key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key, "%q: want an http:// or https:// URL", raw)
	}
}
