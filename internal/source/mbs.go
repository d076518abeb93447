package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
)

// StatusError is an HTTP answer other than 200 from MBS.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("mbs: HTTP %d: %s", e.Code, e.Body)
}

// MBSOptions tune an MBS client.
type MBSOptions struct {
	// HTTPClient defaults to a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one request (requests_timeout); 60s by default.
	Timeout time.Duration
}

// MBS reads modulemd documents from MBS's API, one request per call: the
// pipeline decides when to ask again.
type MBS struct {
	base *url.URL
	hc   *http.Client
	opts MBSOptions
}

// NewMBS returns a client for the API at baseURL (mbs_api_url, e.g.
// https://mbs.fedoraproject.org/module-build-service/1/).
func NewMBS(baseURL string, opts MBSOptions) (*MBS, error) {
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
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opts.Timeout}
	}
	return &MBS{base: u, hc: hc, opts: opts}, nil
}

// Dependency implements Source.
func (c *MBS) Dependency() string { return DependencyMBS }

// Modulemd returns the modulemd document of the event's module build.
func (c *MBS) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	return c.Fetch(ctx, ev.ID)
}

// Fetch returns the modulemd document of module build id. HTTP 404 and
// other 4xx answers but 429 wrap ErrNotFound: asking again will not help.
func (c *MBS) Fetch(ctx context.Context, id int64) ([]byte, error) {
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
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return nil, fmt.Errorf("module build %d: %w: %w", id, ErrNotFound, &StatusError{Code: resp.StatusCode, Body: snippet(body)})
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
