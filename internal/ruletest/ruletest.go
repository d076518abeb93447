// Package ruletest runs rule unit tests kept in a rule repository: YAML
// files beside the rules that list builds and the decision expected for
// each, and can rewrite those expectations from the current decisions.
// It must not write command output (internal/report does).
package ruletest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// ErrFormat marks a test file that does not follow the format.
var ErrFormat = errors.New("invalid rule test file")

// File is a rule test file:
//
//	rules: fedora.yaml            # or a list; relative to this file
//	default_state: ready          # build_state of rules naming none
//	section:
//	  - name: Building blocks
//	    tests:
//	      - name: javapackages-tools for f29
//	        modulemd: ../testdata/modulemd/javapackages-tools-201801-f29.yaml
//	        # or document: | followed by the modulemd YAML
//	        state: ready          # the event's state_name, default ready
//	        event: {id: 1}        # optional: id, name, stream, version, context
//	        expect:
//	          outcome: matched    # matched, unmatched, skipped or error
//	          rule: Building blocks
//	          destinations: [f29-modular-ursamajor]
//	          error: text the error contains
//	      # A case on one of Koji's build events gives the build instead
//	      # of a modulemd (a module build's modulemd is in its build info):
//	      - name: an image into its candidate tag
//	        koji:
//	          kind: build.complete  # the event's kind (the rules' on:)
//	          build: builds/image.json  # the hub's answer, relative to
//	          # this file: {"getBuild": ..., "getBuildType": ...} or a bare
//	          # build info; or the same inline as a mapping
//	          tag: f40-candidate    # build.tag, build.untag: the tag
//	          user: bodhi           # and who tagged
//	        expect:
//	          destinations: [rhel-9-container-candidate]
//	          untag: [f40-candidate] # the tags the build leaves
//	      # or the message as a bus delivers it:
//	      - name: a Fedora tag event
//	        message:
//	          topic: org.fedoraproject.prod.buildsys.tag
//	          body: {build_id: 1, name: bash, version: "5.2", release: 1.fc44, tag: f44, user: bodhi}
type File struct {
	Rules        stringList `yaml:"rules"`
	DefaultState string     `yaml:"default_state"`
	Description  string     `yaml:"description"`
	Sections     []Section  `yaml:"section"`
}

// Section groups cases.
type Section struct {
	Name  string `yaml:"name"`
	Tests []Case `yaml:"tests"`
}

// Case is one build and the decision expected for it.
type Case struct {
	Name     string `yaml:"name"`
	Modulemd string `yaml:"modulemd"`
	Document string `yaml:"document"`
	State    string `yaml:"state"`
	Event    Event  `yaml:"event"`
	// Koji and Message give one of Koji's build events instead of a
	// module build.
	Koji    *KojiCase   `yaml:"koji"`
	Message *BusMessage `yaml:"message"`
	Expect  *Expect     `yaml:"expect"`
	// node is the case in its file, to place the mistakes of its keys.
	node *yaml.Node
}

// KojiCase is one of Koji's build events told by its parts.
type KojiCase struct {
	Kind string `yaml:"kind"`
	// Build is a file of the hub's answer, or the answer inline.
	Build yaml.Node `yaml:"build"`
	Tag   string    `yaml:"tag"`
	User  string    `yaml:"user"`
}

// BusMessage is a message as a bus delivers it.
type BusMessage struct {
	Topic string         `yaml:"topic"`
	Body  map[string]any `yaml:"body"`
}

// Event overrides the event fields that default to the modulemd's.
type Event struct {
	ID      int64  `yaml:"id"`
	Name    string `yaml:"name"`
	Stream  string `yaml:"stream"`
	Version string `yaml:"version"`
	Context string `yaml:"context"`
}

// Expect is the expected decision; fields left out are not checked, except
// the outcome, which is "matched" when a rule, destinations or untag are given.
type Expect struct {
	Outcome      string   `yaml:"outcome" json:"outcome"`
	Rule         string   `yaml:"rule,omitempty" json:"rule,omitempty"`
	Destinations []string `yaml:"destinations,omitempty" json:"destinations,omitempty"`
	Error        string   `yaml:"error,omitempty" json:"error,omitempty"`
	Untag        []string `yaml:"untag,omitempty" json:"untag,omitempty"`
}

type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = []string{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Status of a case.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Error is a case that could not run (a missing or unreadable
	// document, a test file or rule set that cannot be loaded); it counts
	// as failed.
	Error Status = "error"
)

// CaseResult is how one case fared.
type CaseResult struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Section string `json:"section"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	// Duration is how long the case took to run.
	Duration time.Duration `json:"-"`
	Failures []string      `json:"failures,omitempty"`
	Want     *Expect       `json:"want"`
	Got      Expect        `json:"got"`
}

// Report is the result of running test files.
type Report struct {
	Files []string     `json:"files"`
	Cases []CaseResult `json:"cases"`
	// Updated lists the files --update rewrote.
	Updated []string `json:"updated,omitempty"`
}

// Counts returns the numbers of passed and failed cases; failed includes
// the cases that could not run.
func (r *Report) Counts() (passed, failed int) {
	for _, c := range r.Cases {
		if c.Status == Pass {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// Find lists the test files at paths: files as given, directories walked
// for test files (hidden directories skipped), in name order.
func Find(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no test files given")
	}
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && ruleset.IsTestFile(d.Name()) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Options tune a run.
type Options struct {
	// Update rewrites every case's expectation with its current decision.
	Update bool
}

// ErrNoTests is returned when the paths hold no test file.
var ErrNoTests = errors.New("no rule test files found (*.test.yaml, *_test.yaml, *.tests.yaml)")

// Run runs the test files at paths (see Find). Nothing is hidden: a test
// file that cannot be read or whose rules are refused is one case of
// status Error naming the file, a case that cannot run is a case of
// status Error with its reason, and every other case still runs. Run
// fails only when a path does not exist or no test file is found.
func Run(ctx context.Context, paths []string, opts Options) (*Report, error) {
	files, err := Find(paths)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoTests, strings.Join(paths, ", "))
	}
	rep := &Report{Files: files, Cases: []CaseResult{}}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cases, updated, err := runFile(ctx, f, opts)
		if err != nil {
			cases = []CaseResult{{File: f, Line: lineOf(err), Section: "", Name: "(test file)", Status: Error,
				Failures: []string{err.Error()}}}
		}
		rep.Cases = append(rep.Cases, cases...)
		if updated {
			rep.Updated = append(rep.Updated, f)
		}
	}
	return rep, nil
}

func runFile(ctx context.Context, path string, opts Options) ([]CaseResult, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, false, &FileError{Line: ruleset.SyntaxPos(path, data, err).Line, Err: fmt.Errorf("%w: %w", ErrFormat, err)}
	}
	if len(doc.Content) == 0 {
		return nil, false, &FileError{Err: fmt.Errorf("%w: empty", ErrFormat)}
	}
	root := doc.Content[0]
	probs := checkKnown(root)
	// Problems outside any case make the file unusable: each is
	// reported at its line. A case's own problems fail that case only.
	var fileProbs []CaseResult
	caseProbs := map[*yaml.Node][]string{}
	for _, p := range probs {
		if p.caseNode == nil {
			fileProbs = append(fileProbs, CaseResult{File: path, Line: p.line, Name: "(test file)", Status: Error,
				Failures: []string{fmt.Errorf("%w: %w", ErrFormat, &lineError{p.line, p.msg}).Error()}})
			continue
		}
		caseProbs[p.caseNode] = append(caseProbs[p.caseNode], (&lineError{p.line, p.msg}).Error())
	}
	if len(fileProbs) > 0 {
		return fileProbs, false, nil
	}
	var tf File
	if err := root.Decode(&struct {
		Rules        *stringList `yaml:"rules"`
		DefaultState *string     `yaml:"default_state"`
	}{&tf.Rules, &tf.DefaultState}); err != nil {
		return nil, false, &FileError{Line: root.Line, Err: fmt.Errorf("%w: %w", ErrFormat, err)}
	}
	if len(tf.Rules) == 0 {
		return nil, false, &FileError{Line: root.Line, Err: fmt.Errorf("%w: no rules file named (rules: FILE)", ErrFormat)}
	}
	for _, sec := range seqItems(child(root, "section")) {
		s := Section{}
		if n := child(sec, "name"); n != nil {
			s.Name = n.Value
		}
		for _, cn := range seqItems(child(sec, "tests")) {
			var c Case
			if len(caseProbs[cn]) == 0 {
				if err := cn.Decode(&c); err != nil {
					caseProbs[cn] = append(caseProbs[cn], (&lineError{cn.Line, err.Error()}).Error())
				}
			}
			if n := child(cn, "name"); n != nil {
				c.Name = n.Value
			}
			c.node = cn
			s.Tests = append(s.Tests, c)
		}
		tf.Sections = append(tf.Sections, s)
	}
	dir := filepath.Dir(path)
	var rules []string
	for _, r := range tf.Rules {
		rules = append(rules, filepath.Join(dir, r))
	}
	rs, err := ruleset.Load(rules, ruleset.Options{DefaultState: tf.DefaultState})
	if err != nil {
		return nil, false, &FileError{Line: child(root, "rules").Line, Err: fmt.Errorf("rules: %w", err)}
	}
	var out []CaseResult
	changed := false
	secNodes := seqItems(child(root, "section"))
	for si, sec := range tf.Sections {
		testNodes := seqItems(child(secNodes[si], "tests"))
		for ti, c := range sec.Tests {
			node := testNodes[ti]
			cr := CaseResult{File: path, Line: node.Line, Section: sec.Name, Name: c.Name, Want: c.Expect}
			if p := caseProbs[node]; len(p) > 0 {
				cr.Want = nil
				cr.Status, cr.Failures = Error, p
				out = append(out, cr)
				continue
			}
			started := time.Now()
			got, err := decide(ctx, rs, dir, c)
			cr.Duration = time.Since(started)
			if err != nil {
				cr.Status, cr.Failures = Error, []string{"cannot run: " + err.Error()}
				out = append(out, cr)
				continue
			}
			cr.Got = got
			if opts.Update {
				if c.Expect == nil || len(compare(*c.Expect, got)) > 0 {
					setExpect(node, got)
					changed = true
				}
				w := got
				cr.Want = &w
			}
			if cr.Want == nil {
				cr.Failures = []string{"no expect: run mts test --update to record the current decision"}
			} else {
				cr.Failures = compare(*cr.Want, got)
			}
			cr.Status = Pass
			if len(cr.Failures) > 0 {
				cr.Status = Fail
			}
			out = append(out, cr)
		}
	}
	if changed {
		if err := writeYAML(path, &doc); err != nil {
			return nil, false, err
		}
	}
	return out, changed, nil
}

// FileError is a test file that cannot be used, at a line of it when known.
type FileError struct {
	Line int
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

func lineOf(err error) int {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe.Line
	}
	var le *lineError
	if errors.As(err, &le) {
		return le.line
	}
	return 0
}

// lineError is a problem at a line of a test file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// decide makes the decision for one case.
func decide(ctx context.Context, rs *ruleset.Ruleset, dir string, c Case) (Expect, error) {
	if c.Koji != nil || c.Message != nil {
		m, err := kojiMessage(dir, c)
		if err != nil {
			return Expect{}, err
		}
		return FromDecision(decision.DecideKoji(ctx, rs, m, nil)), nil
	}
	text := []byte(c.Document)
	switch {
	case c.Modulemd != "" && c.Document != "":
		return Expect{}, errors.New("give either modulemd or document, not both")
	case c.Modulemd != "":
		b, err := os.ReadFile(filepath.Join(dir, c.Modulemd))
		if err != nil {
			return Expect{}, err
		}
		text = b
	case c.Document == "":
		return Expect{}, errors.New("give modulemd (a file) or document (inline YAML)")
	}
	doc, err := modulemd.Parse(text)
	if err != nil {
		return Expect{}, err
	}
	ev := EventFor(text, c.Event, c.State)
	return FromDecision(decision.Decide(rs, ev, doc)), nil
}

// EventFor is the event of a build: fields given win, the others come
// from the modulemd's data as the scalar text of the document (text), as
// MBS sends them: `stream: 8.10` is "8.10", not the YAML 1.1 float. The
// state defaults to ready and the id to 1.
func EventFor(text []byte, e Event, state string) build.Event {
	var doc struct {
		Data struct {
			Name, Stream, Version, Context yaml.Node
		} `yaml:"data"`
	}
	// A document that does not read gets no defaults; its decision
	// reports why.
	_ = yaml.Unmarshal(text, &doc)
	field := func(given string, n yaml.Node) string {
		if given != "" || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return given
		}
		return n.Value
	}
	ev := build.Event{ID: e.ID, Name: field(e.Name, doc.Data.Name), Stream: field(e.Stream, doc.Data.Stream),
		Version: field(e.Version, doc.Data.Version), Context: field(e.Context, doc.Data.Context), StateName: state}
	if ev.ID == 0 {
		ev.ID = 1
	}
	if ev.StateName == "" {
		ev.StateName = "ready"
	}
	return ev
}

// FromDecision is the part of a decision tests look at.
func FromDecision(d decision.Decision) Expect {
	e := Expect{Outcome: d.Outcome, Error: d.Error}
	if d.Rule != nil {
		e.Rule = d.Rule.ID
	}
	if d.Matched() {
		e.Destinations = d.Destinations
		e.Untag = d.Untag
	}
	// The rule and its place are given apart; the place holds the rules
	// file's path as given, which differs between checkouts.
	if d.Rule != nil && strings.HasPrefix(e.Error, fmt.Sprintf("rule %q (", d.Rule.ID)) {
		if _, rest, ok := strings.Cut(e.Error, "): "); ok {
			e.Error = rest
		}
	}
	return e
}

// compare lists how got differs from want.
func compare(want, got Expect) []string {
	var out []string
	outcome := want.Outcome
	if outcome == "" && (want.Rule != "" || want.Destinations != nil || want.Untag != nil) {
		outcome = string(policy.Matched)
	}
	if outcome == "" {
		out = append(out, "expect gives no outcome")
	} else if outcome != got.Outcome {
		out = append(out, fmt.Sprintf("outcome: want %s, got %s%s", outcome, got.Outcome, detail(got)))
	}
	if want.Rule != "" && want.Rule != got.Rule {
		out = append(out, fmt.Sprintf("rule: want %q, got %q", want.Rule, got.Rule))
	}
	if want.Destinations != nil && !slices.Equal(want.Destinations, got.Destinations) {
		out = append(out, fmt.Sprintf("destinations: want [%s], got [%s]", strings.Join(want.Destinations, ", "), strings.Join(got.Destinations, ", ")))
	}
	if want.Untag != nil && !slices.Equal(want.Untag, got.Untag) {
		out = append(out, fmt.Sprintf("untag: want [%s], got [%s]", strings.Join(want.Untag, ", "), strings.Join(got.Untag, ", ")))
	}
	if want.Error != "" && !strings.Contains(got.Error, want.Error) {
		out = append(out, fmt.Sprintf("error: want one containing %q, got %q", want.Error, got.Error))
	}
	return out
}

func detail(got Expect) string {
	switch {
	case got.Error != "":
		return " (" + got.Error + ")"
	case got.Rule != "":
		return fmt.Sprintf(" (rule %q)", got.Rule)
	}
	return ""
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seqItems are the elements of a list node (none for anything else).
func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// problem is a mistake in a test file at a line; caseNode is the case it
// is in, nil for the file's own keys.
type problem struct {
	caseNode *yaml.Node
	line     int
	msg      string
}

// shapes are what each key's value must be: a scalar ("s"), a list of
// scalars ("l"), a scalar or such a list ("sl"), or a mapping ("m").
var shapes = map[string]map[string]string{
	"file":    {"rules": "sl", "default_state": "s", "description": "s", "section": "-"},
	"section": {"name": "s", "tests": "-"},
	"case":    {"name": "s", "modulemd": "s", "document": "s", "state": "s", "event": "m", "koji": "m", "message": "m", "expect": "m"},
	"event":   {"id": "s", "name": "s", "stream": "s", "version": "s", "context": "s"},
	"koji":    {"kind": "s", "build": "sm", "tag": "s", "user": "s"},
	"message": {"topic": "s", "body": "m"},
	"expect":  {"outcome": "s", "rule": "s", "destinations": "sl", "untag": "sl", "error": "s"},
}

// checkKnown finds every key the format does not have, so a typo in an
// expectation does not silently turn into a test that checks nothing,
// and every value of the wrong kind, each at its line.
func checkKnown(root *yaml.Node) []problem {
	var probs []problem
	var check func(n *yaml.Node, kind string, inCase *yaml.Node)
	check = func(n *yaml.Node, kind string, inCase *yaml.Node) {
		if kind == "case" {
			inCase = n
		}
		add := func(line int, format string, args ...any) {
			probs = append(probs, problem{inCase, line, fmt.Sprintf(format, args...)})
		}
		if n.Kind != yaml.MappingNode {
			add(n.Line, "a %s must be a mapping", kind)
			return
		}
		known := shapes[kind]
		names := slices.Sorted(maps.Keys(known))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			shape, ok := known[k.Value]
			if !ok {
				add(k.Line, "unknown key %q in a %s (known: %s)", k.Value, kind, strings.Join(names, ", "))
				continue
			}
			if !fits(v, shape) {
				add(v.Line, "%s must be %s, not %s", k.Value, map[string]string{"s": "a single value", "sl": "a value or a list of values", "m": "a mapping", "sm": "a file name or a mapping"}[shape], nodeKind(v))
				continue
			}
			switch sub := map[string]string{"event": "event", "koji": "koji", "message": "message", "expect": "expect"}[k.Value]; {
			case kind == "case" && sub != "":
				check(v, sub, inCase)
			}
			list := map[string]string{"section": "section", "tests": "case"}[k.Value]
			if list != "" && (kind == "file" || kind == "section") {
				if v.Kind != yaml.SequenceNode {
					add(v.Line, "%s must be a list, not %s", k.Value, nodeKind(v))
					continue
				}
				for _, e := range v.Content {
					check(e, list, inCase)
				}
			}
		}
	}
	check(root, "file", nil)
	return probs
}

func fits(n *yaml.Node, shape string) bool {
	scalar := n.Kind == yaml.ScalarNode
	switch shape {
	case "s":
		return scalar
	case "sl":
		if scalar {
			return true
		}
		if n.Kind != yaml.SequenceNode {
			return false
		}
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return false
			}
		}
		return true
	case "m":
		return n.Kind == yaml.MappingNode
	case "sm":
		return scalar || n.Kind == yaml.MappingNode
	}
	return true
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}
