// Package mbs fetches the final modulemd document of a module build from
// the Module Build Service, with timeouts, retries and a small cache, and,
// for development, from a directory of modulemd files standing in for MBS.
package mbs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
)

// ErrNotFound marks a module build MBS does not know, or one without a
// modulemd: asking again will not help.
var ErrNotFound = errors.New("mbs: module build not found")

// StatusError is an HTTP answer other than 200 from MBS.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("mbs: HTTP %d: %s", e.Code, e.Body)
}

// Transient reports whether a later attempt may succeed: transport errors,
// timeouts and HTTP 5xx or 429. ErrNotFound and other 4xx are permanent.
func Transient(err error) bool {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	return true
}

// Options tune a Client.
type Options struct {
	// HTTPClient defaults to a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one request (requests_timeout); 60s by default.
	Timeout time.Duration
	// Attempts is how many times a transient failure is tried; 3 by default.
	Attempts int
	// Backoff is the first pause between attempts, doubled each time;
	// 500ms by default.
	Backoff time.Duration
	Logger  *slog.Logger
}

// Client reads modulemd documents from MBS's API.
type Client struct {
	base *url.URL
	hc   *http.Client
	opts Options
	log  *slog.Logger
}

// New returns a client for the API at baseURL (mbs_api_url, e.g.
// https://mbs.fedoraproject.org/module-build-service/1/).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("mbs: bad API URL %q", baseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opts.Timeout}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{base: u, hc: hc, opts: opts, log: log}, nil
}

// Modulemd returns the modulemd document of the event's module build.
func (c *Client) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	return c.Fetch(ctx, ev.ID)
}

// Fetch returns the modulemd document of module build id.
func (c *Client) Fetch(ctx context.Context, id int64) ([]byte, error) {
	pause := c.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		var doc []byte
		doc, err = c.fetchOnce(ctx, id)
		if err == nil {
			return doc, nil
		}
		if !Transient(err) || attempt >= c.opts.Attempts || ctx.Err() != nil {
			return nil, err
		}
		c.log.Warn("MBS request failed, trying again", "module_build_id", id, "attempt", attempt, "error", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (after %v)", ctx.Err(), err)
		case <-t.C:
		}
		pause *= 2
	}
}

func (c *Client) fetchOnce(ctx context.Context, id int64) ([]byte, error) {
	u := c.base.JoinPath("module-builds", strconv.FormatInt(id, 10))
	u.RawQuery = "verbose=true"
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("mbs: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mbs: module build %d: %w", id, err)
	}
	defer resp.Body.Close()
	// Modulemd documents of large modules run to a few hundred kilobytes.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("mbs: module build %d: reading the answer: %w", id, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("module build %d: %w", id, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("module build %d: %w", id, &StatusError{Code: resp.StatusCode, Body: snippet(body)})
	}
	var ans struct {
		Modulemd *string `json:"modulemd"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("mbs: module build %d: answer is not JSON: %w", id, err)
	}
	if ans.Modulemd == nil || *ans.Modulemd == "" {
		return nil, fmt.Errorf("module build %d has no modulemd yet: %w", id, ErrNotFound)
	}
	return []byte(*ans.Modulemd), nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
