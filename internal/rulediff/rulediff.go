// Package rulediff compares the decisions of two rule sets on a corpus of
// builds, so that a reviewer sees what a rule change does before it is
// merged.
// It must not write output (internal/report does).
package rulediff

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/ruletest"
)

// Case is one build to decide for.
type Case struct {
	// Source is where the case comes from: a modulemd file, or an events
	// file and line.
	Source string
	// Event is the build's event, as far as it could be read.
	Event build.Event
	Doc   *modulemd.Document
	// Koji is set for one of Koji's build events (Event and Doc are
	// then unused: a module build's document is in its build info).
	Koji *build.Message
	// Err is why the case cannot be decided (an unreadable document or
	// event line, no modulemd for an event); such a case is reported, not
	// compared.
	Err error
}

// Modulemds finds the document of an event, as `serve --dev
// --modulemd-dir` does (mbs.Dir).
type Modulemds interface {
	Modulemd(ctx context.Context, ev build.Event) ([]byte, error)
}

// LoadOptions say how to read a corpus.
type LoadOptions struct {
	// States are the event states a modulemd document is decided for
	// (default ready).
	States []string
	// Modulemds gives the documents of bare MBS messages in events files;
	// without it such a line is a case that cannot be decided.
	Modulemds Modulemds
	// Hub gives the build info a Koji message lacks (it carries only the
	// build's identity); without it such a message is decided as it is,
	// an error when a rule reads more.
	Hub decision.BuildInfoSource
}

// LoadCases reads the builds at paths: modulemd files, directories of
// them (*.yaml and *.yml, in name order), and events files (*.jsonl or
// *.json), whose lines are `mts eval` batch objects ({"event",
// "modulemd"}), MBS messages as the service receives them, or messages as
// a bus delivers them ({"topic", "body"}: Koji's build events, or MBS's). A modulemd
// document gives one case per state. Nothing is dropped: what cannot be
// read is a case with Err. It fails only when a path cannot be read.
func LoadCases(ctx context.Context, paths []string, opts LoadOptions) ([]Case, error) {
	states := opts.States
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
			cs, err := eventCases(ctx, p, opts)
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
	doc, perr := modulemd.Parse(text)
	var out []Case
	for _, s := range states {
		out = append(out, Case{Source: path, Event: ruletest.EventFor(text, ruletest.Event{}, s), Doc: doc, Err: perr})
	}
	return out, nil
}

func eventCases(ctx context.Context, path string, opts LoadOptions) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Case
	err = decision.ReadEvents(f, func(line int, ec decision.EventCase, err error) error {
		c := Case{Source: fmt.Sprintf("%s:%d", path, line), Err: err}
		if err == nil && ec.Topic != "" {
			var m build.Message
			if m, c.Err = busMessage(ec); c.Err != nil {
				out = append(out, c)
				return nil
			}
			if m.Koji != nil {
				c.Koji = &m
				if !m.Koji.Build.Complete && opts.Hub != nil {
					b, err := opts.Hub.GetBuildInfo(ctx, strconv.FormatInt(m.Koji.Build.ID, 10))
					if err != nil {
						c.Err = fmt.Errorf("build info of %s: %w", m.Koji.Build.NVR(), err)
					} else {
						m.Koji.Build = b
					}
				}
				out = append(out, c)
				return nil
			}
			ec = decision.EventCase{Event: ec.Body}
		}
		if err == nil {
			c.Event, c.Doc, c.Err = ec.Resolve(ctx, opts.Modulemds)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// busMessage reads a message as a bus delivered it.
func busMessage(ec decision.EventCase) (build.Message, error) {
	if _, ok := build.TopicKind(ec.Topic); !ok {
		return build.Message{}, fmt.Errorf("topic %q: %w", ec.Topic, decision.ErrTopic)
	}
	return build.DecodeMessage(ec.Topic, "", ec.Body)
}

// Decision is the part of a decision a change is described by.
type Decision = ruletest.Expect

// Change is a build whose decision differs between the rule sets.
type Change struct {
	Source string      `json:"source"`
	Build  string      `json:"build"`
	State  string      `json:"state"`
	Event  build.Event `json:"event"`
	// Kind and Koji are set for one of Koji's build events (Build is its
	// NVR, State its kind).
	Kind build.Kind       `json:"kind,omitempty"`
	Koji *build.KojiEvent `json:"koji,omitempty"`
	Old  Decision         `json:"old"`
	New  Decision         `json:"new"`
	// What changed: outcome, rule, destinations, untag, error.
	What []string `json:"what"`
}

// Report is the comparison of two rule sets.
type Report struct {
	Old   []string `json:"old"`
	New   []string `json:"new"`
	Cases int      `json:"cases"`
	// Compared is the number of cases decided by both sets; the others
	// are in Errors.
	Compared int       `json:"compared"`
	Changed  int       `json:"changed"`
	Changes  []Change  `json:"changes"`
	Errors   []Problem `json:"errors"`
}

// Problem is a case that could not be decided, and why.
type Problem struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Compare decides every case with both rule sets. A Koji message that
// lacks what a rule reads is decided as an error (LoadOptions.Hub fills
// it in beforehand).
func Compare(ctx context.Context, old, new *ruleset.Ruleset, cases []Case) *Report {
	r := &Report{Old: old.Files, New: new.Files, Cases: len(cases), Changes: []Change{}, Errors: []Problem{}}
	for _, c := range cases {
		if c.Err != nil {
			r.Errors = append(r.Errors, Problem{Source: c.Source, Error: c.Err.Error()})
			continue
		}
		r.Compared++
		m := build.ModuleMessage(c.Event)
		var a, b Decision
		if c.Koji != nil {
			m = *c.Koji
			a = ruletest.FromDecision(decision.DecideKoji(ctx, old, m, nil))
			b = ruletest.FromDecision(decision.DecideKoji(ctx, new, m, nil))
		} else {
			a = ruletest.FromDecision(decision.Decide(old, c.Event, c.Doc))
			b = ruletest.FromDecision(decision.Decide(new, c.Event, c.Doc))
		}
		if ch, ok := Diff(c.Source, m, a, b); ok {
			r.Changes = append(r.Changes, ch)
		}
	}
	r.Changed = len(r.Changes)
	return r
}

// Diff describes how the decision for one event m changes, and reports
// whether it does.
func Diff(source string, m build.Message, a, b Decision) (Change, bool) {
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
	if !slices.Equal(a.Untag, b.Untag) {
		what = append(what, "untag")
	}
	if a.Error != b.Error {
		what = append(what, "error")
	}
	if len(what) == 0 {
		return Change{}, false
	}
	ch := Change{Source: source, Old: a, New: b, What: what}
	if m.Koji != nil {
		ch.Build, ch.State, ch.Kind, ch.Koji = m.Koji.Build.NVR(), string(m.Kind), m.Kind, m.Koji
		return ch, true
	}
	var ev build.Event
	if m.Module != nil {
		ev = *m.Module
	}
	ch.Build, ch.State, ch.Event = ev.NSVC(), ev.StateName, ev
	return ch, true
}
