package kojitest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// rawClient posts bodies to the hub as a client with the "mts" certificate.
func rawClient(t *testing.T, h *Hub) func(path string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	return rawClientAs(t, h, "mts")
}

// rawClientAs posts bodies to the hub as a client with the certificate of
// user cn.
func rawClientAs(t *testing.T, h *Hub, cn string) func(path string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	pem, err := os.ReadFile(h.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	certFile := h.ClientCertFile(cn)
	pair, err := tls.LoadX509KeyPair(certFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}}}
	t.Cleanup(hc.CloseIdleConnections)
	return func(path string, body []byte, hdr map[string]string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, h.URL()+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
}

func call(t *testing.T, method string, params ...any) []byte {
	t.Helper()
	b, err := wire.EncodeCall(method, params...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func faultOf(body []byte) (int, string) {
	var v any
	var f *wire.Fault
	if errors.As(wire.DecodeResponse(body, &v), &f) {
		return f.Code, f.String
	}
	return 0, ""
}

func TestUnparsableRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Option
		status int
		code   int
	}{
		{"released hub: fault 1", nil, 200, 1},
		{"development hub: HTTP 400", []Option{WithHTTP400()}, 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			post := rawClient(t, New(t, tc.opts...))
			for _, body := range []string{"", "<methodCall><methodName>getTag", "{\"json\": true}"} {
				status, resp := post("", []byte(body), nil)
				code, _ := faultOf(resp)
				if status != tc.status || code != tc.code {
					t.Fatalf("body %q: status %d fault %d, want %d and %d", body, status, code, tc.status, tc.code)
				}
				if tc.status == 400 && !strings.Contains(string(resp), "Invalid request") {
					t.Fatalf("400 body = %q", resp)
				}
			}
		})
	}
}

func login(t *testing.T, post func(string, []byte, map[string]string) (int, []byte)) (id, key string) {
	t.Helper()
	_, resp := post("/ssllogin", call(t, "sslLogin"), nil)
	var s struct {
		ID  int64  `xmlrpc:"session-id"`
		Key string `xmlrpc:"session-key"`
	}
	if err := wire.DecodeResponse(resp, &s); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(s.ID, 10), s.Key
}

// TestCallnumQuirk checks the call number behaviour of koji.md: released
// hubs read Koji-Callnum, so Koji-Session-Callnum is not checked; with
// Koji-Callnum or query parameters the check is on.
func TestCallnumQuirk(t *testing.T) {
	h := New(t, WithTaskDelay(0))
	h.AddTag("t")
	h.AddPackage("t", "p")
	h.AddBuild(Build{NVR: "p-1-1"})
	post := rawClient(t, h)
	id, key := login(t, post)
	hdr := func(name, n string) map[string]string {
		return map[string]string{"Koji-Session-Id": id, "Koji-Session-Key": key, name: n}
	}
	steps := []struct {
		name  string
		hdr   map[string]string
		path  string
		body  []byte
		fault int
	}{
		{"first tagBuild", hdr("Koji-Session-Callnum", "0"), "", call(t, "tagBuild", "t", "p-1-1"), 0},
		{"same number, new header name: not checked", hdr("Koji-Session-Callnum", "0"), "", call(t, "tagBuild", "t", "p-1-1"), 0},
		{"lower number: not checked", hdr("Koji-Session-Callnum", "0"), "", call(t, "getLoggedInUser"), 0},
		{"Koji-Callnum: repeat after read is fine", hdr("Koji-Callnum", "0"), "", call(t, "getLoggedInUser"), 0},
		{"Koji-Callnum: write", hdr("Koji-Callnum", "1"), "", call(t, "tagBuild", "t", "p-1-1"), 0},
		{"Koji-Callnum: repeat after write", hdr("Koji-Callnum", "1"), "", call(t, "tagBuild", "t", "p-1-1"), 1009},
		{"Koji-Callnum: lower", hdr("Koji-Callnum", "0"), "", call(t, "getLoggedInUser"), 1008},
		{"query parameters: gap is fine", nil, "?session-id=" + id + "&session-key=" + key + "&callnum=5", call(t, "getLoggedInUser"), 0},
		{"query parameters: lower", nil, "?session-id=" + id + "&session-key=" + key + "&callnum=4", call(t, "getLoggedInUser"), 1008},
		{"wrong key", map[string]string{"Koji-Session-Id": id, "Koji-Session-Key": "x"}, "", call(t, "getLoggedInUser"), 1002},
		{"unknown method", nil, "", call(t, "frobnicate"), 1000},
		{"wrong arguments", nil, "", call(t, "getTag"), 1019},
		{"unknown keyword", nil, "", call(t, "getBuild", "p-1-1", wire.Kwargs{"bogus": true}), 1019},
		{"not logged in", nil, "", call(t, "tagBuild", "t", "p-1-1"), 1004},
	}
	for _, s := range steps {
		_, resp := post(s.path, s.body, s.hdr)
		if code, msg := faultOf(resp); code != s.fault {
			t.Fatalf("%s: fault %d %q, want %d", s.name, code, msg, s.fault)
		}
	}
	ran := 0
	for _, c := range h.TagCalls() {
		if c.Fault == 0 {
			ran++
		}
	}
	if ran != 3 {
		t.Fatalf("%d tag calls ran, want 3: %+v", ran, h.TagCalls())
	}
	h.ExpireSessions()
	if _, resp := post("", call(t, "getLoggedInUser"), hdr("Koji-Session-Callnum", "9")); func() bool { c, _ := faultOf(resp); return c != 1007 }() {
		t.Fatalf("expired session answered %s", resp)
	}
}

func TestTagBuildBypass(t *testing.T) {
	h := New(t)
	h.AddTag("t")
	h.AddBuild(Build{NVR: "p-1-1"})
	h.AddUser("admin", "admin")
	post := rawClient(t, h)
	id, key := login(t, post)
	auth := map[string]string{"Koji-Session-Id": id, "Koji-Session-Key": key}
	if _, resp := post("", call(t, "tagBuildBypass", "t", "p-1-1"), auth); func() bool { c, _ := faultOf(resp); return c != 1004 }() {
		t.Fatalf("bypass without permission: %s", resp)
	}
	h.AddUser("mts", "tag")
	if _, resp := post("", call(t, "tagBuildBypass", "t", "p-1-1"), auth); func() bool { c, _ := faultOf(resp); return c != 0 }() {
		t.Fatalf("bypass: %s", resp)
	}
	if got := h.Tagged("t"); len(got) != 1 {
		t.Fatalf("tagged = %v", got)
	}
	if _, resp := post("", call(t, "tagBuildBypass", "t", "p-1-1"), auth); func() bool { c, _ := faultOf(resp); return c != 1003 }() {
		t.Fatalf("second bypass: %s", resp)
	}
}

// TestCancelTask: cancelTask as the hub answers it. The owner of a pending
// task may cancel it, and it is never run: CANCELED (3), getTaskResult
// fault 1000 "Task N is canceled", the build not tagged. Another user, or
// nobody logged in, gets 1004. A finished task stays as it is.
func TestCancelTask(t *testing.T) {
	h := New(t, WithTaskDelay(time.Second))
	h.AddTag("t")
	h.AddPackage("t", "p")
	h.AddBuild(Build{NVR: "p-1-1"})
	h.AddBuild(Build{NVR: "p-1-2"})
	h.AddUser("mts", "tag")
	h.AddUser("other", "tag")
	owner, other := rawClient(t, h), rawClientAs(t, h, "other")
	session := func(post func(string, []byte, map[string]string) (int, []byte)) map[string]string {
		id, key := login(t, post)
		return map[string]string{"Koji-Session-Id": id, "Koji-Session-Key": key}
	}
	mine, theirs := session(owner), session(other)
	tagBuild := func(nvr string) int64 {
		_, resp := owner("", call(t, "tagBuild", "t", nvr), mine)
		var id int64
		if err := wire.DecodeResponse(resp, &id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	pending, done := tagBuild("p-1-1"), tagBuild("p-1-2")
	steps := []struct {
		name  string
		post  func(string, []byte, map[string]string) (int, []byte)
		hdr   map[string]string
		id    int64
		fault int
	}{
		{"anonymous", owner, nil, pending, 1004},
		{"another user", other, theirs, pending, 1004},
		{"the owner", owner, mine, pending, 0},
		{"the owner again", owner, mine, pending, 0},
	}
	for _, s := range steps {
		_, resp := s.post("", call(t, "cancelTask", s.id), s.hdr)
		if code, msg := faultOf(resp); code != s.fault {
			t.Fatalf("%s: fault %d %q, want %d", s.name, code, msg, s.fault)
		}
	}
	if err := h.WaitTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, resp := owner("", call(t, "cancelTask", done), mine); func() bool { c, _ := faultOf(resp); return c != 0 }() {
		t.Fatalf("cancelling a finished task: %s", resp)
	}
	for _, tc := range []struct {
		id    int64
		state int
		fault string
	}{
		{pending, taskCanceled, fmt.Sprintf("Task %d is canceled", pending)},
		{done, taskClosed, ""},
	} {
		if state, _ := h.TaskState(int(tc.id)); state != tc.state {
			t.Errorf("task %d: state %d, want %d", tc.id, state, tc.state)
		}
		_, resp := owner("", call(t, "getTaskResult", tc.id), nil)
		if code, msg := faultOf(resp); msg != tc.fault || (tc.fault != "" && code != 1000) {
			t.Errorf("getTaskResult(%d): fault %d %q, want %q", tc.id, code, msg, tc.fault)
		}
	}
	if got := h.Tagged("t"); !slices.Equal(got, []string{"p-1-2"}) {
		t.Errorf("tagged %v, want only p-1-2", got)
	}
}

// TestStatsCountRequestsAndAnswers: a request counts for its method with
// the size of its answer; calls inside a multiCall count as calls, with
// their own answer's size when asked for.
func TestStatsCountRequestsAndAnswers(t *testing.T) {
	h := New(t, WithMemberSizes())
	h.AddBuild(Build{NVR: "a-1-1", Module: &Module{Name: "a", ModulemdStr: strings.Repeat("x", 1200)}})
	post := rawClient(t, h)
	_, one := post("", call(t, "getBuild", "a-1-1"), nil)
	_, many := post("", call(t, "multiCall", []any{
		map[string]any{"methodName": "getBuild", "params": []any{"a-1-1"}},
		map[string]any{"methodName": "getBuild", "params": []any{"a-1-1"}},
	}), nil)
	st := h.Stats()
	gb, mc := st["getBuild"], st["multiCall"]
	if gb.Calls != 3 || gb.Requests != 1 || gb.Bytes != int64(len(one)) {
		t.Errorf("getBuild: %+v, want 3 calls, 1 request of %d bytes", gb, len(one))
	}
	if mc.Requests != 1 || mc.Bytes != int64(len(many)) {
		t.Errorf("multiCall: %+v, want 1 request of %d bytes", mc, len(many))
	}
	if gb.MemberBytes < 2*1200 || gb.MemberBytes > int64(len(many)) {
		t.Errorf("getBuild inside the multiCall: %d bytes of %d", gb.MemberBytes, len(many))
	}
}

// TestTaskThroughput: with a throughput limit, a burst of tasks finishes
// no faster than the limit lets it.
func TestTaskThroughput(t *testing.T) {
	h := New(t, WithTaskDelay(0), WithTaskThroughput(20))
	h.AddTag("t")
	h.AddPackage("t", "a")
	post := rawClient(t, h)
	_, login := post("/ssllogin", call(t, "sslLogin"), nil)
	var sess struct {
		ID  int64  `xmlrpc:"session-id"`
		Key string `xmlrpc:"session-key"`
	}
	if err := wire.DecodeResponse(login, &sess); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Koji-Session-Id": strconv.FormatInt(sess.ID, 10), "Koji-Session-Key": sess.Key}
	start := time.Now()
	for i := range 10 {
		nvr := fmt.Sprintf("a-1-%d", i)
		h.AddBuild(Build{NVR: nvr})
		if _, body := post("", call(t, "tagBuild", "t", nvr), hdr); bytes.Contains(body, []byte("fault")) {
			t.Fatalf("tagBuild: %s", body)
		}
	}
	if err := h.WaitTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("10 tasks at 20 a second done in %v", took)
	}
}
