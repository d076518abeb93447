package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// TestCheckConfigConnect runs serve --check-config --connect against the
// machine's RabbitMQ (fedora-messaging) and an MBS stand-in: a working
// configuration passes, a wrong broker password is a problem naming
// amqp_url, and nothing is consumed or declared either way.
func TestCheckConfigConnect(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
	}
	c.Close()
	var mu sync.Mutex
	var asked []string
	mbs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items": [], "meta": {}}`))
	}))
	defer mbs.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rules := write("rules.yaml", "- id: a\n  type: module\n  destinations: t\n")
	base := "rules: [" + rules + "]\nmessaging_backend: fedora-messaging\ndry_run: true\nmbs_api_url: " + mbs.URL + "/module-build-service/1/\n"
	for _, tt := range []struct {
		name, url string
		code      int
		out       string
	}{
		{"good", "amqp://guest:guest@127.0.0.1:5672/%2F", 0, "configuration ok (checked, and the broker and MBS answered; backend fedora-messaging)"},
		{"wrong password", "amqp://guest:wrong@127.0.0.1:5672/%2F", 1, "amqp_url: connecting: amqp: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			conf := write(tt.name+".yaml", base+"amqp_url: "+tt.url+"\n")
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"mts", "serve", "--check-config", "--connect", "--config", conf}, nil, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.out) {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errOut.String())
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 1 || asked[0] != "/module-build-service/1/module-builds/" {
				t.Errorf("MBS asked %v, want one request for module-builds", asked)
			}
		})
	}
}
