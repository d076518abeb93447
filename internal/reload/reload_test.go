package reload_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/policy"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// install puts a fixture at path by renaming, as editors and ConfigMap
// updates do, so that no half-written file is ever read.
func install(t *testing.T, fixture, path string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, read(t, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// metric is the value of the series of name whose labels include the
// given name/value pair (any series when label is empty); -1 when absent.
func metric(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && !hasLabel(m, label, value) {
				continue
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return -1
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type coord struct {
	*reload.Coordinator
	reg *prometheus.Registry
}

func start(t *testing.T, opts reload.Options) coord {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	c, err := reload.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-c.Watching()
	return coord{c, reg}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestFileChangeReloads(t *testing.T) {
	for _, watch := range []string{"file", "directory"} {
		t.Run(watch, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "rules.yaml")
			install(t, "v1.yaml", file)
			path := file
			if watch == "directory" {
				path = dir
			}
			c := start(t, reload.Options{Paths: []string{path}, Debounce: 20 * time.Millisecond})
			first := c.Current().Revision
			if got := metric(t, c.reg, reload.MetricRulesInfo, "revision", first); got != 1 {
				t.Errorf("%s{revision=%s} = %v", reload.MetricRulesInfo, first, got)
			}

			// Files that are not rules do not cause a reload.
			if err := os.WriteFile(filepath.Join(dir, ".rules.yaml.swp"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if got := metric(t, c.reg, reload.MetricReloads, "result", "success"); got != 1 {
				t.Errorf("%v successful loads after an unrelated file changed, want 1", got)
			}

			install(t, "v2.yaml", file)
			eventually(t, "the new rules", func() bool { return c.Current().Revision != first })
			if got := c.Current().Set.Rules()[0].ID; got != "Building blocks v2" {
				t.Errorf("rule %q in use, want the new file's", got)
			}
			if got := metric(t, c.reg, reload.MetricRulesInfo, "revision", first); got != -1 {
				t.Errorf("the old revision is still exported: %v", got)
			}
			if got := metric(t, c.reg, reload.MetricRulesInfo, "revision", c.Current().Revision); got != 1 {
				t.Errorf("the new revision is not exported: %v", got)
			}
		})
	}
}

func TestBadFileIsRefusedAndLastGoodKept(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	install(t, "v1.yaml", file)
	c := start(t, reload.Options{Paths: []string{file}, Debounce: 20 * time.Millisecond})
	good := c.Current()
	okTime := metric(t, c.reg, reload.MetricReloadTimestamp, "", "")
	if okTime <= 0 || metric(t, c.reg, reload.MetricReloadSuccessful, "", "") != 1 ||
		metric(t, c.reg, reload.MetricRulesCount, "", "") != 1 {
		t.Fatalf("metrics after the first load: timestamp %v, successful %v, count %v", okTime,
			metric(t, c.reg, reload.MetricReloadSuccessful, "", ""), metric(t, c.reg, reload.MetricRulesCount, "", ""))
	}

	install(t, "bad.yaml", file)
	eventually(t, "the bad set refused", func() bool {
		return metric(t, c.reg, reload.MetricReloads, "result", "refused") == 1
	})
	if c.Current() != good {
		t.Error("the refused set replaced the good one")
	}
	if got := metric(t, c.reg, reload.MetricReloadSuccessful, "", ""); got != 0 {
		t.Errorf("%s = %v after a refused set, want 0", reload.MetricReloadSuccessful, got)
	}
	if got := metric(t, c.reg, reload.MetricReloadTimestamp, "", ""); got != okTime {
		t.Errorf("%s moved to %v on a refused set", reload.MetricReloadTimestamp, got)
	}
	if got := metric(t, c.reg, reload.MetricRulesInfo, "revision", good.Revision); got != 1 {
		t.Errorf("revision of the kept set not exported: %v", got)
	}

	// Load reports the refusal with the problems at their positions.
	err := c.Load(context.Background())
	if !errors.Is(err, policy.ErrRefused) {
		t.Fatalf("Load of a bad set: %v, want policy.ErrRefused", err)
	}
	var perrs policy.Errors
	if !errors.As(err, &perrs) || len(perrs) == 0 {
		t.Errorf("Load of a bad set: %v, want policy.Errors", err)
	}

	install(t, "v1.yaml", file)
	eventually(t, "the good set back", func() bool {
		return metric(t, c.reg, reload.MetricReloadSuccessful, "", "") == 1
	})
}

func TestTriggerReloads(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	install(t, "v1.yaml", file)
	// A debounce longer than the test leaves Trigger as the only way in.
	c := start(t, reload.Options{Paths: []string{file}, Debounce: time.Hour})
	first := c.Current().Revision
	install(t, "v2.yaml", file)
	time.Sleep(100 * time.Millisecond)
	if c.Current().Revision != first {
		t.Fatal("reloaded before the trigger")
	}
	c.Trigger()
	c.Trigger() // a second trigger while one is pending must not block
	eventually(t, "the triggered reload", func() bool { return c.Current().Revision != first })
}

// ruleServer serves a rule file with an ETag and answers 304 to a
// matching If-None-Match, as a web server or a Git forge does.
type ruleServer struct {
	*httptest.Server
	mu          sync.Mutex
	body        []byte
	etag        string
	status      int
	ifNoneMatch []string // one entry per request
}

func newRuleServer(t *testing.T, body []byte, etag string) *ruleServer {
	s := &ruleServer{body: body, etag: etag}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		inm := r.Header.Get("If-None-Match")
		s.ifNoneMatch = append(s.ifNoneMatch, inm)
		if s.status != 0 {
			http.Error(w, "broken", s.status)
			return
		}
		w.Header().Set("ETag", s.etag)
		if inm == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ruleServer) set(body []byte, etag string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.status = body, etag, status
}

func (s *ruleServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ifNoneMatch...)
}

func TestURLPollingWithETag(t *testing.T) {
	s := newRuleServer(t, read(t, "v1.yaml"), `"v1"`)
	c := start(t, reload.Options{URL: s.URL + "/rules.yaml", PollInterval: 30 * time.Millisecond})
	first := c.Current().Revision
	if got := s.requests(); len(got) != 1 || got[0] != "" {
		t.Fatalf("first load sent If-None-Match %q, want none", got)
	}

	// Unchanged: 304s, counted, the set kept.
	eventually(t, "two polls answered 304", func() bool {
		return metric(t, c.reg, reload.MetricReloads, "result", "unchanged") >= 2
	})
	for i, inm := range s.requests()[1:] {
		if inm != `"v1"` {
			t.Errorf("poll %d sent If-None-Match %q, want \"v1\"", i+1, inm)
		}
	}
	if c.Current().Revision != first || metric(t, c.reg, reload.MetricReloads, "result", "success") != 1 {
		t.Fatal("a 304 reloaded the rules")
	}

	// A new body with a new tag.
	s.set(read(t, "v2.yaml"), `"v2"`, 0)
	eventually(t, "the new rules", func() bool { return c.Current().Revision != first })
	n := len(s.requests())
	eventually(t, "polls with the new tag", func() bool { return len(s.requests()) >= n+2 })
	if got := s.requests()[n+1]; got != `"v2"` {
		t.Errorf("poll after the change sent If-None-Match %q, want \"v2\"", got)
	}

	// A server error keeps the set and counts an error.
	second := c.Current()
	s.set(nil, "", http.StatusInternalServerError)
	eventually(t, "a failed poll", func() bool {
		return metric(t, c.reg, reload.MetricReloads, "result", "error") >= 1
	})
	if c.Current() != second || metric(t, c.reg, reload.MetricReloadSuccessful, "", "") != 0 {
		t.Error("a failed fetch changed the rules or left the success gauge at 1")
	}

	// A body that does not compile is refused; polling then stays quiet
	// on its tag, while Trigger fetches it again.
	s.set(read(t, "bad.yaml"), `"bad"`, 0)
	eventually(t, "the bad body refused", func() bool {
		return metric(t, c.reg, reload.MetricReloads, "result", "refused") == 1
	})
	eventually(t, "a 304 on the bad tag", func() bool {
		r := s.requests()
		return r[len(r)-1] == `"bad"`
	})
	c.Trigger()
	eventually(t, "the triggered fetch refused again", func() bool {
		return metric(t, c.reg, reload.MetricReloads, "result", "refused") == 2
	})
	if c.Current() != second {
		t.Error("a refused body replaced the rules")
	}
}

func TestNewNeedsOneSource(t *testing.T) {
	for _, o := range []reload.Options{{}, {Paths: []string{"a"}, URL: "http://x/"}} {
		if _, err := reload.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestFirstLoadFails(t *testing.T) {
	c, err := reload.New(reload.Options{Paths: []string{filepath.Join(t.TempDir(), "missing.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Load(context.Background()); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if c.Current() != nil {
		t.Error("a rule set is in use after a failed first load")
	}
}

// TestState follows the loads: none yet, a good set, then a refused one,
// which keeps the time of the last good load, as the gauges do.
func TestState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	install(t, "v1.yaml", path)
	reg := prometheus.NewRegistry()
	co, err := reload.New(reload.Options{Paths: []string{path}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if st := co.State(); st.Successful || st.LastSuccess != nil {
		t.Fatalf("before any load: %+v", st)
	}
	if err := co.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := co.State()
	if !st.Successful || st.LastSuccess == nil || time.Since(*st.LastSuccess) > time.Minute {
		t.Fatalf("after a good load: %+v", st)
	}
	if got := metric(t, reg, reload.MetricReloadSuccessful, "", ""); got != 1 {
		t.Errorf("state successful, gauge %v", got)
	}
	install(t, "bad.yaml", path)
	if err := co.Load(context.Background()); err == nil {
		t.Fatal("bad rules loaded")
	}
	if after := co.State(); after.Successful || after.LastSuccess == nil || !after.LastSuccess.Equal(*st.LastSuccess) {
		t.Fatalf("after a refused load: %+v, want unsuccessful since %v", after, st.LastSuccess)
	}
}
