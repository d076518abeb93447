package report

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/policy"
)

func sampleResult(t *testing.T) *lint.Result {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	src := "- id: a\n  type: module\n  rule: {scratch: yes}\n  destinations: t\n- id: b\n  type: module\n  rule: {name: '(?=x)'}\n  destinations: t\n- id: c\n  type: module\n  rule: {stream: 'f\\d'}\n  destinations: t\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := lint.Paths(context.Background(), []string{dir}, lint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Count(lint.Error) == 0 || r.Count(lint.Warning) == 0 || r.Count(lint.Info) == 0 {
		t.Fatalf("sample should have every severity: %+v", r.Diagnostics)
	}
	return r
}

// TestSARIF checks the output against the properties SARIF 2.1.0's schema
// requires (sarifLog: version, runs; run: tool; tool: driver; driver:
// name; result: message; message: text; reportingDescriptor: id) and the
// enumerations it constrains.
func TestSARIF(t *testing.T) {
	r := sampleResult(t)
	var b strings.Builder
	if err := Lint(&b, SARIF, r, false, Tool{Name: "mts lint", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal([]byte(b.String()), &log); err != nil {
		t.Fatal(err)
	}
	need := func(m map[string]any, key, where string) any {
		v, ok := m[key]
		if !ok {
			t.Fatalf("%s: required property %q missing", where, key)
		}
		return v
	}
	obj := func(v any, where string) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object: %v", where, v)
		}
		return m
	}
	arr := func(v any, where string) []any {
		a, ok := v.([]any)
		if !ok {
			t.Fatalf("%s: not an array: %v", where, v)
		}
		return a
	}
	if v := need(log, "version", "sarifLog"); v != "2.1.0" {
		t.Errorf("version %v", v)
	}
	runs := arr(need(log, "runs", "sarifLog"), "runs")
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := obj(runs[0], "run")
	driver := obj(need(obj(need(run, "tool", "run"), "tool"), "driver", "tool"), "driver")
	if s, _ := need(driver, "name", "driver").(string); s == "" {
		t.Error("driver name empty")
	}
	ids := map[string]int{}
	for i, rd := range arr(need(driver, "rules", "driver"), "rules") {
		id, _ := need(obj(rd, "rule"), "id", "reportingDescriptor").(string)
		ids[id] = i
	}
	results := arr(need(run, "results", "run"), "results")
	if len(results) != len(r.Diagnostics) {
		t.Fatalf("%d results for %d diagnostics", len(results), len(r.Diagnostics))
	}
	levels := map[string]bool{"none": true, "note": true, "warning": true, "error": true}
	for i, rv := range results {
		res := obj(rv, "result")
		msg := obj(need(res, "message", "result"), "message")
		if s, _ := need(msg, "text", "message").(string); s == "" {
			t.Errorf("result %d: empty message", i)
		}
		if l, _ := res["level"].(string); !levels[l] {
			t.Errorf("result %d: level %q", i, l)
		}
		id, _ := res["ruleId"].(string)
		if idx, ok := ids[id]; !ok || res["ruleIndex"] != float64(idx) {
			t.Errorf("result %d: ruleId %q and ruleIndex %v disagree with the driver's rules", i, id, res["ruleIndex"])
		}
		for _, lv := range arr(res["locations"], "locations") {
			pl := obj(obj(lv, "location")["physicalLocation"], "physicalLocation")
			uri, _ := obj(pl["artifactLocation"], "artifactLocation")["uri"].(string)
			if !strings.HasSuffix(uri, "rules.yaml") {
				t.Errorf("result %d: uri %q", i, uri)
			}
			region := obj(pl["region"], "region")
			if l, _ := region["startLine"].(float64); l < 1 {
				t.Errorf("result %d: startLine %v", i, region["startLine"])
			}
		}
	}
}

func TestJUnit(t *testing.T) {
	r := sampleResult(t)
	for _, strict := range []bool{false, true} {
		var b strings.Builder
		if err := Lint(&b, JUnit, r, strict, Tool{}); err != nil {
			t.Fatal(err)
		}
		var got junit.Testsuites
		if err := xml.Unmarshal([]byte(b.String()), &got); err != nil {
			t.Fatalf("output is not XML: %v", err)
		}
		if len(got.Suites) != 1 || got.Suites[0].Tests != 1 || got.Suites[0].Failures != 1 {
			t.Fatalf("suites %+v", got.Suites)
		}
		f := got.Suites[0].Testcases[0].Failure
		if f == nil || !strings.Contains(f.Data, "MTS103") {
			t.Fatalf("failure %+v lacks the error", f)
		}
		if strings.Contains(f.Data, "MTS201") != strict {
			t.Errorf("strict=%v: warnings in failure: %q", strict, f.Data)
		}
	}
}

func TestGitHubEscapes(t *testing.T) {
	r := &lint.Result{Files: []string{"a,b:c.yaml"}, Diagnostics: []lint.Diagnostic{{Code: "MTS201", Severity: lint.Warning,
		Message: "100% sure\nnext", Pos: policy.Position{File: "a,b:c.yaml", Line: 3, Col: 4}}}}
	var b strings.Builder
	if err := Lint(&b, GitHub, r, false, Tool{}); err != nil {
		t.Fatal(err)
	}
	want := "::warning file=a%2Cb%3Ac.yaml,line=3,col=4,title=MTS201::100%25 sure%0Anext\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
