// Package web is every HTTP endpoint of `mts serve`'s listener and the
// client of its API: the metrics, health and readiness endpoints, the
// read-only decision API (/api/v1/...), the status page (/ and
// /decisions/{id}), and the Client `mts why --server` reads the API with.
// It reads the decision store (internal/history), the rule coordinator's
// state (internal/reload) and the pipeline's held events; it must not
// decide, tag, or write to the store.
package web

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

	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/service"
)

// Holder lists the events held now; the pipeline (*service.Service) has
// it.
type Holder interface {
	Held() []service.HeldEvent
}

// Server is the read-only decision API (/api/v1/...) and the status page
// (/ and /decisions/{id}) of one store.
type Server struct {
	Store *history.Store
	// Rules is the rule set in use; Reload its load state (the
	// coordinator's State); Held the events held by an outage. Each may
	// be nil.
	Rules  history.Rules
	Reload func() *reload.State
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
			case errors.Is(err, history.ErrNotFound):
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
func ParseFilter(q map[string][]string, now time.Time) (history.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := history.Filter{Build: get("build"), Rule: get("rule")}
	if o := get("outcome"); o != "" {
		for _, p := range strings.Split(o, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Outcomes = append(f.Outcomes, p)
			}
		}
	}
	if v := get("since"); v != "" {
		since, err := history.ParseSince(v, now)
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

// DecisionList is the answer of GET /api/v1/decisions.
type DecisionList struct {
	Decisions []history.Decision `json:"decisions"`
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
	Current   string             `json:"current"`
	Files     []string           `json:"files"`
	Reload    *reload.State      `json:"reload"`
	Revisions []history.Revision `json:"revisions"`
	Hits      []history.RuleHits `json:"hits"`
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
