package koji_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestSessionPool runs concurrent tagBuilds through a pool of sessions on
// a hub that checks call numbers: each session is its own login, and its
// call numbers reach the hub in order, without gaps.
func TestSessionPool(t *testing.T) {
	tests := []struct{ sessions, calls, wantSessions int }{
		{sessions: 1, calls: 12, wantSessions: 1},
		{sessions: 3, calls: 30, wantSessions: 3},
		{sessions: 4, calls: 2, wantSessions: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("sessions=%d,calls=%d", tt.sessions, tt.calls), func(t *testing.T) {
			hub := kojitest.New(t, kojitest.WithStrictCallnum())
			hub.AddTag(tagName)
			for i := range tt.calls {
				hub.AddPackage(tagName, "pkg"+strconv.Itoa(i))
				hub.AddBuild(kojitest.Build{NVR: "pkg" + strconv.Itoa(i) + "-1-1"})
			}
			c := newClient(t, sslConfig(hub, "mts"), koji.WithSessions(tt.sessions))
			ctx := ctxT(t)
			var wg sync.WaitGroup
			for i := range tt.calls {
				wg.Go(func() {
					if _, err := c.TagBuild(ctx, tagName, "pkg"+strconv.Itoa(i)+"-1-1"); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if err := hub.WaitTasks(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(hub.Tagged(tagName)); got != tt.calls {
				t.Errorf("%d tagged, want %d", got, tt.calls)
			}
			if got := hub.Sessions(); got != tt.wantSessions {
				t.Errorf("%d sessions opened, want %d", got, tt.wantSessions)
			}
			perSession := map[int64][]int64{}
			for _, call := range hub.Calls() {
				if call.Method == "tagBuild" {
					perSession[call.SessionID] = append(perSession[call.SessionID], call.Callnum)
				}
			}
			for id, nums := range perSession {
				for i, n := range nums {
					if n != int64(i) {
						t.Fatalf("session %d: call numbers %v, want 0, 1, 2, ...", id, nums)
					}
				}
			}
		})
	}
}

// TestSessionPoolReloginAndLogout expires the sessions of a pool: each
// logs in again by itself, and Logout ends every session.
func TestSessionPoolReloginAndLogout(t *testing.T) {
	hub := newHub(t, kojitest.WithStrictCallnum())
	var logs bytes.Buffer
	c := newClient(t, sslConfig(hub, "mts"), koji.WithSessions(3),
		koji.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx := ctxT(t)
	user := func() {
		t.Helper()
		if u, err := c.GetLoggedInUser(ctx); err != nil || u.Name != "mts" {
			t.Fatalf("getLoggedInUser = %+v, %v", u, err)
		}
	}
	// Idle slots are taken in turn, so three calls use all three.
	for range 3 {
		user()
	}
	if n := hub.CallCount("sslLogin"); n != 3 {
		t.Fatalf("%d logins, want 3", n)
	}
	keys := hub.SessionKeys()
	hub.ExpireSessions()
	for range 3 {
		user()
	}
	if n := hub.CallCount("sslLogin"); n != 6 {
		t.Fatalf("%d logins after expiry, want 6 (one per session)", n)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if c.LoggedIn() {
		t.Error("still logged in after Logout")
	}
	if n := hub.CallCount("logout"); n != 3 {
		t.Errorf("%d logouts, want 3", n)
	}
	if open := len(hub.SessionKeys()); open != len(keys) {
		// Only the three expired sessions, which the hub keeps, remain.
		t.Errorf("%d sessions open after Logout, want the %d expired ones", open, len(keys))
	}
	for _, k := range append(keys, hub.SessionKeys()...) {
		if strings.Contains(logs.String(), k) {
			t.Fatal("session key leaked into the log")
		}
	}
}

// TestLogoutWaitsForRunningCalls ends the sessions only once the call
// holding one of them has finished.
func TestLogoutWaitsForRunningCalls(t *testing.T) {
	hub := newHub(t)
	hub.Delay("tagBuild", 300*time.Millisecond)
	c := newClient(t, sslConfig(hub, "mts"), koji.WithSessions(2))
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	tagged := make(chan error, 1)
	go func() {
		_, err := c.TagBuild(ctx, tagName, nvr)
		tagged <- err
	}()
	for hub.Sessions() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-tagged; err != nil {
		t.Fatalf("tagBuild during Logout: %v", err)
	}
	// The hub records a delayed call once it has run: the session's
	// logout must come after its tagBuild.
	var order []string
	tagSession := int64(-1)
	for _, call := range hub.Calls() {
		switch call.Method {
		case "tagBuild":
			tagSession = call.SessionID
			order = append(order, "tagBuild")
		case "logout":
			if call.SessionID == tagSession {
				order = append(order, "logout")
			}
		}
	}
	if strings.Join(order, ",") != "tagBuild,logout" {
		t.Errorf("hub saw %v on the tagBuild's session, want tagBuild then logout", order)
	}
	if n := hub.CallCount("logout"); n != 2 {
		t.Errorf("%d logouts, want 2", n)
	}
}

func TestWithSessionsRange(t *testing.T) {
	hub := newHub(t)
	for _, n := range []int{-1, koji.MaxSessions + 1} {
		_, err := koji.New(sslConfig(hub, "mts"), koji.WithSessions(n))
		var ce *koji.ConfigError
		if !errors.As(err, &ce) || ce.Key != "sessions" {
			t.Errorf("WithSessions(%d): %v, want a ConfigError on sessions", n, err)
		}
	}
	for _, n := range []int{0, 1, koji.MaxSessions} {
		if _, err := koji.New(sslConfig(hub, "mts"), koji.WithSessions(n)); err != nil {
			t.Errorf("WithSessions(%d): %v", n, err)
		}
	}
}

// BenchmarkTagBuildConcurrent runs tagBuild from 16 goroutines, as the
// service's workers do, through pools of sessions of different sizes.
func BenchmarkTagBuildConcurrent(b *testing.B) {
	for _, sessions := range []int{1, 4} {
		b.Run("sessions="+strconv.Itoa(sessions), func(b *testing.B) {
			hub := kojitest.New(b, kojitest.WithTaskDelay(time.Hour))
			hub.AddTag(tagName)
			hub.AddPackage(tagName, "nodejs")
			hub.AddBuild(kojitest.Build{NVR: nvr})
			c := newClient(b, &koji.Config{
				Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile("mts"),
				Timeout: 10 * time.Second,
			}, koji.WithSessions(sessions))
			ctx := context.Background()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
