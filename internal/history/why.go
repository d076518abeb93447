package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Why is the answer of `mts why -o json`: every decision recorded for the
// build, newest first, each with its explanation.
type Why struct {
	Build     string           `json:"build"`
	Decisions []DecisionDetail `json:"decisions"`
}

// whyLimit bounds the decisions read per source.
const whyLimit = 1000

// WhyFromStores gathers the decisions for build from several stores.
func WhyFromStores(ctx context.Context, stores []*Store, build string) (*Why, error) {
	w := &Why{Build: build, Decisions: []DecisionDetail{}}
	for _, s := range stores {
		ds, err := s.List(ctx, Filter{Build: build, Limit: whyLimit})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			dd, err := s.Detail(ctx, d.ID)
			if err != nil {
				return nil, err
			}
			w.Decisions = append(w.Decisions, *dd)
		}
	}
	sortNewestFirst(w.Decisions)
	return w, nil
}

func sortNewestFirst(ds []DecisionDetail) {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Decision.Time.After(ds[j].Decision.Time) })
}

// ErrUnauthorized is a server's answer to a request without its bearer
// token (api_token_file), or with another.
var ErrUnauthorized = errors.New("the server wants its API token")

// Client reads the API of a running service.
type Client struct {
	HTTP  *http.Client
	Token string
}

// WhyFromServers gathers the decisions for build from the APIs at bases.
func (c Client) WhyFromServers(ctx context.Context, bases []string, build string) (*Why, error) {
	w := &Why{Build: build, Decisions: []DecisionDetail{}}
	for _, base := range bases {
		base = strings.TrimSuffix(base, "/")
		var list DecisionList
		q := url.Values{"build": {build}, "limit": {strconv.Itoa(whyLimit)}}
		if err := c.get(ctx, base+"/api/v1/decisions?"+q.Encode(), &list); err != nil {
			return nil, err
		}
		for _, d := range list.Decisions {
			var dd DecisionDetail
			if err := c.get(ctx, base+"/api/v1/decisions/"+strconv.FormatInt(d.ID, 10), &dd); err != nil {
				return nil, err
			}
			dd.Decision.Store = base
			w.Decisions = append(w.Decisions, dd)
		}
	}
	sortNewestFirst(w.Decisions)
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

// WriteWhy renders w as text (json is the Why itself).
func WriteWhy(out io.Writer, format string, w *Why) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(w)
	}
	if len(w.Decisions) == 0 {
		_, err := fmt.Fprintf(out, "no decision recorded for %s\n", w.Build)
		return err
	}
	for i, dd := range w.Decisions {
		d := dd.Decision
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "%s %s (MBS build %d), decided %s", d.Build, d.State, d.EventID, d.Time.Format("2006-01-02 15:04:05Z"))
		if d.Deliveries > 1 {
			fmt.Fprintf(out, ", %d deliveries", d.Deliveries)
		}
		fmt.Fprintf(out, "\n  decision %d in %s, message %s, rules revision %s\n", d.ID, d.Store, d.MessageID, d.Revision)
		fmt.Fprintf(out, "  outcome: %s\n", describe(d))
		if d.DryRun {
			fmt.Fprintln(out, "  dry run: nothing was tagged or announced")
		}
		for _, t := range d.Tasks {
			task := "no task"
			if t.TaskID != nil {
				task = "task " + strconv.FormatInt(*t.TaskID, 10)
			}
			state := t.State
			switch {
			case state == "" && t.Error != "":
				state = t.Error
			case state == "" && d.DryRun:
				state = "dry run: no task"
			case state == "":
				state = "state not known yet"
			}
			fmt.Fprintf(out, "  tag %s %s: %s, %s\n", t.Tag, t.NVR, task, state)
		}
		if dd.ExplainError != "" {
			fmt.Fprintf(out, "  cannot explain again: %s\n", dd.ExplainError)
			continue
		}
		x := dd.Explanation
		if x == nil {
			continue
		}
		if len(x.Rules) == 0 {
			fmt.Fprintf(out, "  no rule applies to state %q\n", d.State)
		}
		for _, r := range x.Rules {
			fmt.Fprintf(out, "  rule %d %q (%s): %s\n", r.Index, r.ID, r.Source, r.Verdict)
			if r.Match != "" {
				fmt.Fprintf(out, "    match: %s\n", r.Match)
			}
			for _, s := range r.Steps {
				mark := "no"
				if s.Result {
					mark = "yes"
				}
				fmt.Fprintf(out, "    %-3s %s (line %d): expected %s, saw %s\n", mark, s.Label, s.Source.Line, s.Expected, s.Seen)
				if s.Note != "" {
					fmt.Fprintf(out, "        %s\n", s.Note)
				}
			}
			if r.Error != "" {
				fmt.Fprintf(out, "    error: %s\n", r.Error)
			}
		}
	}
	return nil
}

func describe(d Decision) string {
	s := d.Outcome
	if d.RuleID != nil {
		s += fmt.Sprintf(", rule %q", *d.RuleID)
	}
	if len(d.Destinations) > 0 {
		s += " -> " + strings.Join(d.Destinations, ", ")
	}
	if d.Error != nil {
		s += ": " + *d.Error
	}
	return s
}
