package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/internal/history"
)

// ErrUnauthorized is a server's answer to a request without its bearer
// token (api_token_file), or with another.
var ErrUnauthorized = errors.New("the server wants its API token")

// Client reads the API of a running service.
type Client struct {
	HTTP  *http.Client
	Token string
}

// WhyFromServers gathers the decisions for build from the APIs at bases.
func (c Client) WhyFromServers(ctx context.Context, bases []string, build string) (*history.Why, error) {
	w := &history.Why{Build: build, Decisions: []history.DecisionDetail{}}
	for _, base := range bases {
		base = strings.TrimSuffix(base, "/")
		var list DecisionList
		q := url.Values{"build": {build}, "limit": {strconv.Itoa(history.WhyLimit)}}
		if err := c.get(ctx, base+"/api/v1/decisions?"+q.Encode(), &list); err != nil {
			return nil, err
		}
		for _, d := range list.Decisions {
			var dd history.DecisionDetail
			if err := c.get(ctx, base+"/api/v1/decisions/"+strconv.FormatInt(d.ID, 10), &dd); err != nil {
				return nil, err
			}
			dd.Decision.Store = base
			w.Decisions = append(w.Decisions, dd)
		}
	}
	history.NewestFirst(w.Decisions)
	return w, nil
}

func (c Client) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := resp.Status
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg += ": " + e.Error
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("GET %s: %s: %w", u, msg, ErrUnauthorized)
		}
		return fmt.Errorf("GET %s: %s", u, msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
