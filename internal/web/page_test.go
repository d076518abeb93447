package web_test

import (
	"context"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/reload"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/internal/web"
	"github.com/fedora-modularity/mts/policy"
)

// heldEvents is what a pipeline in an outage reports.
type heldEvents []service.HeldEvent

func (h heldEvents) Held() []service.HeldEvent { return h }

// TestStatusPageInChromium loads the status page in a real browser,
// searches a build, follows its decision link and reads the explanation.
func TestStatusPageInChromium(t *testing.T) {
	browser := testenv.Chromium(t)
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "broken")
	rules.Set(rs)
	c := historytest.NewClock(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	s := historytest.OpenStore(t, rules, history.Options{Now: c.Now})
	for i, b := range historytest.Builds {
		c.Add(time.Minute)
		if err := s.Record(ctx, historytest.Decision(t, rs, b.ID, b.File, fmt.Sprintf("msg-%d", i), int64(1000+10*i))); err != nil {
			t.Fatal(err)
		}
	}
	// A decision on one of Koji's events: a move out of the tag the
	// build was tagged into.
	c.Add(time.Minute)
	kev := build.KojiEvent{Kind: build.KindTag, Tag: "f40-updates-candidate", User: "bodhi",
		Build: build.KojiBuild{ID: 2412345, Name: "bash", Version: "5.2.26", Release: "3.fc40", State: 1, Types: map[string]any{"rpm": nil}, Complete: true}}
	kd := decision.ForKoji(kev, policy.Decision{Outcome: policy.Matched, Rule: &policy.Rule{Spec: policy.Spec{ID: "Candidate to signing", Index: 1}},
		Destinations: []string{"f40-signing-pending"}}, []string{"f40-updates-candidate"})
	task := int64(2000)
	kd.Actions[0].TaskID = &task
	if err := s.Record(ctx, decision.Record{EventID: 2412345, MessageID: "msg-koji", Revision: rs.Revision, Decision: kd}); err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	held := heldEvents{{
		Message:   build.ModuleMessage(build.Event{ID: 301, Name: "perl", Stream: "5.30", Version: "3120200101000000", Context: "abcdef12", StateName: "ready"}),
		MessageID: "msg-held", Since: time.Date(2026, 11, 30, 8, 30, 0, 0, time.UTC), Dependency: "koji",
		LastError: "koji: ServerOffline: database outage",
	}}
	mux := http.NewServeMux()
	(&web.Server{Store: s, Rules: rules, Held: held, Reload: func() *reload.State {
		return &reload.State{Successful: false, LastSuccess: &last}
	}}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		tctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return v
	}

	run(chromedp.Navigate(srv.URL + "/"))
	if got := text("#revision"); got != rs.Revision {
		t.Errorf("revision shown %q, want %q", got, rs.Revision)
	}
	for sel, want := range map[string]string{
		"table.rules": "refused",
		"table.hits":  "Fedora modules",
		"table.held":  "ServerOffline: database outage",
	} {
		if got := text(sel); !strings.Contains(got, want) {
			t.Errorf("%s shows %q, want %q in it", sel, got, want)
		}
	}
	if got := text("table.held"); !strings.Contains(got, "perl:5.30:3120200101000000:abcdef12") || !strings.Contains(got, "koji") {
		t.Errorf("held events: %q", got)
	}
	// The Koji decision's row: its NVR, kind and tag, destination and
	// untag. The newest decision comes first.
	if got := text("table.decisions:last-of-type tbody tr:first-child"); !strings.Contains(got, "bash-5.2.26-3.fc40") ||
		!strings.Contains(got, "build.tag f40-updates-candidate") || !strings.Contains(got, "f40-signing-pending untag f40-updates-candidate") {
		t.Errorf("Koji decision row: %q", got)
	}

	// Search the Koji build by NVR and open its decision.
	run(
		chromedp.SendKeys(chromedp.CSS("#build"), "bash-5.2.26-3.fc40"),
		chromedp.Submit(chromedp.CSS("#build")),
		chromedp.WaitVisible(chromedp.CSS("#search")),
		chromedp.Click(chromedp.CSS("#search + table a.decision")),
		chromedp.WaitVisible(chromedp.CSS("#kind")),
	)
	if got := text("#kind"); got != "build.tag f40-updates-candidate by bodhi" {
		t.Errorf("Koji event shown %q", got)
	}
	if got := text("#untag"); got != "f40-updates-candidate" {
		t.Errorf("untag shown %q", got)
	}
	run(chromedp.Navigate(srv.URL + "/"))

	// Search a build as a user does: type it and submit the form.
	run(
		chromedp.SendKeys(chromedp.CSS("#build"), "nodejs:12"),
		chromedp.Submit(chromedp.CSS("#build")),
		chromedp.WaitVisible(chromedp.CSS("#search")),
	)
	if got := text("#search"); got != "Decisions for nodejs:12" {
		t.Errorf("search heading %q", got)
	}
	found := text("#search + table")
	if !strings.Contains(found, "nodejs:12:3120191115180204:eed43de7") || strings.Contains(found, "javapackages") {
		t.Errorf("search results: %q", found)
	}

	// Follow the decision link to its explanation.
	run(
		chromedp.Click(chromedp.CSS("#search + table a.decision")),
		chromedp.WaitVisible(chromedp.CSS("#outcome")),
	)
	tctx, cancel := context.WithTimeout(browser, 30*time.Second)
	loc, err := chromedp.Run(tctx, chromedp.Location())
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(loc, "/decisions/2") {
		t.Errorf("decision link led to %s", loc)
	}
	if got := text("#outcome"); got != "unmatched" {
		t.Errorf("outcome %q", got)
	}
	if got := text("h3.rule"); !strings.Contains(got, `Fedora modules`) || !strings.Contains(got, "no match") {
		t.Errorf("rule heading %q", got)
	}
	if got := text("table.criteria"); !strings.Contains(got, "name") || !strings.Contains(got, "'^javapackages-tools$'") || !strings.Contains(got, "'nodejs'") {
		t.Errorf("criteria %q", got)
	}
}
