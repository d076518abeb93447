package lint

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// States are the module build states MBS announces (state_name); a rule
// of any other state is never tried.
var States = []string{"init", "wait", "build", "done", "failed", "ready", "garbage"}

// KnownState reports whether s is a state MBS announces.
func KnownState(s string) bool {
	for _, k := range States {
		if k == s {
			return true
		}
	}
	return false
}

// ClosestState is the known state nearest to s (by edit distance).
func ClosestState(s string) string {
	return ruleset.Nearest(s, States)
}

// kojiTagName is what Koji accepts as a tag name.
var kojiTagName = regexp.MustCompile(`^[A-Za-z0-9/_.+-]+$`)

// neverFires reports the mistakes that make a rule never fire or never
// tag: a state MBS does not have, a destination that cannot be a Koji tag
// name, and a key given twice in one mapping.
func (l *linter) neverFires(sp policy.Spec) {
	at := pick(sp.MatchPos, sp.Source)
	if m, ok := sp.Meta.(*compat.RuleMeta); ok {
		at = pick(m.StatePos, at)
		for _, r := range m.Repeated {
			l.repeatedKey(sp, r.Key, r.Pos)
		}
	}
	if m, ok := sp.Meta.(*ruleset.CELMeta); ok && m.Node != nil {
		if st := celChild(m.Node, "state"); st != nil {
			at = policy.Position{File: sp.Source.File, Line: st.Line, Col: st.Column}
		}
		l.repeatedKeys(sp, m.Node)
	}
	for _, s := range sp.States {
		// A Koji rule's States are the kinds of its file's on:, which the
		// loader checks.
		if sp.Koji == nil && !KnownState(s) {
			l.add(Diagnostic{Code: CodeUnknownState, Severity: Warning, Pos: at, RuleID: sp.ID,
				Message: fmt.Sprintf("build state %q does not exist, so the rule never fires", s),
				Hint:    fmt.Sprintf("did you mean %q? MBS announces %s", ClosestState(s), strings.Join(States, ", "))})
		}
	}
	for _, tag := range destinationTexts(sp) {
		if !kojiTagName.MatchString(tag) {
			l.add(Diagnostic{Code: CodeBadDestination, Severity: Warning, Pos: pick(sp.DestinationsPos, sp.Source), RuleID: sp.ID,
				Message: fmt.Sprintf("destination %q can never be a Koji tag name, so tagging into it always fails", tag),
				Hint:    "Koji tag names are letters, digits and . _ + - /"})
		}
	}
	if untag, pos := sp.UntagExpr(); untag != "" {
		for _, tag := range literalTags(untag) {
			if !kojiTagName.MatchString(tag) {
				l.add(Diagnostic{Code: CodeBadDestination, Severity: Warning, Pos: pick(pos, sp.Source), RuleID: sp.ID,
					Message: fmt.Sprintf("untag %q can never be a Koji tag name, so untagging from it always fails", tag),
					Hint:    "Koji tag names are letters, digits and . _ + - /"})
			}
		}
	}
}

// destinationTexts are the literal parts of a rule's destinations, with
// each \g<name> standing for a value that is a tag name itself.
func destinationTexts(sp policy.Spec) []string {
	if meta, ok := sp.Meta.(*compat.RuleMeta); ok {
		if meta.Template == "" && meta.Keys["destinations"].Line == 0 {
			return nil
		}
		return []string{groupRef.ReplaceAllString(meta.Template, "x")}
	}
	return literalDestinations(sp)
}

func (l *linter) repeatedKey(sp policy.Spec, key string, pos policy.Position) {
	l.add(Diagnostic{Code: CodeRepeatedKey, Severity: Warning, Pos: pos, RuleID: sp.ID,
		Message: fmt.Sprintf("key %q is given twice in one mapping: only this last value counts", key),
		Hint:    "remove one of the two; a merge key (<<) left over is a common cause"})
}

// repeatedKeys reports the keys given twice in the mappings under n.
func (l *linter) repeatedKeys(sp policy.Spec, n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		if _, rep, err := pyyaml.Entries(n); err == nil {
			for _, k := range rep {
				l.repeatedKey(sp, k.Value, policy.Position{File: sp.Source.File, Line: k.Line, Col: k.Column})
			}
		}
	}
	for _, c := range n.Content {
		l.repeatedKeys(sp, c)
	}
}

func celChild(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
