package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadFileKeepsReferenceKeys(t *testing.T) {
	c := Defaults()
	if err := c.LoadFile("testdata/full.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.MessagingBackend != BackendRhmsg || len(c.RhmsgBrokers) != 2 || c.KojiProfileName() != "stg" {
		t.Errorf("got backend %q brokers %v profile %q", c.MessagingBackend, c.RhmsgBrokers, c.KojiProfileName())
	}
	if c.RequestsTimeout.D() != 30*time.Second || c.ShutdownTimeout.D() != time.Minute {
		t.Errorf("durations: %v %v", c.RequestsTimeout.D(), c.ShutdownTimeout.D())
	}
	if len(c.BuildStateMsgFilter) != 1 || c.BuildStateMsgFilter[0] != "ready" {
		t.Errorf("build_state_msg_filter = %v, want the file's list replacing the default", c.BuildStateMsgFilter)
	}
	if !c.CheckTagged || c.Workers != 8 {
		t.Errorf("check_tagged %v workers %d", c.CheckTagged, c.Workers)
	}
}

func TestPrecedence(t *testing.T) {
	c := Defaults()
	if err := c.LoadBytes("f.yaml", []byte("dry_run: false\nrhmsg_brokers: [a:1]\nmessaging_backend: fedora-messaging\n")); err != nil {
		t.Fatal(err)
	}
	c.ApplyEnv(env(map[string]string{
		EnvDryRun: "1", EnvUseStomp: "yes", EnvStompURI: "b:1, c:2", EnvStompCrt: "crt", EnvStompKey: "key",
	}))
	if !c.DryRun || c.MessagingBackend != BackendRhmsg || strings.Join(c.RhmsgBrokers, " ") != "b:1 c:2" ||
		c.RhmsgCertificate != "crt" || c.RhmsgPrivateKey != "key" {
		t.Errorf("environment did not win over the file: %+v", c)
	}
	// Flags are applied last by the command, over the environment.
	c.DryRun = false
	c.ApplyEnv(env(map[string]string{EnvDryRun: "false"}))
	if c.DryRun {
		t.Error("MTS_DRY_RUN=false turned dry run on")
	}
	c.ApplyEnv(env(map[string]string{EnvDev: ""}))
	if c.Dev || c.KojiProfileName() != "koji" {
		t.Errorf("dev %v profile %q", c.Dev, c.KojiProfileName())
	}
	c.ApplyEnv(env(map[string]string{EnvDev: "1"}))
	if c.KojiProfileName() != "stg" {
		t.Errorf("dev profile %q, want stg", c.KojiProfileName())
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "rule_file_url: x\n", "mts.yaml:1: rule_file_url: unknown key (did you mean rules_file_url?)"},
		{"bad type", "rules: [a]\nworkers: many\n", `mts.yaml:2: workers: want a whole number, not "many"`},
		{"bad bool", "dry_run: maybe\n", `mts.yaml:1: dry_run: want true or false, not "maybe"`},
		{"list for text", "koji_profile: [a, b]\n", "mts.yaml:1: koji_profile: want a text value, not a list"},
		{"twice", "workers: 1\nworkers: 2\n", "mts.yaml:2: workers: set twice (also on line 1)"},
		{"not a mapping", "- a\n", "mts.yaml:1: the file must be a mapping"},
		{"syntax", "a: [b\n", "mts.yaml:2: not valid YAML"},
		{"validate names the line", "rules: [a]\n\nworkers: 0\n", "mts.yaml:3: workers: must be at least 1"},
		{"unbounded reactions", "rules: [a]\nmax_reaction_hops: 0\n", "mts.yaml:2: max_reaction_hops: must be at least 1"},
		{"kafka in dev", "rules: [a]\ndev: true\nmessaging_backend: kafka\n", `mts.yaml:3: messaging_backend: "kafka"`},
		{"no rules", "", "rules: no rules"},
		{"both rule sources", "rules: [a]\nrules_file_url: http://x/\n", "rules_file_url: set either"},
		{"bad url", "rules_file_url: ftp://x/\n", "rules_file_url: \"ftp://x/\""},
		{"bad state", "rules: [a]\nbuild_state_msg_filter: [ready, finished]\n", `build_state_msg_filter: unknown build state "finished"`},
		{"bad backend", "rules: [a]\nmessaging_backend: kafka\n", `messaging_backend: "kafka"`},
		{"no brokers", "rules: [a]\nmessaging_backend: rhmsg\n", "rhmsg_brokers: required"},
		{"half cert", "rules: [a]\nmessaging_backend: rhmsg\nrhmsg_brokers: [a:1]\nrhmsg_certificate: c\n", "rhmsg_certificate: rhmsg_certificate and rhmsg_private_key"},
		{"no fedmsg endpoints", "rules: [a]\nmessaging_backend: fedmsg\n", "fedmsg_endpoints: required"},
		{"no fedmsg publish endpoint", "rules: [a]\nmessaging_backend: fedmsg\nfedmsg_endpoints: [tcp://127.0.0.1:9940]\n", "fedmsg_publish_endpoint: required"},
		{"workers", "rules: [a]\nworkers: 0\n", "workers: must be at least 1"},
		{"timeout", "rules: [a]\nrequests_timeout: -1\n", "requests_timeout: must be positive"},
		{"duration", "rules: [a]\nshutdown_timeout: soon\n", "want a duration"},
		{"source", "rules: [a]\nmodulemd_source: pdc\n", "modulemd_source"},
		{"keytab", "rules: [a]\nkeytab: /k\n", "keytab: keytab and principal"},
		{"log level", "rules: [a]\nlog_level: LOUD\n", "log_level"},
		{"retention", "rules: [a]\ndecision_retention: 0\n", "decision_retention: must be positive"},
		{"retention days", "rules: [a]\ndecision_retention: 1.5d\n", "want a duration"},
		{"store size", "rules: [a]\ndecision_store_max_size_mb: -1\n", "decision_store_max_size_mb: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			err := c.LoadBytes("mts.yaml", []byte(tt.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecisionStoreKeys(t *testing.T) {
	c := Defaults()
	if c.DecisionStore != DefaultDecisionStore || c.DecisionRetention.D() != 90*24*time.Hour || c.DecisionStoreMaxSizeMB != 1024 {
		t.Fatalf("defaults: %q %v %d", c.DecisionStore, c.DecisionRetention.D(), c.DecisionStoreMaxSizeMB)
	}
	yaml := "rules: [a]\ndecision_store: /srv/mts/d.db\ndecision_retention: 30d\ndecision_store_max_size_mb: 0\napi_token_file: /etc/mts/token\n"
	if err := c.LoadBytes("f.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.DecisionStore != "/srv/mts/d.db" || c.DecisionRetention.D() != 30*24*time.Hour || c.DecisionStoreMaxSizeMB != 0 || c.APITokenFile != "/etc/mts/token" {
		t.Errorf("got %+v", c)
	}
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "0d": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-1d", "week"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) took it", in)
		}
	}
}

func TestDevNeedsNoBus(t *testing.T) {
	c := Defaults()
	c.Rules = []string{"rules"}
	c.Dev = true
	c.MessagingBackend = BackendRhmsg
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFedmsgDryRunNeedsNoPublishEndpoint(t *testing.T) {
	c := Defaults()
	if err := c.LoadBytes("f.yaml", []byte("rules: [a]\nmessaging_backend: fedmsg\nfedmsg_endpoints: [tcp://127.0.0.1:9940]\ndry_run: true\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzLoadBytes(f *testing.F) {
	f.Add([]byte("workers: 3\nrequests_timeout: 1.5\n"))
	f.Add([]byte("rhmsg_brokers: {a: b}\n"))
	f.Add([]byte("shutdown_timeout: [1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Defaults()
		if err := c.LoadBytes("fuzz.yaml", data); err == nil {
			_ = c.Validate()
		}
	})
}
