package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckBrokerURI(t *testing.T) {
	for _, tt := range []struct{ uri, want string }{
		{"broker-01.example.com:61612", ""},
		{"stomp+ssl://broker-01.example.com:61612", ""},
		{"ssl://broker:61612?wireFormat.maxInactivityDuration=0", ""},
		{"stomp://[::1]:61613", ""},
		{"broker-01.example.com", "has no port"},
		{"amqps://broker:5671", ""},
		{"amqp://broker", ""},
		{"amqps://", "want amqps://HOST[:PORT]"},
		{"http://broker:80", `unknown scheme "http"`},
		{"stomp://:61613", "want HOST:PORT"},
	} {
		err := CheckBrokerURI(tt.uri)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckBrokerURI(%q) = %v, want %q", tt.uri, err, tt.want)
		}
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	yml := "rules: [" + rules + "]\nmessaging_backend: rhmsg\nrhmsg_brokers: [b:1]\nrhmsg_certificate: " + cert + "\nrhmsg_private_key: " + filepath.Join(dir, "none.key") + "\ndry_run: true\n"
	if err := c.LoadBytes("c.yaml", []byte(yml)); err != nil {
		t.Fatal(err)
	}
	probs := c.Check(CheckOptions{})
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Error())
	}
	got := strings.Join(keys, "\n")
	if !strings.Contains(got, "c.yaml:5: rhmsg_private_key: "+filepath.Join(dir, "none.key")+" does not exist") {
		t.Errorf("problems:\n%s", got)
	}
	if os.Getuid() != 0 && !strings.Contains(got, "c.yaml:4: rhmsg_certificate: "+cert+" is not readable") {
		t.Errorf("unreadable certificate not reported:\n%s", got)
	}
}

func TestProblemsNameTheEnvironmentVariable(t *testing.T) {
	c := Defaults()
	if err := c.LoadBytes("c.yaml", []byte("rules: [a]\nrhmsg_brokers: [ok:1]\n")); err != nil {
		t.Fatal(err)
	}
	c.ApplyEnv(func(k string) (string, bool) {
		return map[string]string{EnvUseStomp: "1", EnvStompURI: "broker.example.com"}[k], k == EnvUseStomp || k == EnvStompURI
	})
	got := c.Check(CheckOptions{}).Error()
	if !strings.Contains(got, `rhmsg_brokers (from MTS_STOMP_URI): "broker.example.com" has no port`) {
		t.Errorf("problems:\n%s", got)
	}
}
