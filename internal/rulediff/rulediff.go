// Package rulediff compares the decisions of two rule sets on a corpus of
// builds, so that a reviewer sees what a rule change does before it is
// merged.
package rulediff

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
	"github.com/fedora-modularity/mts/policy"
)

// Case is one build to decide for.
type Case struct {
	// Source is where the case comes from: a modulemd file, or an events
	// file and line.
	Source string
	// Event is the build's event; for a batch line that cannot be read,
	// the zero event with Err set.
	Event build.Event
	Doc   *modulemd.Document
	Err   error
	// batch is the line of an events file, decided with eval.Run.
	batch *eval.Case
}

// LoadCases reads the builds at paths: modulemd files, directories of
// them (*.yaml and *.yml, in name order), and events files in the `mts
// eval` batch shape (*.jsonl or *.json: one {"event", "modulemd"} object
// per line). A modulemd document gives one case per state in states.
func LoadCases(paths, states []string) ([]Case, error) {
	if len(states) == 0 {
		states = []string{"ready"}
	}
	var out []Case
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			var names []string
			for _, e := range entries {
				n := e.Name()
				if !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				cs, err := modulemdCases(filepath.Join(p, n), states)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			continue
		}
		if strings.HasSuffix(p, ".jsonl") || strings.HasSuffix(p, ".json") {
			cs, err := batchCases(p)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
			continue
		}
		cs, err := modulemdCases(p, states)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func modulemdCases(path string, states []string) ([]Case, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := modulemd.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Case
	for _, s := range states {
		out = append(out, Case{Source: path, Event: ruletest.EventFor(doc, ruletest.Event{}, s), Doc: doc})
	}
	return out, nil
}

func batchCases(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Case
	err = eval.ReadCases(f, func(line int, bc eval.Case, err error) error {
		c := Case{Source: fmt.Sprintf("%s:%d", path, line), Err: err}
		if err == nil {
			c.batch = &bc
			if ev, err := build.Decode(bc.Event); err == nil {
				c.Event = ev
			}
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Decision is the part of a decision a change is described by.
type Decision = ruletest.Expect

// Change is a build whose decision differs between the rule sets.
type Change struct {
	Source string      `json:"source"`
	Build  string      `json:"build"`
	State  string      `json:"state"`
	Event  build.Event `json:"event"`
	Old    Decision    `json:"old"`
	New    Decision    `json:"new"`
	// What changed: outcome, rule, destinations, error.
	What []string `json:"what"`
}

// Report is the comparison of two rule sets.
type Report struct {
	Old     []string `json:"old"`
	New     []string `json:"new"`
	Cases   int      `json:"cases"`
	Changed int      `json:"changed"`
	Changes []Change `json:"changes"`
}

func decide(rs *ruleset.Ruleset, c Case) Decision {
	switch {
	case c.Err != nil:
		return ruletest.FromResult(eval.ErrorResult(c.Err))
	case c.batch != nil:
		return ruletest.FromResult(eval.Run(rs, *c.batch))
	}
	return ruletest.FromResult(eval.Decide(rs, c.Event, c.Doc))
}

// Compare decides every case with both rule sets.
func Compare(old, new *ruleset.Ruleset, cases []Case) *Report {
	r := &Report{Old: old.Files, New: new.Files, Cases: len(cases), Changes: []Change{}}
	for _, c := range cases {
		if ch, ok := Diff(c.Source, c.Event, decide(old, c), decide(new, c)); ok {
			r.Changes = append(r.Changes, ch)
		}
	}
	r.Changed = len(r.Changes)
	return r
}

// Diff describes how the decision for one build changes, and reports
// whether it does.
func Diff(source string, ev build.Event, a, b Decision) (Change, bool) {
	var what []string
	if a.Outcome != b.Outcome {
		what = append(what, "outcome")
	}
	if a.Rule != b.Rule {
		what = append(what, "rule")
	}
	if !slices.Equal(a.Destinations, b.Destinations) {
		what = append(what, "destinations")
	}
	if a.Error != b.Error {
		what = append(what, "error")
	}
	if len(what) == 0 {
		return Change{}, false
	}
	return Change{Source: source, Build: ev.NSVC(), State: ev.StateName, Event: ev, Old: a, New: b, What: what}, true
}

// Formats lists the output formats Write knows.
func Formats() []string { return []string{"text", "markdown", "json"} }

// Write renders a report: text (one block per change), markdown (a table
// to paste into a pull request) or json.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown":
		return writeMarkdown(w, r)
	case "text":
		for _, c := range r.Changes {
			fmt.Fprintf(w, "%s %s (%s): %s\n", c.Build, c.State, c.Source, strings.Join(c.What, ", "))
			fmt.Fprintf(w, "  - %s\n  + %s\n", describe(c.Old), describe(c.New))
		}
		_, err := fmt.Fprintf(w, "%d of %d decisions change\n", r.Changed, r.Cases)
		return err
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

func describe(d Decision) string {
	switch d.Outcome {
	case string(policy.Matched):
		return fmt.Sprintf("rule %q -> %s", d.Rule, strings.Join(d.Destinations, ", "))
	case eval.OutcomeError:
		if d.Rule != "" {
			return fmt.Sprintf("error in rule %q: %s", d.Rule, d.Error)
		}
		return "error: " + d.Error
	}
	return d.Outcome
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func writeMarkdown(w io.Writer, r *Report) error {
	if r.Changed == 0 {
		_, err := fmt.Fprintf(w, "**No decision changes** for %d builds.\n", r.Cases)
		return err
	}
	fmt.Fprintf(w, "**%d of %d decisions change.**\n\n", r.Changed, r.Cases)
	fmt.Fprintln(w, "| Build | State | Before | After |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, c := range r.Changes {
		fmt.Fprintf(w, "| `%s` (%s) | %s | %s | %s |\n", mdCell(c.Build), mdCell(filepath.Base(c.Source)), c.State, mdCell(describe(c.Old)), mdCell(describe(c.New)))
	}
	return nil
}
