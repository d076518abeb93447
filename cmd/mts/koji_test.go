package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestKojiCommands runs mts koji whoami and check against the stand-in hub
// over HTTPS with an SSL login, as an operator would before going live.
func TestKojiCommands(t *testing.T) {
	hub := kojitest.New(t, kojitest.WithWholeHostClientCert())
	hub.AddUser("mts")
	for _, tag := range []string{"f31-ok", "f31-locked", "f31-admin-only"} {
		hub.AddTag(tag)
	}
	hub.LockTag("f31-locked", true)
	hub.SetTagPerm("f31-admin-only", "admin")
	conf := filepath.Join(t.TempDir(), "koji.conf")
	profile := fmt.Sprintf("[hub]\nserver = %s\nauthtype = ssl\ncert = %s\nserverca = %s\n",
		hub.URL(), hub.ClientCertFile("mts"), hub.CAFile())
	if err := os.WriteFile(conf, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"whoami", []string{"whoami"}, 0, []string{"user: mts\n", "auth: ssl\n"}},
		{"check good tag", []string{"check", "--tags", "f31-ok"}, 0, []string{"logged in as mts (ssl)"}},
		{"check bad tags", []string{"check", "--tags", "f31-ok,f31-locked,f31-admin-only,f31-missing"}, 1, []string{
			"PROBLEM f31-locked: tag is locked",
			`PROBLEM f31-admin-only: tagging needs permission "admin"`,
			"PROBLEM f31-missing: no such tag",
		}},
		{"whoami json", []string{"whoami", "-o", "json"}, 0, []string{`"user": "mts"`, `"auth": "ssl"`}},
		{"check json", []string{"check", "--tags", "f31-ok,f31-locked", "-o", "json"}, 1, []string{
			`"tag": "f31-ok",`, `"ok": true`, `"problems": [`, `"tag is locked"`,
		}},
		{"check without tags", []string{"check"}, 2, nil},
		{"unknown profile", []string{"whoami", "--profile", "nope"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"mts", "koji"}, tt.args...)
			if !slices.Contains(tt.args, "--profile") {
				args = append(args, "--profile", "hub")
			}
			args = append(args, "--config", conf)
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, nil, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			for _, want := range tt.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			for _, key := range hub.SessionKeys() {
				if strings.Contains(out.String()+errOut.String(), key) {
					t.Error("a session key was printed")
				}
			}
		})
	}
}
