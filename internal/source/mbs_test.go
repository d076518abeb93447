package source

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
)

const javaDoc = "testdata/modulemd/javapackages-tools-201801-f29.yaml"

// standIn answers GET /module-build-service/1/module-builds/{id}?verbose=true
// as MBS does, with each request's answer chosen by the test.
type standIn struct {
	*httptest.Server
	calls  atomic.Int64
	answer func(n int64, w http.ResponseWriter, r *http.Request)
}

func newStandIn(t *testing.T, answer func(n int64, w http.ResponseWriter, r *http.Request)) *standIn {
	t.Helper()
	s := &standIn{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.calls.Add(1)
		if r.URL.Path != "/module-build-service/1/module-builds/42" || r.URL.Query().Get("verbose") != "true" {
			http.Error(w, `{"status": 400, "error": "Bad Request"}`, http.StatusBadRequest)
			return
		}
		s.answer(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) client(t *testing.T, opts MBSOptions) *MBS {
	t.Helper()
	c, err := NewMBS(s.URL+"/module-build-service/1", opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func moduleBuild(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile(javaDoc)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"id": 42, "state_name": "ready", "modulemd": string(doc)})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestFetch(t *testing.T) {
	ok := moduleBuild(t)
	doc, err := os.ReadFile(javaDoc)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(status int, body string) func(int64, http.ResponseWriter, *http.Request) {
		return func(_ int64, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	tests := []struct {
		name      string
		answer    func(int64, http.ResponseWriter, *http.Request)
		wantDoc   bool
		notFound  bool
		transient bool
		errText   string
		calls     int64
	}{
		{name: "200 with modulemd", answer: serve(200, string(ok)), wantDoc: true, calls: 1},
		{name: "404", answer: serve(404, `{"status": 404, "error": "Not Found", "message": "No such module found."}`),
			notFound: true, calls: 1},
		{name: "no modulemd yet", answer: serve(200, `{"id": 42, "state_name": "init", "modulemd": null}`),
			notFound: true, calls: 1},
		{name: "503", answer: serve(503, "try later"), transient: true, errText: "HTTP 503", calls: 1},
		{name: "429", answer: serve(429, "slow down"), transient: true, errText: "HTTP 429", calls: 1},
		{name: "other 4xx for good", answer: serve(403, "Forbidden"), notFound: true, errText: "HTTP 403", calls: 1},
		{name: "bad JSON", answer: serve(200, `<html>maintenance</html>`), errText: "not JSON", transient: true, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStandIn(t, tt.answer)
			c := s.client(t, MBSOptions{})
			got, err := c.Modulemd(context.Background(), build.Event{ID: 42})
			switch {
			case tt.wantDoc:
				if err != nil || string(got) != string(doc) {
					t.Fatalf("got %d bytes, %v; want the document", len(got), err)
				}
			case err == nil:
				t.Fatalf("got a document, want an error")
			default:
				if errors.Is(err, ErrNotFound) != tt.notFound {
					t.Errorf("errors.Is(%v, ErrNotFound) = %v", err, !tt.notFound)
				}
				if transient := !errors.Is(err, ErrNotFound); transient != tt.transient {
					t.Errorf("%v: transient = %v, want %v", err, transient, tt.transient)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("error %q, want it to contain %q", err, tt.errText)
				}
			}
			if n := s.calls.Load(); n != tt.calls {
				t.Errorf("%d requests, want %d", n, tt.calls)
			}
		})
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	s := newStandIn(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// Unblock the handlers before the server's Close waits for them.
	t.Cleanup(func() { close(release) })
	c := s.client(t, MBSOptions{Timeout: 100 * time.Millisecond})
	_, err := c.Fetch(context.Background(), 42)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v, want a transient one", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want it to wrap context.DeadlineExceeded", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"", "mbs.example.org", "ftp://mbs.example.org/", "http://[::1"} {
		if _, err := NewMBS(u, MBSOptions{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}
