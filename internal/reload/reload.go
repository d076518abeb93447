// Package reload owns the rule set `mts serve` decides with: it loads it
// from files, directories or an HTTP URL, compiles a new set off the hot
// path when asked (SIGHUP), when a file changes or when the URL's content
// changes, and swaps it in atomically. A set that does not compile is
// refused, with every problem at FILE:LINE:COL in the log, and the last
// good set stays in use.
// It must not decide on events or serve HTTP; subscribers ask it for its
// state (State).
package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// Options say where the rules come from and how to watch them.
type Options struct {
	// Paths are rule files or directories; URL an HTTP(S) URL of one rule
	// file. Exactly one of the two is set.
	Paths []string
	URL   string
	// HTTPClient fetches URL; a client with a 60s timeout by default.
	HTTPClient *http.Client
	// PollInterval is how often URL is checked (with If-None-Match);
	// 0 disables polling.
	PollInterval time.Duration
	// Debounce groups the file events of one edit; 250ms by default.
	Debounce   time.Duration
	Load       ruleset.Options
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Coordinator holds the current rule set. Current is safe to call from any
// goroutine at any time.
type Coordinator struct {
	opts    Options
	log     *slog.Logger
	current atomic.Pointer[ruleset.Ruleset]
	trigger chan struct{}
	// watching is closed once Run watches the rule files (and has caught up
	// with changes made before).
	watching     chan struct{}
	watchingOnce sync.Once

	mu   sync.Mutex // serialises loads
	etag string     // of the last body fetched from URL

	stateMu sync.Mutex
	state   State

	ok      prometheus.Gauge
	okTime  prometheus.Gauge
	count   prometheus.Gauge
	info    *prometheus.GaugeVec
	reloads *prometheus.CounterVec
}

// Metric names.
const (
	MetricReloadSuccessful = "mts_rules_last_reload_successful"
	MetricReloadTimestamp  = "mts_rules_last_reload_success_timestamp_seconds"
	MetricRulesCount       = "mts_rules_count"
	MetricRulesInfo        = "mts_rules_info"
	MetricReloads          = "mts_rules_reloads_total"
)

// New returns a coordinator; nothing is loaded until Load.
func New(opts Options) (*Coordinator, error) {
	if (len(opts.Paths) == 0) == (opts.URL == "") {
		return nil, errors.New("reload: give either rule paths or a rule URL")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(opts.Registerer)
	return &Coordinator{
		opts:     opts,
		log:      log,
		trigger:  make(chan struct{}, 1),
		watching: make(chan struct{}),
		ok: f.NewGauge(prometheus.GaugeOpts{
			Name: MetricReloadSuccessful, Help: "Whether the last attempt to load the rules succeeded (1) or was refused (0).",
		}),
		okTime: f.NewGauge(prometheus.GaugeOpts{
			Name: MetricReloadTimestamp, Help: "Time of the last successful load of the rules.",
		}),
		count: f.NewGauge(prometheus.GaugeOpts{
			Name: MetricRulesCount, Help: "Rules in the rule set in use.",
		}),
		info: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricRulesInfo, Help: "Always 1; the revision label is the hash of the rule set in use.",
		}, []string{"revision"}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: MetricReloads, Help: "Attempts to load the rules, by result (success, refused, unchanged, error).",
		}, []string{"result"}),
	}, nil
}

// Current is the rule set in use, nil before the first successful load.
func (c *Coordinator) Current() *ruleset.Ruleset { return c.current.Load() }

// Trigger asks Run for a reload, as SIGHUP does; it never blocks.
func (c *Coordinator) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Load loads the rules now and swaps them in. It returns the error of a
// refused or unreadable set, which leaves the current set in place.
func (c *Coordinator) Load(ctx context.Context) error {
	return c.load(ctx, false)
}

func (c *Coordinator) load(ctx context.Context, conditional bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, err := c.read(ctx, conditional)
	if !errors.Is(err, errUnchanged) {
		// Compiling a large set leaves several times its size in garbage
		// (and a swap leaves the old set); hand that memory back to the
		// system now rather than keep the peak as the process's size.
		defer debug.FreeOSMemory()
	}
	switch {
	case errors.Is(err, errUnchanged):
		c.reloads.WithLabelValues("unchanged").Inc()
		return nil
	case err != nil:
		c.setState(false)
		c.ok.Set(0)
		result := "error"
		if errors.Is(err, policy.ErrRefused) {
			result = "refused"
		}
		c.reloads.WithLabelValues(result).Inc()
		attrs := []any{"error", err}
		if old := c.current.Load(); old != nil {
			attrs = append(attrs, "kept_revision", old.Revision)
		}
		var perrs policy.Errors
		if errors.As(err, &perrs) {
			problems := make([]string, len(perrs))
			for i, p := range perrs {
				problems[i] = p.Error()
			}
			attrs = append(attrs, "problems", problems)
		}
		c.log.Error("rule set refused; keeping the last good one", attrs...)
		return err
	}
	old := c.current.Swap(rs)
	c.setState(true)
	c.ok.Set(1)
	c.okTime.SetToCurrentTime()
	c.count.Set(float64(rs.Set.Len()))
	if old != nil && old.Revision != rs.Revision {
		c.info.DeleteLabelValues(old.Revision)
	}
	c.info.WithLabelValues(rs.Revision).Set(1)
	c.reloads.WithLabelValues("success").Inc()
	attrs := []any{"revision", rs.Revision, "rules", rs.Set.Len(), "files", rs.Files}
	if old != nil {
		attrs = append(attrs, "previous_revision", old.Revision)
	}
	c.log.Info("rule set loaded", attrs...)
	return nil
}

var errUnchanged = errors.New("rules unchanged")

// State is how the loading of the rules went, as the status page and the
// rules API show it; the same as the reload gauges of the metrics.
type State struct {
	// Successful tells whether the last load gave a usable set.
	Successful bool `json:"successful"`
	// LastSuccess is when a set was last loaded, to the second; nil
	// before the first.
	LastSuccess *time.Time `json:"last_success"`
}

// State is the state of the last load.
func (c *Coordinator) State() *State {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	st := c.state
	return &st
}

func (c *Coordinator) setState(ok bool) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	c.state.Successful = ok
	if ok {
		t := time.Now().Truncate(time.Second).UTC()
		c.state.LastSuccess = &t
	}
}

func (c *Coordinator) read(ctx context.Context, conditional bool) (*ruleset.Ruleset, error) {
	if c.opts.URL == "" {
		return ruleset.Load(c.opts.Paths, c.opts.Load)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("rules_file_url: %w", err)
	}
	if conditional && c.etag != "" {
		req.Header.Set("If-None-Match", c.etag)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rules_file_url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, errUnchanged
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rules_file_url %s: HTTP %s", c.opts.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("rules_file_url %s: %w", c.opts.URL, err)
	}
	// Remember the tag even for a refused body: polling then stays quiet
	// until the file changes again, while SIGHUP still fetches it anew.
	c.etag = resp.Header.Get("ETag")
	return ruleset.LoadBytes(c.opts.URL, body, c.opts.Load)
}

// Watching is closed once Run is watching the rule files: a change made
// after that is seen.
func (c *Coordinator) Watching() <-chan struct{} { return c.watching }

// Run watches for reasons to reload until ctx ends: Trigger, changes of
// the rule files (their directories are watched, so that editors that
// replace files and mounted ConfigMaps are seen), and the URL's content
// every PollInterval. Reload failures are logged and counted, never
// returned.
func (c *Coordinator) Run(ctx context.Context) error {
	var fileEvents <-chan fsnotify.Event
	var fileErrors <-chan error
	if len(c.opts.Paths) > 0 {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("reload: watching rule files: %w", err)
		}
		defer w.Close()
		for _, dir := range watchDirs(c.opts.Paths) {
			if err := w.Add(dir); err != nil {
				c.log.Warn("cannot watch rule directory; reload with SIGHUP", "dir", dir, "error", err)
			}
		}
		fileEvents, fileErrors = w.Events, w.Errors
		// A change made after the first load and before the watches were
		// in place raised no event: catch up with it now.
		if rev, err := ruleset.FilesRevision(c.opts.Paths); err == nil {
			if cur := c.current.Load(); cur == nil || cur.Revision != rev {
				_ = c.load(ctx, false)
			}
		}
	}
	c.watchingOnce.Do(func() { close(c.watching) })
	var poll <-chan time.Time
	if c.opts.URL != "" && c.opts.PollInterval > 0 {
		t := time.NewTicker(c.opts.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.trigger:
			_ = c.load(ctx, false)
		case <-poll:
			_ = c.load(ctx, true)
		case ev := <-fileEvents:
			if c.relevant(ev) {
				debounce.Reset(c.opts.Debounce)
			}
		case err := <-fileErrors:
			c.log.Warn("watching rule files", "error", err)
		case <-debounce.C:
			_ = c.load(ctx, false)
		}
	}
}

// watchDirs are the directories to watch: each directory given, and the
// directory of each file given.
func watchDirs(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		dir := p
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			dir = filepath.Dir(p)
		}
		if !seen[dir] {
			seen[dir] = true
			out = append(out, dir)
		}
	}
	return out
}

// relevant filters out events of files that are not rules, such as an
// editor's swap files.
func (c *Coordinator) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	for _, p := range c.opts.Paths {
		p = filepath.Clean(p)
		if name == p {
			return true
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() && filepath.Dir(name) == p {
			ext := filepath.Ext(name)
			// ..data is how Kubernetes swaps a mounted ConfigMap.
			return ext == ".yaml" || ext == ".yml" || filepath.Base(name) == "..data"
		}
	}
	return false
}
