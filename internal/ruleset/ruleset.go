// Package ruleset loads rule files (legacy Modularity YAML and CEL rule
// files) from files, directories or a URL into one compiled rule set,
// refusing the whole set with every problem at FILE:LINE:COL when any rule
// is unusable.
// It must not know the service's settings (internal/app maps them to
// Options) or write command output.
package ruleset

import (
	"errors"
	"slices"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/policy"
)

// Options tune loading.
type Options struct {
	// DefaultState is the build state of rules that name none (the
	// reference's build_state setting, "ready" when empty).
	DefaultState string
	// Limits bound the files and rules of the set.
	Limits Limits
	// Library, when set, is the one ParseFile reads legacy rules with (a
	// new one otherwise), so that a tool looking at their patterns shares
	// the compiled ones. Load, LoadBytes and LoadSources use their own.
	Library *compat.Library
}

// Ruleset is a loaded, compiled rule set with the files it came from.
type Ruleset struct {
	Set *policy.Set
	// Revision is a hash of the loaded files' contents, for logs and metrics.
	Revision string
	Files    []string
	// Sources are the files' contents as loaded, so that the exact rules
	// behind a decision can be kept and compiled again (LoadSources).
	Sources []Source
}

// Source is one rule file as loaded: its name (path or URL) and content.
type Source struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// Decide evaluates the rules for one build.
func (r *Ruleset) Decide(ev build.Event, doc *modulemd.Document) (policy.Decision, error) {
	return r.Set.Eval(doc.Input(ev))
}

// ErrNoModule is the error of a module build message without its event
// or its modulemd document.
var ErrNoModule = errors.New("a module build message needs its MBS event and its modulemd document")

// DecideMessage evaluates the rules for one message: MBS's module build
// event, or one of Koji's build events with the rules on its kind. doc
// is the build's modulemd document, nil when it has none (a Koji build
// that is not a module build): a rule that reads modulemd or data then
// fails with a *policy.EvalError wrapping policy.ErrNoModulemd.
func (r *Ruleset) DecideMessage(m build.Message, doc *modulemd.Document) (policy.Decision, error) {
	if m.Koji == nil && (m.Module == nil || doc == nil) {
		return policy.Decision{}, ErrNoModule
	}
	return r.Set.Eval(r.Input(m, doc))
}

// Input is the rule engine's input for a message, as DecideMessage uses
// it (for explain).
func (r *Ruleset) Input(m build.Message, doc *modulemd.Document) *policy.Input {
	if m.Koji == nil {
		var ev build.Event
		if m.Module != nil {
			ev = *m.Module
		}
		if doc == nil {
			return &policy.Input{Event: ev}
		}
		return doc.Input(ev)
	}
	in := &policy.Input{Koji: m.Koji}
	if doc != nil {
		in.Modulemd, in.Data = doc.Root, doc.Data
	}
	return in
}

// Kinds lists the event kinds some rule decides on, in build.Kinds order.
func (r *Ruleset) Kinds() []build.Kind {
	var out []build.Kind
	states := r.Set.States()
	for _, k := range build.Kinds() {
		if k == build.KindModule {
			if slices.ContainsFunc(states, func(s string) bool { return !build.Kind(s).Koji() }) {
				out = append(out, k)
			}
			continue
		}
		if slices.Contains(states, string(k)) {
			out = append(out, k)
		}
	}
	return out
}

// partialField tells whether every Koji message carries the field of
// build, Fedora's flat bodies included.
func partialField(f string) bool {
	switch f {
	case "id", "name", "version", "release", "epoch", "nvr", "owner", "task_id":
		return true
	}
	return false
}

// NeedsBuildInfo tells whether a rule on kind k reads more of the build
// than a message with only its identity carries (Fedora's flat bodies:
// id, name, version, release, epoch, nvr, owner, task_id): its state,
// volume, cg, extra, types or typeinfo, modulemd, data, or build as a
// whole. The caller then asks the hub for the build before deciding.
func (r *Ruleset) NeedsBuildInfo(k build.Kind) bool {
	return len(r.ReadsBeyondIdentity(k)) > 0
}

// ReadsBeyondIdentity names what the rules on kind k read beyond a
// build's identity ("build.types", "build" as a whole, "the modulemd"),
// for an error that says what a message lacks.
func (r *Ruleset) ReadsBeyondIdentity(k build.Kind) []string {
	if !k.Koji() {
		return nil
	}
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, rule := range r.Set.RulesOn(string(k)) {
		u := rule.Uses()
		for _, f := range u.BuildFields {
			if !partialField(f) {
				add("build." + f)
			}
		}
		if u.WholeBuild {
			add("build")
		}
		if u.Modulemd {
			add("the modulemd")
		}
	}
	return out
}
