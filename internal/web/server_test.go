package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/web"
	"github.com/fedora-modularity/mts/policy"
)

var update = flag.Bool("update", false, "rewrite the expected API answers in testdata/api")

// apiFixture is a store with one decision per build, made by the broken
// rules at fixed times, and the API over it.
func apiFixture(t *testing.T, token string) (*history.Store, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	c := historytest.NewClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now})
	for i, b := range historytest.Builds {
		c.Add(time.Minute)
		if err := s.Record(ctx, historytest.Decision(t, rs, b.ID, b.File, fmt.Sprintf("2026-msg-%d", i), int64(1000+10*i))); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	(&web.Server{Store: s, Rules: rules, Token: token}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func TestAPIShapes(t *testing.T) {
	s, srv := apiFixture(t, "")
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"decisions", "/api/v1/decisions", 200},
		{"decisions_by_build", "/api/v1/decisions?build=nodejs:12&outcome=unmatched,error&since=2026-11-30T08:01:30Z", 200},
		{"decisions_by_rule", "/api/v1/decisions?rule=Fedora+modules&limit=5", 200},
		{"decision", "/api/v1/decisions/2", 200},
		{"decision_matched", "/api/v1/decisions/1", 200},
		{"decision_missing", "/api/v1/decisions/99", 404},
		{"decision_bad_id", "/api/v1/decisions/x", 400},
		{"bad_limit", "/api/v1/decisions?limit=0", 400},
		{"bad_since", "/api/v1/decisions?since=yesterday", 400},
		{"rules", "/api/v1/rules", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got := bytes.ReplaceAll(body, []byte(s.Path()), []byte("$STORE"))
			golden := filepath.Join("testdata", "api", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", tc.path, golden, got)
			}
		})
	}
}

func TestAPIToken(t *testing.T) {
	_, srv := apiFixture(t, "t0ken")
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic dDBrZW4=", http.StatusUnauthorized},
		{"Bearer t0ken", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/rules", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, resp.StatusCode, tc.status)
		}
	}
}

// TestAPIKojiDecision: the API lists a decision on one of Koji's events
// with its kind, NVR, the event's tag and the untag, found by NVR.
func TestAPIKojiDecision(t *testing.T) {
	s, srv := apiFixture(t, "")
	kev := build.KojiEvent{Kind: build.KindTag, Tag: "f40-updates-candidate", User: "bodhi",
		Build: build.KojiBuild{ID: 2412345, Name: "bash", Version: "5.2.26", Release: "3.fc40", State: 1, Types: map[string]any{"rpm": nil}, Complete: true}}
	kd := decision.ForKoji(kev, policy.Decision{Outcome: policy.Matched, Rule: &policy.Rule{Spec: policy.Spec{ID: "Candidate to signing", Index: 1}},
		Destinations: []string{"f40-signing-pending"}}, []string{"f40-updates-candidate"})
	if err := s.Record(context.Background(), decision.Record{EventID: 2412345, MessageID: "msg-koji", Revision: "r1", Decision: kd}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/api/v1/decisions?build=bash-5.2.26-3.fc40")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Decisions []struct {
			NVR   string   `json:"nvr"`
			State string   `json:"state"`
			Kind  string   `json:"kind"`
			Untag []string `json:"untag"`
			Koji  struct {
				Tag  string `json:"tag"`
				User string `json:"user"`
			} `json:"koji"`
			Actions []struct {
				Op, Tag, From string
			} `json:"actions"`
		} `json:"decisions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Decisions) != 1 {
		t.Fatalf("%d decisions for bash-5.2.26-3.fc40", len(got.Decisions))
	}
	d := got.Decisions[0]
	if d.NVR != "bash-5.2.26-3.fc40" || d.Kind != "build.tag" || d.State != "build.tag" || d.Koji.Tag != "f40-updates-candidate" ||
		d.Koji.User != "bodhi" || len(d.Untag) != 1 || d.Untag[0] != "f40-updates-candidate" ||
		len(d.Actions) != 1 || d.Actions[0].Op != "move" || d.Actions[0].From != "f40-updates-candidate" {
		t.Errorf("Koji decision in the API: %+v", d)
	}
}
