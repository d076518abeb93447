// Package ruleset loads rule files (legacy Modularity YAML and CEL rule
// files) from files, directories or a URL into one compiled rule set,
// refusing the whole set with every problem at FILE:LINE:COL when any rule
// is unusable.
// It must not know the service's settings (internal/app maps them to
// Options) or write command output.
package ruleset

import (
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
