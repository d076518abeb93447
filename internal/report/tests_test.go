package report

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

// TestJUnitKeepsCasesThatCannotRun runs a suite with a case naming a
// missing document among good ones and a broken test file beside it, and
// reads the JUnit back: every case is there, the ones that could not run
// as errors with their reason.
func TestJUnitKeepsCasesThatCannotRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules.yaml", "- id: foo\n  type: module\n  rule: {name: '^foo$'}\n  destinations: t\n")
	write("a.test.yaml", `rules: rules.yaml
section:
  - name: s
    tests:
      - name: good
        document: "data: {name: foo, stream: a, version: 1, context: c}"
        expect: {outcome: matched}
      - name: missing
        modulemd: nowhere.yaml
        expect: {outcome: matched}
      - name: also good
        document: "data: {name: bar, stream: a, version: 1, context: c}"
        expect: {outcome: unmatched}
`)
	write("b.test.yaml", "rules: rules.yaml\nsection: [{name: s, tests: [{name: x, bogus: 1}]}]\n")
	rep, err := ruletest.Run(context.Background(), []string{dir}, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Tests(&b, JUnit, rep, false); err != nil {
		t.Fatal(err)
	}
	var got junit.Testsuites
	if err := xml.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("not JUnit XML: %v\n%s", err, b.String())
	}
	if len(got.Suites) != 2 {
		t.Fatalf("%d suites, want one per test file:\n%s", len(got.Suites), b.String())
	}
	a, bad := got.Suites[0], got.Suites[1]
	if a.Tests != 3 || a.Errors != 1 || a.Failures != 0 {
		t.Errorf("suite %s: tests %d, errors %d, failures %d; want 3, 1, 0", a.Name, a.Tests, a.Errors, a.Failures)
	}
	var missing *junit.Testcase
	for i := range a.Testcases {
		if a.Testcases[i].Name == "missing" {
			missing = &a.Testcases[i]
		}
	}
	if missing == nil || missing.Error == nil || !strings.Contains(missing.Error.Message, "nowhere.yaml") {
		t.Errorf("the case naming a missing document is not an error with its reason: %+v", missing)
	}
	if bad.Tests != 1 || bad.Errors != 1 || !strings.Contains(bad.Testcases[0].Error.Message, `unknown key "bogus"`) {
		t.Errorf("the broken test file is not reported as an error naming the problem: %+v", bad)
	}
}

func TestRecordLine(t *testing.T) {
	rule := &decision.Rule{ID: "Fedora", Index: 2}
	msg := "koji: connection refused"
	for _, tt := range []struct {
		rec  decision.Record
		want string
	}{
		{decision.Record{Decision: decision.Decision{Outcome: "matched", Rule: rule, Destinations: []string{"f31", "f30"}}},
			`n:s:1:c (id 7) ready: matched by rule 2 "Fedora" -> f31, f30`},
		{decision.Record{Decision: decision.Decision{Outcome: "unmatched"}},
			`n:s:1:c (id 7) ready: unmatched: no rule matched, build.tag.unmatched announced`},
		{decision.Record{Decision: decision.Decision{Outcome: "matched", Rule: rule, Destinations: []string{"f31"}, Error: msg}},
			`n:s:1:c (id 7) ready: matched by rule 2 "Fedora" -> f31; not done: koji: connection refused`},
		{decision.Record{Decision: decision.Decision{Outcome: "error", Rule: rule, Error: msg}},
			`n:s:1:c (id 7) ready: error in rule 2 "Fedora": koji: connection refused`},
	} {
		tt.rec.Decision.Event = build.ModuleMessage(build.Event{ID: 7, Name: "n", Stream: "s", Version: "1", Context: "c", StateName: "ready"})
		var b strings.Builder
		if err := Record(&b, tt.rec); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(b.String(), "\n"); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestRecordLinesSplitsWrites(t *testing.T) {
	var b strings.Builder
	w := NewLines(&b)
	line := `{"event":{"id":1,"name":"n","stream":"s","version":"1","context":"c","state_name":"done"},"outcome":"skipped"}` + "\n"
	for _, part := range []string{line[:10], line[10:] + line[:5], line[5:]} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Summary(); err != nil {
		t.Fatal(err)
	}
	want := "n:s:1:c (id 1) done: skipped: no rule for state \"done\"\n"
	if b.String() != want+want+"2 events: 2 skipped\n" {
		t.Errorf("got %q", b.String())
	}
}
