package koji_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const (
	tagName = "f40-modular-updates-candidate"
	nvr     = "nodejs-20-4020240501.abcd1234"
	develN  = "nodejs-devel-20-4020240501.abcd1234"
)

// newHub returns a hub with one tag, its package list and two builds.
func newHub(t *testing.T, opts ...kojitest.Option) *kojitest.Hub {
	t.Helper()
	hub := kojitest.New(t, opts...)
	hub.AddTag(tagName)
	hub.AddPackage(tagName, "nodejs")
	hub.AddPackage(tagName, "nodejs-devel")
	hub.AddBuild(kojitest.Build{NVR: nvr, Module: &kojitest.Module{
		Name: "nodejs", Stream: "20", Version: "4020240501", Context: "abcd1234",
		ModulemdStr: "document: modulemd\nversion: 2\n", MBSID: 4242,
	}})
	hub.AddBuild(kojitest.Build{NVR: develN})
	return hub
}

func sslConfig(hub *kojitest.Hub, cn string) *koji.Config {
	return &koji.Config{
		Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: hub.ClientCertFile(cn),
		Timeout: 10 * time.Second, MaxRetries: 3, RetryInterval: 20 * time.Millisecond,
	}
}

func newClient(t testing.TB, cfg *koji.Config, opts ...koji.Option) *koji.Client {
	t.Helper()
	c, err := koji.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTagBuildRunsTaskAndDuplicateFailsInTask(t *testing.T) {
	hub := newHub(t)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)

	id, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := hub.Tagged(tagName); len(got) != 1 || got[0] != nvr {
		t.Fatalf("tagged = %v, want [%s]", got, nvr)
	}
	info, err := c.GetTaskInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != koji.TaskClosed || !info.Done() || info.Method != "tagBuild" {
		t.Fatalf("task = %+v, want closed tagBuild", info)
	}

	// A build already in the tag still gets a task; the task fails.
	id2, err := c.TagBuild(ctx, tagName, nvr)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Fatalf("second task id %d equals the first", id2)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	info, err = c.GetTaskInfo(ctx, id2)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != koji.TaskFailed {
		t.Fatalf("duplicate task state = %d, want failed", info.State)
	}
	_, err = c.GetTaskResult(ctx, id2)
	var f *koji.Fault
	if !errors.As(err, &f) || f.Code != koji.CodeTagError || !strings.Contains(f.String, "already tagged") {
		t.Fatalf("task result error = %v, want TagError already tagged", err)
	}
	if !koji.IsTagError(err) || koji.Retryable(err) {
		t.Fatalf("IsTagError=%v Retryable=%v for %v", koji.IsTagError(err), koji.Retryable(err), err)
	}
}

func TestTagBuildFaults(t *testing.T) {
	incomplete := 0
	tests := []struct {
		name  string
		setup func(*kojitest.Hub)
		tag   string
		nvr   string
		code  int
		text  string
	}{
		{"unknown tag", nil, "nope", nvr, 1000, "No such tagInfo: 'nope'"},
		{"unknown build", nil, tagName, "x-1-1", 1000, "No such build: 'x-1-1'"},
		{"locked tag", func(h *kojitest.Hub) { h.LockTag(tagName, true) }, tagName, nvr, 1004, "tag " + tagName + " is locked"},
		{"package not in list", func(h *kojitest.Hub) { h.AddBuild(kojitest.Build{NVR: "perl-5-1"}) }, tagName, "perl-5-1", 1003, "package perl not in list"},
		{"package blocked", func(h *kojitest.Hub) { h.BlockPackage(tagName, "nodejs") }, tagName, nvr, 1003, "package nodejs blocked"},
		{"incomplete build", func(h *kojitest.Hub) {
			h.AddBuild(kojitest.Build{NVR: "nodejs-21-1", State: &incomplete})
		}, tagName, "nodejs-21-1", 1003, "not complete: state BUILDING"},
		{"permission", func(h *kojitest.Hub) { h.SetTagPerm(tagName, "fedora-modular") }, tagName, nvr, 1004, "requires permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newHub(t)
			if tt.setup != nil {
				tt.setup(hub)
			}
			c := newClient(t, sslConfig(hub, "mts"))
			_, err := c.TagBuild(ctxT(t), tt.tag, tt.nvr)
			var f *koji.Fault
			if !errors.As(err, &f) {
				t.Fatalf("err = %v, want *koji.Fault", err)
			}
			if f.Code != tt.code || !strings.Contains(f.String, tt.text) {
				t.Fatalf("fault = %d %q, want %d containing %q", f.Code, f.String, tt.code, tt.text)
			}
			if koji.Retryable(err) {
				t.Fatalf("Retryable(%v) = true", err)
			}
			if n := hub.CallCount("tagBuild"); n != 1 {
				t.Fatalf("tagBuild sent %d times, want 1 (no retry)", n)
			}
		})
	}
}

func TestCallNumbersAndSessionHeaders(t *testing.T) {
	hub := newHub(t, kojitest.WithStrictCallnum())
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.GetLoggedInUser(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
		t.Fatal(err)
	}
	var nums []int64
	var sid int64
	for _, call := range hub.Calls() {
		if call.Method == "sslLogin" {
			continue
		}
		if sid == 0 {
			sid = call.SessionID
		}
		if call.SessionID != sid || call.User != "mts" {
			t.Fatalf("call %+v not in session %d of mts", call, sid)
		}
		nums = append(nums, call.Callnum)
	}
	want := []int64{0, 1, 2, 3}
	if len(nums) != len(want) {
		t.Fatalf("callnums = %v, want %v", nums, want)
	}
	for i := range want {
		if nums[i] != want[i] {
			t.Fatalf("callnums = %v, want %v", nums, want)
		}
	}
}

func TestRetryAfterLostAnswerResendsSameCallnum(t *testing.T) {
	hub := newHub(t, kojitest.WithStrictCallnum())
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	hub.DropResponses("getLoggedInUser", 1)
	u, err := c.GetLoggedInUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "mts" {
		t.Fatalf("user = %+v", u)
	}
	var nums []int64
	for _, call := range hub.Calls() {
		if call.Method == "getLoggedInUser" {
			nums = append(nums, call.Callnum)
		}
	}
	if len(nums) != 2 || nums[0] != nums[1] {
		t.Fatalf("getLoggedInUser callnums = %v, want the same number twice", nums)
	}
}

// TestTagBuildLostAnswer: tagBuild is never sent twice by the client; a
// lost answer is a transport error for the caller, who looks at the hub
// (TagStates) before trying again.
func TestTagBuildLostAnswer(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
	c := newClient(t, sslConfig(hub, "mts"))
	hub.DropResponses("tagBuild", 1)
	ctx := ctxT(t)
	_, err := c.TagBuild(ctx, tagName, nvr)
	var te *koji.TransportError
	if !errors.As(err, &te) || !koji.Retryable(err) {
		t.Fatalf("err = %v, want a retryable transport error", err)
	}
	if n := len(hub.TagCalls()); n != 1 {
		t.Fatalf("%d tagBuild calls reached the hub, want 1", n)
	}
	states, err := c.TagStates(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}})
	if err != nil {
		t.Fatal(err)
	}
	if st := states[0]; st.Tagged || st.Task == nil || st.Task.ID != hub.TagCalls()[0].TaskID || !st.Task.Pending() {
		t.Fatalf("state = %+v (task %+v), want the pending task %d", st, st.Task, hub.TagCalls()[0].TaskID)
	}
}

func TestReloginOnExpiredOrInvalidSession(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(*kojitest.Hub)
		wantErr int
		logins  int
	}{
		{"expired", func(h *kojitest.Hub) { h.ExpireSessions() }, 0, 2},
		{"invalid session", func(h *kojitest.Hub) { h.InjectFault("getLoggedInUser", 1, 1002, "Invalid session or bad credentials") }, 0, 2},
		{"expired twice gives up", func(h *kojitest.Hub) { h.InjectFault("getLoggedInUser", 2, 1007, "session expired") }, 1007, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newHub(t)
			c := newClient(t, sslConfig(hub, "mts"))
			ctx := ctxT(t)
			if err := c.Login(ctx); err != nil {
				t.Fatal(err)
			}
			tt.prepare(hub)
			_, err := c.GetLoggedInUser(ctx)
			if got := koji.FaultCode(err); got != tt.wantErr {
				t.Fatalf("err = %v, want fault %d", err, tt.wantErr)
			}
			if tt.wantErr == 1007 && !koji.Retryable(err) {
				t.Fatalf("AuthExpired should be retryable")
			}
			if n := hub.CallCount("sslLogin"); n != tt.logins {
				t.Fatalf("%d logins, want %d", n, tt.logins)
			}
		})
	}
}

func TestServerOfflineAndHTTPErrors(t *testing.T) {
	t.Run("offline: one attempt", func(t *testing.T) {
		hub := newHub(t)
		c := newClient(t, sslConfig(hub, "mts"))
		hub.SetOffline(true)
		_, err := c.GetTag(ctxT(t), tagName)
		if !koji.IsServerOffline(err) || !koji.Retryable(err) {
			t.Fatalf("err = %v, want retryable ServerOffline", err)
		}
		if n := hub.CallCount("getTag"); n != 1 {
			t.Fatalf("getTag sent %d times, want 1", n)
		}
	})
	t.Run("offline then back, with Retry", func(t *testing.T) {
		hub := newHub(t)
		cfg := sslConfig(hub, "mts")
		cfg.MaxRetries = 20
		c := newClient(t, cfg)
		hub.SetOffline(true)
		time.AfterFunc(100*time.Millisecond, func() { hub.SetOffline(false) })
		retries := 0
		err := koji.Retry(ctxT(t), cfg, func(int, time.Duration, error) { retries++ }, func(ctx context.Context) error {
			_, err := c.GetTag(ctx, tagName)
			return err
		})
		if err != nil || retries == 0 {
			t.Fatalf("err = %v after %d retries", err, retries)
		}
	})
	t.Run("503 once", func(t *testing.T) {
		hub := newHub(t)
		c := newClient(t, sslConfig(hub, "mts"))
		hub.FailHTTP("getTag", 1, 503)
		_, err := c.GetTag(ctxT(t), tagName)
		var he *koji.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 503 || !koji.Retryable(err) {
			t.Fatalf("err = %v, want retryable HTTP 503", err)
		}
		if n := hub.CallCount("getTag"); n != 0 {
			t.Fatalf("getTag ran %d times, want 0", n)
		}
	})
	t.Run("400 invalid request", func(t *testing.T) {
		hub := newHub(t)
		c := newClient(t, sslConfig(hub, "mts"))
		hub.FailHTTP("tagBuild", 1, 400)
		_, err := c.TagBuild(ctxT(t), tagName, nvr)
		var he *koji.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 400 || koji.Retryable(err) {
			t.Fatalf("err = %v, want non-retryable HTTP 400", err)
		}
	})
	t.Run("fault 1 unparsable", func(t *testing.T) {
		hub := newHub(t)
		c := newClient(t, sslConfig(hub, "mts"))
		hub.InjectFault("getBuild", 1, 1, "<class 'xml.parsers.expat.ExpatError'>: syntax error")
		_, err := c.GetBuild(ctxT(t), nvr)
		var f *koji.Fault
		if !errors.As(err, &f) || f.Code != 1 || f.Name() != "Fault" || koji.Retryable(err) {
			t.Fatalf("err = %v, want fault 1", err)
		}
	})
}

func TestReadCalls(t *testing.T) {
	hub := newHub(t)
	hub.Tag(tagName, develN)
	c := newClient(t, &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), Timeout: 5 * time.Second})
	ctx := ctxT(t)

	b, err := c.GetBuild(ctx, nvr)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Module()
	if m == nil || m.Name != "nodejs" || m.Stream != "20" || m.Version != "4020240501" || m.Context != "abcd1234" ||
		m.ModulemdStr != "document: modulemd\nversion: 2\n" || m.ModuleBuildServiceID != 4242 {
		t.Fatalf("module = %+v", m)
	}
	if b.State != koji.BuildComplete || b.NVR != nvr || b.PackageName != "nodejs" {
		t.Fatalf("build = %+v", b)
	}
	byID, err := c.GetBuild(ctx, strconv.Itoa(b.ID))
	if err != nil || byID.NVR != nvr {
		t.Fatalf("by id: %+v, %v", byID, err)
	}
	d, err := c.GetBuild(ctx, develN)
	if err != nil || d.Module() != nil {
		t.Fatalf("devel build: %+v, %v", d, err)
	}
	if _, err := c.GetBuild(ctx, "nope-1-1"); !errors.Is(err, koji.ErrNotFound) || !koji.IsNotFound(err) {
		t.Fatalf("unknown build: %v", err)
	}
	tg, err := c.GetTag(ctx, tagName)
	if err != nil || tg.Name != tagName || tg.Locked || tg.Perm != "" {
		t.Fatalf("tag = %+v, %v", tg, err)
	}
	if _, err := c.GetTag(ctx, "nope"); !errors.Is(err, koji.ErrNotFound) {
		t.Fatalf("unknown tag: %v", err)
	}
	list, err := c.ListTagged(ctx, tagName, koji.ListTaggedOpts{Package: "nodejs-devel"})
	if err != nil || len(list) != 1 || list[0].NVR != develN || list[0].TagName != tagName {
		t.Fatalf("listTagged = %+v, %v", list, err)
	}
	for _, tc := range []struct {
		nvr  string
		want bool
	}{{develN, true}, {nvr, false}, {"unknown-1-1", false}} {
		got, err := c.IsTagged(ctx, tagName, tc.nvr)
		if err != nil || got != tc.want {
			t.Fatalf("IsTagged(%s) = %v, %v", tc.nvr, got, err)
		}
	}
	if tags, err := c.ListTags(ctx, develN); err != nil || len(tags) != 1 || tags[0].Name != tagName {
		t.Fatalf("listTags = %+v, %v", tags, err)
	}
	if _, err := c.ListTags(ctx, "unknown-1-1"); !errors.Is(err, koji.ErrNotFound) || koji.FaultCode(err) != 1000 {
		t.Fatalf("listTags of an unknown build: %v", err)
	}
	if _, err := c.ListTagged(ctx, "nope", koji.ListTaggedOpts{}); koji.FaultCode(err) != 1000 {
		t.Fatalf("listTagged unknown tag: %v", err)
	}
	if _, err := c.TagBuild(ctx, tagName, nvr); !errors.Is(err, koji.ErrNoCredentials) {
		t.Fatalf("anonymous TagBuild: %v", err)
	}
}

func TestMultiCall(t *testing.T) {
	hub := newHub(t)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	res, err := c.MultiCall(ctx, []koji.Call{
		{Method: "tagBuild", Params: []any{tagName, nvr}},
		{Method: "tagBuild", Params: []any{tagName, develN}},
		{Method: "tagBuild", Params: []any{"nope", nvr}},
		{Method: "getTag", Params: []any{tagName}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	for i := range 2 {
		if _, ok := res[i].Value.(int64); !ok || res[i].Err != nil {
			t.Fatalf("result %d = %+v, want a task id", i, res[i])
		}
	}
	if koji.FaultCode(res[2].Err) != 1000 {
		t.Fatalf("result 2 = %+v, want fault 1000", res[2])
	}
	if m, ok := res[3].Value.(map[string]any); !ok || m["name"] != tagName {
		t.Fatalf("result 3 = %+v", res[3])
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := hub.Tagged(tagName); len(got) != 2 {
		t.Fatalf("tagged = %v", got)
	}

	// Without a login the hub refuses tagBuild inside the multiCall.
	anon := newClient(t, &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile()})
	res, err = anon.MultiCall(ctx, []koji.Call{{Method: "tagBuild", Params: []any{tagName, nvr}}})
	if err != nil || len(res) != 1 || !koji.IsNotAllowed(res[0].Err) {
		t.Fatalf("anonymous multiCall = %+v, %v", res, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	hub := kojitest.New(t, kojitest.WithStrictCallnum())
	hub.AddTag(tagName)
	const n = 24
	for i := range n {
		pkg := "pkg" + strconv.Itoa(i)
		hub.AddPackage(tagName, pkg)
		hub.AddBuild(kojitest.Build{NVR: pkg + "-1-1"})
	}
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := c.TagBuild(ctx, tagName, "pkg"+strconv.Itoa(i)+"-1-1")
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := c.GetBuild(ctx, "pkg"+strconv.Itoa(i)+"-1-1")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(hub.Tagged(tagName)); got != n {
		t.Fatalf("%d tagged, want %d", got, n)
	}
	if hub.Sessions() != 1 {
		t.Fatalf("%d sessions, want 1", hub.Sessions())
	}
}

func TestObserverAndNoSecretsInLogs(t *testing.T) {
	hub := newHub(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	seen := map[string]int{}
	c := newClient(t, sslConfig(hub, "mts"),
		koji.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		koji.WithObserver(func(method string, d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			seen[method+":"+strconv.Itoa(koji.FaultCode(err))]++
		}))
	ctx := ctxT(t)
	var errText strings.Builder
	if _, err := c.TagBuild(ctx, tagName, nvr); err != nil {
		t.Fatal(err)
	}
	hub.ExpireSessions()
	hub.InjectFault("tagBuild", 1, 1003, "package nodejs blocked in tag x")
	_, err := c.TagBuild(ctx, tagName, nvr)
	errText.WriteString(err.Error())
	if _, err := c.GetTag(ctx, "nope"); err != nil {
		errText.WriteString(err.Error())
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if seen["tagBuild:0"] != 1 || seen["tagBuild:1003"] != 1 || seen["getTag:0"] != 1 {
		t.Fatalf("observer saw %v", seen)
	}
	mu.Unlock()
	keys := hub.SessionKeys()
	if !strings.Contains(logs.String(), "logged in to koji") {
		t.Fatalf("no login logged: %s", logs.String())
	}
	for _, k := range keys {
		if strings.Contains(logs.String(), k) || strings.Contains(errText.String(), k) {
			t.Fatalf("session key leaked")
		}
	}
	// The key of the first session, expired above, is still known to the hub.
	if len(keys) == 0 {
		t.Fatal("hub kept no session to check against")
	}
}

func TestLogout(t *testing.T) {
	hub := newHub(t)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	if err := c.Logout(ctx); err != nil || hub.CallCount("logout") != 0 {
		t.Fatalf("logout without a session: %v, %d calls", err, hub.CallCount("logout"))
	}
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx); err != nil || c.LoggedIn() || len(hub.SessionKeys()) != 0 {
		t.Fatalf("logout: %v, logged in %v, %d sessions open", err, c.LoggedIn(), len(hub.SessionKeys()))
	}
	// An expired session is not renewed just to be ended.
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	hub.ExpireSessions()
	if err := c.Logout(ctx); err != nil || hub.CallCount("sslLogin") != 2 {
		t.Fatalf("logout of expired session: %v, %d logins", err, hub.CallCount("sslLogin"))
	}
}
