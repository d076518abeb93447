package history

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/eval"
)

// HeldEvent is an event the pipeline holds because a dependency is down:
// it is neither decided nor acknowledged yet.
type HeldEvent struct {
	Event     build.Event `json:"event"`
	MessageID string      `json:"message_id"`
	Since     time.Time   `json:"since"`
	// Dependency is what it waits for: koji, mbs, bus, rules,
	// decision_store.
	Dependency string `json:"dependency"`
	LastError  string `json:"last_error"`
}

// Holder lists the events held now; the pipeline has it.
type Holder interface {
	Held() []HeldEvent
}

// Reload is the state of the rule loading, as the status page shows it.
type Reload struct {
	Successful  bool       `json:"successful"`
	LastSuccess *time.Time `json:"last_success"`
}

// Metric names of internal/reload read for the reload state.
const (
	metricReloadSuccessful = "mts_rules_last_reload_successful"
	metricReloadTimestamp  = "mts_rules_last_reload_success_timestamp_seconds"
)

// ReloadFromMetrics reads the reload state from the rule coordinator's
// gauges, so that the page shows what /monitor/metrics says.
func ReloadFromMetrics(g prometheus.Gatherer) func() *Reload {
	return func() *Reload {
		mfs, err := g.Gather()
		if err != nil {
			return nil
		}
		var r Reload
		found := false
		for _, mf := range mfs {
			if len(mf.GetMetric()) == 0 || mf.GetMetric()[0].GetGauge() == nil {
				continue
			}
			v := mf.GetMetric()[0].GetGauge().GetValue()
			switch mf.GetName() {
			case metricReloadSuccessful:
				r.Successful, found = v == 1, true
			case metricReloadTimestamp:
				if v > 0 {
					t := time.Unix(int64(v), 0).UTC()
					r.LastSuccess = &t
				}
			}
		}
		if !found {
			return nil
		}
		return &r
	}
}

// Server is the read-only decision API (/api/v1/...) and the status page
// (/ and /decisions/{id}) of one store.
type Server struct {
	Store *Store
	// Rules is the rule set in use; Reload its load state; Held the
	// events held by an outage. Each may be nil.
	Rules  Rules
	Reload func() *Reload
	Held   Holder
	// Token, when not empty, is the bearer token the API requires.
	Token  string
	Logger *slog.Logger
}

// Register adds the API and the page to mux. The page takes / (exactly),
// so that the other endpoints of the listener stay where they are.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/decisions", s.api(s.listDecisions))
	mux.Handle("GET /api/v1/decisions/{id}", s.api(s.getDecision))
	mux.Handle("GET /api/v1/rules", s.api(s.rules))
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("GET /decisions/{id}", s.decisionPage)
}

// apiError is an answer other than 200, in the API's error shape.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) api(fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s.Token != "" && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mts"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
			return
		}
		v, err := fn(r)
		if err != nil {
			status := http.StatusInternalServerError
			var ae *apiError
			switch {
			case errors.As(err, &ae):
				status = ae.status
			case errors.Is(err, ErrNotFound):
				status = http.StatusNotFound
			default:
				s.log().Error("history API", "path", r.URL.Path, "error", err)
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.Token)) == 1
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxLimit bounds one answer of the decision list.
const maxLimit = 1000

// ParseFilter reads the query of GET /api/v1/decisions: build, outcome
// (comma-separated), rule, since (RFC 3339 time, or a period back from
// now such as 7d or 36h) and limit.
func ParseFilter(q map[string][]string, now time.Time) (Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := Filter{Build: get("build"), Rule: get("rule")}
	if o := get("outcome"); o != "" {
		for _, p := range strings.Split(o, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Outcomes = append(f.Outcomes, p)
			}
		}
	}
	if v := get("since"); v != "" {
		since, err := ParseSince(v, now)
		if err != nil {
			return f, badRequest("since: %v", err)
		}
		f.Since = since
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return f, badRequest("limit: want a number from 1 to %d, not %q", maxLimit, v)
		}
		f.Limit = n
	}
	return f, nil
}

// ParseSince reads an RFC 3339 time or a period back from now (7d, 36h).
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a time (RFC 3339) or a period such as 7d or 36h", v)
	}
	return now.Add(-d), nil
}

// DecisionList is the answer of GET /api/v1/decisions.
type DecisionList struct {
	Decisions []Decision `json:"decisions"`
}

func (s *Server) listDecisions(r *http.Request) (any, error) {
	f, err := ParseFilter(r.URL.Query(), time.Now())
	if err != nil {
		return nil, err
	}
	ds, err := s.Store.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	return DecisionList{Decisions: ds}, nil
}

// DecisionDetail is the answer of GET /api/v1/decisions/{id}: the
// decision and its explanation, recomputed against the rules revision
// that made it (null with explain_error when that cannot be done).
type DecisionDetail struct {
	Decision     Decision          `json:"decision"`
	Explanation  *eval.Explanation `json:"explanation"`
	ExplainError string            `json:"explain_error,omitempty"`
}

// Detail reads one decision with its explanation.
func (s *Store) Detail(ctx context.Context, id int64) (*DecisionDetail, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &DecisionDetail{Decision: *d}
	x, err := s.Explain(ctx, d)
	if err != nil {
		out.ExplainError = err.Error()
	} else {
		out.Explanation = x
	}
	return out, nil
}

func (s *Server) getDecision(r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, badRequest("decision id %q: want a number", r.PathValue("id"))
	}
	return s.Store.Detail(r.Context(), id)
}

// RulesInfo is the answer of GET /api/v1/rules.
type RulesInfo struct {
	// Current is the revision in use (empty when no rules are loaded).
	Current   string     `json:"current"`
	Files     []string   `json:"files"`
	Reload    *Reload    `json:"reload"`
	Revisions []Revision `json:"revisions"`
	Hits      []RuleHits `json:"hits"`
}

// Info gathers the rules answer.
func (s *Server) Info(ctx context.Context) (*RulesInfo, error) {
	out := &RulesInfo{Files: []string{}}
	if s.Rules != nil {
		if rs := s.Rules.Current(); rs != nil {
			out.Current, out.Files = rs.Revision, rs.Files
		}
	}
	if s.Reload != nil {
		out.Reload = s.Reload()
	}
	var err error
	if out.Revisions, err = s.Store.Revisions(ctx); err != nil {
		return nil, err
	}
	if out.Hits, err = s.Store.Hits(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) rules(r *http.Request) (any, error) {
	return s.Info(r.Context())
}
