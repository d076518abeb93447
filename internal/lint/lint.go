// Package lint checks rule files (legacy Modularity YAML and CEL rule files)
// for mistakes the loader accepts but a rule author did not mean: rules that
// can never match, criteria the format ignores, destinations that cannot be
// filled, and costly expressions. Every load error of the engine is reported
// too, so one run shows everything wrong with a file.
// It must not write output (internal/report does) or build clients (a Koji
// TagChecker comes from internal/app).
package lint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// Severity of a diagnostic.
type Severity string

// Severities, from the most to the least serious.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Diagnostic is one finding at a place in a rule file.
type Diagnostic struct {
	Code     string          `json:"code"`
	Severity Severity        `json:"severity"`
	Pos      policy.Position `json:"position"`
	RuleID   string          `json:"rule_id,omitempty"`
	Message  string          `json:"message"`
	Hint     string          `json:"hint,omitempty"`
}

// TagChecker tells whether a Koji tag exists.
type TagChecker interface {
	TagExists(ctx context.Context, tag string) (bool, error)
}

// Options tune the checks.
type Options struct {
	// DefaultState is the build state of rules that name none.
	DefaultState string
	// MaxCost is the estimated CEL cost above which a rule is reported;
	// zero means policy.DefaultCostLimit.
	MaxCost uint64
	// AssumedSize is the size assumed for every list, map and string of a
	// document when estimating costs; zero means DefaultAssumedSize.
	AssumedSize uint64
	// Tags, when set, is asked about every literal destination tag.
	Tags TagChecker
}

// DefaultAssumedSize is the collection and string size cost estimates assume.
const DefaultAssumedSize = 100

// Result is the outcome of linting some files.
type Result struct {
	Files       []string     `json:"files"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Count returns the number of diagnostics of severity s.
func (r *Result) Count(s Severity) int {
	n := 0
	for _, d := range r.Diagnostics {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Failed reports whether the result should fail a check: on errors, and on
// warnings too when strict.
func (r *Result) Failed(strict bool) bool {
	return r.Count(Error) > 0 || (strict && r.Count(Warning) > 0)
}

// Unreadable is the diagnostic of a rule path that cannot be read: a
// finding like any other, so that every format (a SARIF upload, GitHub
// annotations) says so and the other files are still checked.
func Unreadable(path string, err error) Diagnostic {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		path, err = pe.Path, pe.Err
	}
	return Diagnostic{Code: CodeLoad, Severity: Error, Pos: policy.Position{File: path},
		Message: "cannot read the rules: " + err.Error(),
		Hint:    "the service refuses to start on a rule path it cannot read"}
}

// Paths lints the rule files at paths (see ruleset.Files). Each file is
// checked on its own, as a rule set of its own. It fails only when Koji
// cannot be asked; what cannot be read is a diagnostic.
func Paths(ctx context.Context, paths []string, opts Options) (*Result, error) {
	files, unreadable := ruleset.ListFiles(paths)
	res := &Result{Files: files, Diagnostics: []Diagnostic{}}
	for _, err := range unreadable {
		res.Diagnostics = append(res.Diagnostics, Unreadable("", err))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			res.Diagnostics = append(res.Diagnostics, Unreadable(f, err))
			continue
		}
		ds, err := File(ctx, f, data, opts)
		if err != nil {
			return nil, err
		}
		res.Diagnostics = append(res.Diagnostics, ds...)
	}
	return res, nil
}

// Set lints the rule files at paths as the one ordered rule set the
// service loads from them: besides each file's own findings, a rule of
// one file that a rule of an earlier file always wins against, and an id
// used in two files, are findings naming both places. A path or file
// that cannot be read is a diagnostic at it, and the rest is checked.
func Set(ctx context.Context, paths []string, opts Options) (*Result, error) {
	files, unreadable := ruleset.ListFiles(paths)
	bad := []Diagnostic{}
	for _, err := range unreadable {
		bad = append(bad, Unreadable("", err))
	}
	var srcs []source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			bad = append(bad, Unreadable(f, err))
			continue
		}
		srcs = append(srcs, source{name: f, data: data})
	}
	ds, err := lintSet(ctx, srcs, opts)
	if err != nil {
		return nil, err
	}
	if files == nil {
		files = []string{}
	}
	return &Result{Files: files, Diagnostics: append(bad, ds...)}, nil
}

// Sets lints what `mts lint` is given: the rule sets of paths (see
// ruleset.Policies), each as Set does. A path that cannot be read is a
// finding like any other, so that every format (a SARIF upload, GitHub
// annotations) says so; paths without any rule file are an error.
func Sets(ctx context.Context, paths []string, opts Options) (*Result, error) {
	var readable []string
	unreadable := []Diagnostic{}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			unreadable = append(unreadable, Unreadable(p, err))
			continue
		}
		readable = append(readable, p)
	}
	res := &Result{Files: []string{}, Diagnostics: []Diagnostic{}}
	sets, err := ruleset.Policies(readable)
	if err != nil {
		return nil, err
	}
	for _, set := range sets {
		r, err := Set(ctx, set, opts)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, r.Files...)
		res.Diagnostics = append(res.Diagnostics, r.Diagnostics...)
	}
	res.Diagnostics = append(unreadable, res.Diagnostics...)
	if len(res.Files) == 0 && len(unreadable) == 0 {
		return nil, fmt.Errorf("no rule files in %s (a directory gives its own *.yaml files, or, when it has none, each of its subdirectories that has some is a policy of its own)", strings.Join(paths, ", "))
	}
	return res, nil
}

// File lints one rule file already read; name is used in positions.
func File(ctx context.Context, name string, data []byte, opts Options) ([]Diagnostic, error) {
	return lintSet(ctx, []source{{name: name, data: data}}, opts)
}

type source struct {
	name string
	data []byte
}

func lintSet(ctx context.Context, srcs []source, opts Options) ([]Diagnostic, error) {
	if opts.MaxCost == 0 {
		opts.MaxCost = policy.DefaultCostLimit
	}
	if opts.AssumedSize == 0 {
		opts.AssumedSize = DefaultAssumedSize
	}
	l := &linter{opts: opts, library: compat.NewLibrary()}
	env, err := ruleset.NewEnv()
	if err != nil {
		return nil, err
	}
	var all, good []policy.Spec
	var celGood []policy.Spec
	// Each legacy rule is checked on its own as it is read, while its YAML
	// nodes give positions inside its values; then its part of the file's
	// syntax tree, bigger than the rules, can go.
	l.library.DropSyntax = true
	for _, src := range srcs {
		var mu sync.Mutex
		perRule := map[int][]Diagnostic{}
		l.library.Inspect = func(i int, sp policy.Spec) {
			rl := &linter{opts: l.opts, library: l.library}
			rl.legacyRule(sp)
			rl.neverFires(sp)
			if len(rl.diags) > 0 {
				mu.Lock()
				perRule[i] = rl.diags
				mu.Unlock()
			}
		}
		f, errs := ruleset.ParseFile(src.name, src.data, ruleset.Options{DefaultState: opts.DefaultState, Library: l.library})
		for _, i := range slices.Sorted(maps.Keys(perRule)) {
			l.diags = append(l.diags, perRule[i]...)
		}
		for _, e := range errs {
			l.loadError(e)
		}
		if f == nil {
			continue
		}
		// Compile only what parsed cleanly, so one mistake is not reported twice.
		badID, badLine := map[string]bool{}, map[int]bool{}
		for _, e := range errs {
			if e.RuleID != "" {
				badID[e.RuleID] = true
			}
			badLine[e.Source.Line] = true
		}
		for _, sp := range f.Specs {
			if !badID[sp.ID] && !badLine[sp.Source.Line] && (sp.Destinations != "" || sp.Koji != nil) {
				good = append(good, sp)
				if f.Format == ruleset.FormatCEL {
					celGood = append(celGood, sp)
				}
			}
		}
		all = append(all, f.Specs...)
		if f.Format == ruleset.FormatCEL {
			for _, sp := range f.Specs {
				l.neverFires(sp)
			}
		}

	}
	if _, err := env.Compile(good); err != nil {
		probs := ruleset.Problems(err)
		if probs == nil {
			probs = policy.Errors{{Msg: err.Error()}}
		}
		for _, e := range probs {
			l.loadError(e)
		}
	}
	l.costs(env, celGood)
	l.orderedSet(env.CEL(), all)
	l.kojiFields(celGood)
	l.loops(all)
	if opts.Tags != nil {
		if err := l.checkTags(ctx, all); err != nil {
			return nil, err
		}
	}
	return l.sorted(), nil
}

type linter struct {
	opts    Options
	diags   []Diagnostic
	library *compat.Library
}

func (l *linter) add(d Diagnostic) { l.diags = append(l.diags, d) }

// loadError classifies a problem the loader or the compiler found by its
// cause.
func (l *linter) loadError(e policy.Error) {
	d := Diagnostic{Code: CodeLoad, Severity: Error, Pos: e.Source, RuleID: e.RuleID, Message: e.Msg,
		Hint: "the service refuses the whole rule set until this is fixed"}
	switch {
	case errors.Is(e, pyyaml.ErrSyntax):
		d.Code = CodeSyntax
		d.Hint = "the file is not valid YAML"
	case errors.Is(e, compat.ErrRegex):
		d.Code = CodePattern
		d.Hint = "patterns are Python regular expressions run on RE2: look-around, back-references, atomic groups and possessive quantifiers are not available"
	case errors.Is(e, policy.ErrCompile):
		d.Code = CodeCEL
		d.Hint = "fix the expression: rules must compile against the mts CEL environment (build, modulemd, data; event too in a file on Koji's events)"
	case errors.Is(e, ruleset.ErrOn):
		d.Hint = "on: is module.state.change (the default) or Koji's build.* kinds, never both in one file; state: is for module builds, untag: for Koji's events"
	}
	l.add(d)
}

func (l *linter) sorted() []Diagnostic {
	sort.SliceStable(l.diags, func(i, j int) bool {
		a, b := l.diags[i], l.diags[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Code < b.Code
	})
	if l.diags == nil {
		return []Diagnostic{}
	}
	return l.diags
}

func (l *linter) checkTags(ctx context.Context, specs []policy.Spec) error {
	// Each tag is asked about, and reported, once.
	checked := map[string]bool{}
	check := func(sp policy.Spec, tags []string, pos policy.Position, what, verb string) error {
		for _, tag := range tags {
			if checked[tag] {
				continue
			}
			checked[tag] = true
			ok, err := l.opts.Tags.TagExists(ctx, tag)
			if err != nil {
				return fmt.Errorf("checking tag %q in Koji: %w", tag, err)
			}
			if !ok {
				l.add(Diagnostic{Code: CodeKojiTag, Severity: Error, Pos: pick(pos, sp.Source), RuleID: sp.ID,
					Message: fmt.Sprintf("%s tag %q does not exist in Koji", what, tag),
					Hint:    fmt.Sprintf("create the tag in Koji first, or fix its name: %s it would fail for every build", verb)})
			}
		}
		return nil
	}
	for _, sp := range specs {
		if err := check(sp, literalDestinations(sp), sp.DestinationsPos, "destination", "tagging into"); err != nil {
			return err
		}
		if untag, pos := sp.UntagExpr(); untag != "" {
			if err := check(sp, literalTags(untag), pos, "untag", "untagging from"); err != nil {
				return err
			}
		}
	}
	return nil
}

func pick(p, fallback policy.Position) policy.Position {
	if p.Line != 0 {
		return p
	}
	return fallback
}
