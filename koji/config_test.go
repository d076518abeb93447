package koji_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
)

func fixtureOpts(t *testing.T) koji.LoadOptions {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("testdata", "config"))
	if err != nil {
		t.Fatal(err)
	}
	return koji.LoadOptions{
		SystemFile: filepath.Join(root, "etc", "koji.conf"),
		SystemDir:  filepath.Join(root, "etc", "koji.conf.d"),
		Home:       filepath.Join(root, "home"),
	}
}

func TestLoadConfigProfiles(t *testing.T) {
	opts := fixtureOpts(t)
	home := opts.Home
	tests := []struct {
		profile string
		check   func(*testing.T, *koji.Config)
	}{
		{"koji", func(t *testing.T, c *koji.Config) {
			if c.Server != "https://koji.fedoraproject.org/kojihub" || c.TopURL != "https://kojipkgs.fedoraproject.org/" {
				t.Errorf("server/topurl = %q %q", c.Server, c.TopURL)
			}
			// ~/.koji/config overrides authtype from /etc/koji.conf.
			if c.AuthType != "ssl" || c.Cert != filepath.Join(home, ".koji", "client.pem") || c.ServerCA != "/etc/pki/koji-ca.pem" {
				t.Errorf("auth = %q %q %q", c.AuthType, c.Cert, c.ServerCA)
			}
			if c.KrbRDNS || !c.AnonRetry || c.MaxRetries != 5 || c.RetryInterval != 2500*time.Millisecond || c.Timeout != 12*time.Hour {
				t.Errorf("krb_rdns=%v anon_retry=%v max_retries=%d retry_interval=%v timeout=%v", c.KrbRDNS, c.AnonRetry, c.MaxRetries, c.RetryInterval, c.Timeout)
			}
			if len(c.Files) != 3 {
				t.Errorf("files = %v", c.Files)
			}
		}},
		{"stg", func(t *testing.T, c *koji.Config) {
			if c.AuthType != "ssl" || c.Cert != filepath.Join(home, ".koji", "stg.pem") || c.Timeout != 30*time.Second || c.MaxRetries != 30 {
				t.Errorf("%+v", c)
			}
		}},
		{"mts", func(t *testing.T, c *koji.Config) {
			if c.AuthType != "kerberos" || c.Principal != "mts/tagger.example.com@EXAMPLE.COM" || c.Keytab != filepath.Join(home, "mts.keytab") {
				t.Errorf("%+v", c)
			}
			if !c.KrbRDNS || !c.UseFastUpload {
				t.Errorf("defaults lost: %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			c, err := koji.LoadConfig(tt.profile, opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Profile != tt.profile {
				t.Fatalf("profile = %q", c.Profile)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		profile string
		want    []string // all in the message
		key     string
	}{
		{"missing profile", write("a.conf", "[koji]\nserver = https://k/kojihub\n"), "other", []string{"no section [other]", "a.conf"}, ""},
		{"no server", write("b.conf", "[p]\nauthtype = ssl\ncert = /x.pem\n"), "p", []string{"b.conf", `"server"`}, "server"},
		{"ssl without cert", write("c.conf", "[p]\nserver = https://k/kojihub\nauthtype = ssl\n"), "p", []string{"c.conf", `"cert"`}, "cert"},
		{"keytab without principal", write("d.conf", "[p]\nserver = https://k/kojihub\nauthtype = kerberos\nkeytab = /k.keytab\n"), "p", []string{"d.conf", `"principal"`}, "principal"},
		{"bad boolean", write("e.conf", "[p]\nserver = https://k/kojihub\nno_ssl_verify = maybe\n"), "p", []string{"e.conf", "no_ssl_verify", "maybe"}, "no_ssl_verify"},
		{"bad number", write("f.conf", "[p]\nserver = https://k/kojihub\nmax_retries = lots\n"), "p", []string{"f.conf", "max_retries"}, "max_retries"},
		{"unknown authtype", write("g.conf", "[p]\nserver = https://k/kojihub\nauthtype = magic\n"), "p", []string{"g.conf", "authtype", "magic"}, "authtype"},
		{"not a URL", write("h.conf", "[p]\nserver = koji.example.com\n"), "p", []string{"h.conf", "not an http(s) URL"}, "server"},
		{"broken INI", write("i.conf", "[p\nserver = x\n"), "p", []string{"i.conf", "not a valid INI file"}, ""},
		{"explicit file missing", filepath.Join(dir, "nope.conf"), "p", []string{"nope.conf", "no such file"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := koji.LoadConfig(tt.profile, koji.LoadOptions{
				SystemFile: filepath.Join(dir, "none"), SystemDir: filepath.Join(dir, "none.d"), File: tt.file, Home: dir,
			})
			var ce *koji.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
			if ce.Key != tt.key {
				t.Errorf("key = %q, want %q", ce.Key, tt.key)
			}
		})
	}
}

// FuzzParseConfig loads arbitrary INI text as a profile: errors are fine,
// panics are not, and a profile that loads has a usable server URL.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"etc/koji.conf", "etc/koji.conf.d/stg.conf", "home/.koji/config"} {
		b, err := os.ReadFile(filepath.Join("testdata", "config", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "koji")
	}
	f.Add([]byte("[mts]\nserver=https://x/kojihub\nauthtype=ssl\ncert=~/c.pem\ntimeout=1e3\n"), "mts")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		c, err := koji.ParseConfig("fuzz.conf", data, profile, "/home/u")
		if err != nil {
			return
		}
		if !strings.HasPrefix(c.Server, "http") || c.MaxRetries < 0 || c.Timeout < 0 {
			t.Fatalf("accepted a bad profile: %+v", c)
		}
	})
}
