package compat_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

type semanticsCase struct {
	Name         string   `yaml:"name"`
	Rules        string   `yaml:"rules"`
	Data         string   `yaml:"data"`
	State        string   `yaml:"state"`
	Outcome      string   `yaml:"outcome"`
	Rule         string   `yaml:"rule"`
	Destinations []string `yaml:"destinations"`
	Error        string   `yaml:"error"`
}

func readCases[T any](t *testing.T, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// TestSemantics checks each behaviour of the legacy format on a small rule
// file and document (testdata/semantics.yaml).
func TestSemantics(t *testing.T) {
	for _, tc := range readCases[semanticsCase](t, "testdata/semantics.yaml") {
		t.Run(tc.Name, func(t *testing.T) {
			rs, err := ruleset.LoadBytes("rules.yaml", []byte(tc.Rules), ruleset.Options{})
			if err != nil {
				t.Fatalf("loading rules: %v", err)
			}
			// The data is YAML text parsed as a modulemd document, so its
			// scalars go through the same YAML 1.1 reading as real ones.
			doc, err := modulemd.Parse([]byte("document: modulemd\nversion: 2\ndata: " + tc.Data + "\n"))
			if err != nil {
				t.Fatalf("parsing document: %v", err)
			}
			state := tc.State
			if state == "" {
				state = "ready"
			}
			d, err := rs.Decide(build.Event{ID: 1, Name: "x", Stream: "s", Version: "1", Context: "c", StateName: state}, doc)
			if tc.Outcome == "error" {
				var ee *policy.EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("got %s, %v; want an evaluation error", d.Outcome, err)
				}
				if ee.RuleID != tc.Rule || !strings.Contains(err.Error(), tc.Error) {
					t.Fatalf("error %v, want one in rule %q containing %q", err, tc.Rule, tc.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if string(d.Outcome) != tc.Outcome {
				t.Fatalf("outcome %s, want %s", d.Outcome, tc.Outcome)
			}
			if tc.Rule != "" && (d.Rule == nil || d.Rule.ID != tc.Rule) {
				t.Fatalf("rule %v, want %q", d.Rule, tc.Rule)
			}
			if tc.Destinations != nil && !reflect.DeepEqual(d.Destinations, tc.Destinations) {
				t.Fatalf("destinations %q, want %q", d.Destinations, tc.Destinations)
			}
		})
	}
}

type refusedCase struct {
	Name   string   `yaml:"name"`
	File   string   `yaml:"file"`
	Errors []string `yaml:"errors"`
}

// TestRefused checks that unusable rule files are refused whole, with
// every problem at its FILE:LINE:COL (testdata/refused.yaml).
func TestRefused(t *testing.T) {
	for _, tc := range readCases[refusedCase](t, "testdata/refused.yaml") {
		t.Run(tc.Name, func(t *testing.T) {
			rs, err := ruleset.LoadBytes("rules.yaml", []byte(tc.File), ruleset.Options{})
			if err == nil {
				t.Fatalf("rule set accepted with %d rules", rs.Set.Len())
			}
			if !errors.Is(err, policy.ErrRefused) {
				t.Fatalf("error %v does not wrap ErrRefused", err)
			}
			probs := ruleset.Problems(err)
			if len(probs) != len(tc.Errors) {
				t.Fatalf("got %d problems, want %d:\n%v", len(probs), len(tc.Errors), err)
			}
			for i, p := range probs {
				if !strings.HasPrefix(p.Error(), tc.Errors[i]) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, p.Error(), tc.Errors[i])
				}
			}
		})
	}
}

func TestEmptyFileIsAnEmptyRuleSet(t *testing.T) {
	for _, text := range []string{"", "---\n", "# only a comment\n"} {
		rs, err := ruleset.LoadBytes("rules.yaml", []byte(text), ruleset.Options{})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if rs.Set.Len() != 0 {
			t.Fatalf("%q: %d rules", text, rs.Set.Len())
		}
		d, err := rs.Set.Eval(&policy.Input{Event: build.Event{StateName: "ready"}})
		if err != nil || d.Outcome != policy.Skipped {
			t.Fatalf("%q: decision %v, %v; want skipped", text, d.Outcome, err)
		}
	}
}
