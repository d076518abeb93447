package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestKojiCommandRetries: mts koji commands retry as the profile says,
// with a line per retry, and give up at once, saying why, on what cannot
// get better.
func TestKojiCommandRetries(t *testing.T) {
	hub := kojitest.New(t, kojitest.WithWholeHostClientCert())
	stranger := kojitest.NewCA(t, "another CA").ClientCert("mts", kojitest.ClientCertOpts{})
	profile := func(server, cert string) string {
		conf := filepath.Join(t.TempDir(), "koji.conf")
		body := fmt.Sprintf("[hub]\nserver = %s\nauthtype = ssl\ncert = %s\nserverca = %s\nmax_retries = 2\nretry_interval = 0.05\ntimeout = 10\n",
			server, cert, hub.CAFile())
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return conf
	}
	tests := []struct {
		name    string
		conf    string
		offline bool
		retries int
		errText string
	}{
		{"unresolvable host", profile("https://mts-no-such-host.invalid/kojihub", hub.ClientCertFile("mts")), false, 0, "host mts-no-such-host.invalid does not resolve"},
		{"refused certificate", profile(hub.URL(), stranger), false, 0, "certificate was refused"},
		{"hub offline", profile(hub.URL(), hub.ClientCertFile("mts")), true, 2, "ServerOffline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub.SetOffline(tt.offline)
			var out, errOut bytes.Buffer
			// Within 5 s, or the context's deadline is what ends it: the
			// reason asked for is then missing from stderr.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			code := run(ctx, []string{"mts", "koji", "whoami", "--profile", "hub", "--config", tt.conf}, nil, &out, &errOut)
			if code != 1 || ctx.Err() != nil || strings.Contains(errOut.String(), context.DeadlineExceeded.Error()) {
				t.Fatalf("exit %d (context: %v), want 1 before the 5 s deadline\nstderr: %s", code, ctx.Err(), errOut.String())
			}
			if n := strings.Count(errOut.String(), "trying again"); n != tt.retries {
				t.Errorf("%d retry lines, want %d:\n%s", n, tt.retries, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.errText) {
				t.Errorf("stderr lacks %q:\n%s", tt.errText, errOut.String())
			}
		})
	}
}
