package web

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/service"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"join":  strings.Join,
	"deref": func(s *string) string { return *s },
	"verdictClass": func(v string) string {
		switch v {
		case "matched":
			return "yes"
		case "error":
			return "error"
		}
		return "muted"
	},
}).ParseFS(templateFiles, "templates/*.html"))

// pageLimit is how many decisions each list of the status page shows.
const pageLimit = 50

type statusData struct {
	Title       string
	Search      string
	SearchError string
	Found       []history.Decision
	Info        *RulesInfo
	HeldKnown   bool
	Held        []service.HeldEvent
	Failures    []history.Decision
	Recent      []history.Decision
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := statusData{Title: "Status", Search: strings.TrimSpace(r.URL.Query().Get("build"))}
	var err error
	if data.Search != "" {
		data.Found, err = s.Store.List(ctx, history.Filter{Build: data.Search, Limit: pageLimit})
		if err != nil {
			data.SearchError = err.Error()
		}
	}
	if data.Info, err = s.Info(ctx); err != nil {
		s.pageError(w, err)
		return
	}
	if s.Held != nil {
		data.HeldKnown, data.Held = true, s.Held.Held()
	}
	if data.Failures, err = s.Store.Failures(ctx, pageLimit); err != nil {
		s.pageError(w, err)
		return
	}
	if data.Recent, err = s.Store.List(ctx, history.Filter{Limit: pageLimit}); err != nil {
		s.pageError(w, err)
		return
	}
	s.render(w, "status.html", data)
}

type decisionData struct {
	Title  string
	Search string
	D      *history.DecisionDetail
}

func (s *Server) decisionPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "not a decision id", http.StatusBadRequest)
		return
	}
	d, err := s.Store.Detail(r.Context(), id)
	if errors.Is(err, history.ErrNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		s.pageError(w, err)
		return
	}
	s.render(w, "decision.html", decisionData{Title: "Decision " + strconv.FormatInt(id, 10) + " " + d.Decision.Build, D: d})
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	// Rendered to a buffer first: a template error gives a 500, not half
	// a page.
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.pageError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

func (s *Server) pageError(w http.ResponseWriter, err error) {
	s.log().Error("status page", "error", err)
	http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
}
