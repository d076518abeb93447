package ruleset

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/policy"
)

// parseCEL reads a CEL rule file:
//
//	format: cel
//	on: build.tag               # optional: the event kind(s) the rules decide on
//	variables:                  # optional, evaluated at most once per build
//	  - name: platform
//	    expression: data.dependencies[0].requires.platform
//	rules:
//	  - id: Fedora
//	    state: ready            # or a list of states; default: the default state
//	    match: build.name == "x" && ...
//	    destinations: '"f" + ... + "-candidate"'   # a string or list(string)
//	    untag: '"f40-pending"'  # only on Koji's kinds: tags to take the build out of
//
// Without on:, the rules decide on MBS's module builds (build.KindModule)
// as they always have. A file on Koji's kinds has no state: on its rules
// (the kind says it), and its build is the Koji build's map.
// It reads the YAML nodes themselves, so that every problem of every
// rule is reported at its own place; the rules without a problem are
// returned, to be compiled for theirs.
func parseCEL(file string, data []byte, root *yaml.Node, opts Options) ([]policy.Spec, policy.Errors) {
	pos := func(n *yaml.Node) policy.Position { return policy.Position{File: file, Line: n.Line, Col: n.Column} }
	// Unknown keys are refused, so that a typo is an error rather than a
	// silently ignored setting.
	errs := checkKnown(file, root)
	if root.Kind != yaml.MappingNode {
		return nil, errs
	}
	fail := func(at *yaml.Node, id, format string, args ...any) {
		errs = append(errs, policy.Error{Source: pos(at), RuleID: id, Msg: fmt.Sprintf(format, args...)})
	}
	failOn := func(at *yaml.Node, id, format string, args ...any) {
		errs = append(errs, policy.Error{Source: pos(at), RuleID: id, Msg: fmt.Sprintf(format, args...), Err: ErrOn})
	}
	// text reads a string-valued key of m; ok is false (and the problem
	// noted) when it is there but not a string.
	text := func(m *yaml.Node, key, id, what string) (string, *yaml.Node, bool) {
		n := child(m, key)
		if n == nil {
			return "", nil, true
		}
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			fail(n, id, "%s must be %s, not %s", key, what, kindName(n))
			return "", n, false
		}
		return n.Value, n, true
	}
	kinds, onErrs := parseOn(file, root)
	errs = append(errs, onErrs...)
	// A file whose on: is wrong is checked as one on Koji's events (what
	// on: is for) and none of its rules is compiled.
	koji := len(onErrs) > 0 || kinds[0].Koji()
	scope := &policy.Scope{}
	if vars := child(root, "variables"); vars != nil && vars.Kind == yaml.SequenceNode {
		for _, n := range vars.Content {
			if n.Kind != yaml.MappingNode {
				continue // checkKnown reports it
			}
			name, _, ok1 := text(n, "name", "", "a name")
			expr, en, ok2 := text(n, "expression", "", "a CEL expression (a string)")
			if !ok1 || !ok2 {
				continue
			}
			if name == "" || expr == "" {
				fail(n, "", "a variable needs a name and an expression")
				continue
			}
			scope.Variables = append(scope.Variables, policy.Variable{Name: name, Expr: expr, Source: pos(en), Locator: scalarLocator(file, data, en)})
		}
	}
	rulesNode := child(root, "rules")
	if rulesNode == nil {
		fail(root, "", "a CEL rule file needs a rules list")
		return nil, errs
	}
	if rulesNode.Kind != yaml.SequenceNode {
		return nil, errs
	}
	def := opts.DefaultState
	if def == "" {
		def = compat.DefaultState
	}
	seen := map[string]int{}
	var specs []policy.Spec
	for i, n := range rulesNode.Content {
		if n.Kind != yaml.MappingNode {
			continue // checkKnown reports it
		}
		before := len(errs)
		id, _, _ := text(n, "id", "", "a string")
		desc, _, _ := text(n, "description", id, "a string")
		match, mn, _ := text(n, "match", id, "a CEL expression (a string)")
		dests, dn, _ := text(n, "destinations", id, "a CEL expression (a string)")
		untag, un, _ := text(n, "untag", id, "a CEL expression (a string)")
		sp := policy.Spec{
			ID: id, Index: i + 1, Source: pos(n), Scope: scope,
			Match: match, MatchPos: pos(valueNode(n, "match")),
			Destinations: dests, DestinationsPos: pos(valueNode(n, "destinations")),
			MatchLocator:        scalarLocator(file, data, mn),
			DestinationsLocator: scalarLocator(file, data, dn),
			Meta:                &CELMeta{Description: desc, Node: n},
		}
		if child(n, "id") == nil || id == "" {
			fail(n, "", "rule %d has no id", i+1)
		} else if first, dup := seen[id]; dup {
			fail(valueNode(n, "id"), id, "rule id %q is used twice (first by rule %d)", id, first)
		} else {
			seen[id] = i + 1
		}
		switch {
		case !koji:
			if u := child(n, "untag"); u != nil {
				failOn(keyNode(n, "untag"), id, "untag is only for rules on Koji's events (on: %s, ...); this file's rules decide on %s", build.KindTag, build.KindModule)
			}
			if child(n, "destinations") == nil {
				fail(n, id, "rule has no destinations")
			} else if dests == "" && len(errs) == before {
				fail(dn, id, "destinations is empty")
			}
		case child(n, "destinations") == nil && child(n, "untag") == nil:
			fail(n, id, "rule has neither destinations nor untag")
		default:
			if dn != nil && dests == "" && len(errs) == before {
				fail(dn, id, "destinations is empty")
			}
			if un != nil && untag == "" && len(errs) == before {
				fail(un, id, "untag is empty")
			}
		}
		sp.States = []string{def}
		if koji {
			sp.Koji = &policy.KojiSpec{Untag: untag, UntagPos: pos(valueNode(n, "untag")), UntagLocator: scalarLocator(file, data, un)}
			sp.States = make([]string, len(kinds))
			for i, k := range kinds {
				sp.States[i] = string(k)
			}
			if child(n, "state") != nil {
				failOn(keyNode(n, "state"), id, "state is not for rules on Koji's events: the event kind (on: %s) says what happened to the build", joinKinds(kinds))
			}
		} else if st := child(n, "state"); st != nil {
			sp.States = nil
			for st.Kind == yaml.AliasNode {
				st = st.Alias
			}
			items := []*yaml.Node{st}
			if st.Kind == yaml.SequenceNode {
				items = st.Content
				if len(items) == 0 {
					fail(st, id, "state must be a state name or a list of them, not an empty list")
				}
			}
			for _, s := range items {
				if s.Kind != yaml.ScalarNode || s.Tag == "!!null" || s.Value == "" {
					fail(s, id, "state must be a state name or a list of them, not %s", kindName(s))
					continue
				}
				sp.States = append(sp.States, s.Value)
			}
		}
		if len(errs) == before && len(onErrs) == 0 {
			specs = append(specs, sp)
		}
	}
	return specs, errs
}

// ErrOn is the cause of the problems of a file's on: and of the keys a
// rule may have only on some kinds (state:, untag:).
var ErrOn = errors.New("rules and the event kinds they decide on do not agree")

// parseOn reads the file's on: key, the event kinds its rules decide on:
// a kind or a list of kinds, KindModule when absent. Module builds and
// Koji's events cannot share a file, as build is a different thing in
// each.
func parseOn(file string, root *yaml.Node) ([]build.Kind, policy.Errors) {
	n := child(root, "on")
	if n == nil {
		return []build.Kind{build.KindModule}, nil
	}
	at := policy.Position{File: file, Line: n.Line, Col: n.Column}
	if k := keyNode(root, "on"); k != nil {
		at = policy.Position{File: file, Line: k.Line, Col: k.Column}
	}
	var errs policy.Errors
	fail := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, policy.Error{Source: policy.Position{File: file, Line: n.Line, Col: n.Column}, Msg: fmt.Sprintf(format, args...), Err: ErrOn})
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			fail(n, "on must be an event kind or a list of them, not an empty list")
		}
	}
	var kinds []build.Kind
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" || it.Value == "" {
			fail(it, "on must be an event kind or a list of them, not %s", kindName(it))
			continue
		}
		k, err := build.ParseKind(it.Value)
		if err != nil {
			fail(it, "unknown event kind %q in on: (did you mean %q? known: %s)", it.Value, Nearest(it.Value, kindNames()), strings.Join(kindNames(), ", "))
			continue
		}
		if slices.Contains(kinds, k) {
			continue
		}
		kinds = append(kinds, k)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	mbs := slices.Contains(kinds, build.KindModule)
	if mbs && len(kinds) > 1 {
		errs = append(errs, policy.Error{Source: at, Err: ErrOn, Msg: fmt.Sprintf("on: mixes %s with Koji's kinds (%s): build is the MBS event in one and the Koji build in the other; put their rules in separate files",
			build.KindModule, joinKinds(slices.DeleteFunc(slices.Clone(kinds), func(k build.Kind) bool { return k == build.KindModule })))})
		return nil, errs
	}
	return kinds, nil
}

func kindNames() []string {
	var out []string
	for _, k := range build.Kinds() {
		out = append(out, string(k))
	}
	return out
}

func joinKinds(ks []build.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Nearest is the name of names nearest to s by edit distance (ignoring
// case), for "did you mean" hints; "" when names is empty.
func Nearest(s string, names []string) string {
	best, dist, shared := "", -1, 0
	for _, k := range names {
		a, b := strings.ToLower(s), strings.ToLower(k)
		d, p := levenshtein.ComputeDistance(a, b), commonPrefix(a, b)
		// Of two as near, the one sharing more of the start: a typo's
		// head is usually right (build.tagged is build.tag, not
		// build.failed).
		if dist < 0 || d < dist || d == dist && p > shared {
			best, dist, shared = k, d, p
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// kindName says what a YAML node holds, for messages.
func kindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Tag == "!!null":
		return "null"
	}
	return fmt.Sprintf("%q", n.Value)
}

// CELMeta is what the CEL format knows of a rule beyond its programs.
type CELMeta struct {
	Description string
	Node        *yaml.Node
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

// keyNode is the key node of key in the mapping n, nil when absent.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func valueNode(n *yaml.Node, key string) *yaml.Node {
	if c := child(n, key); c != nil {
		return c
	}
	return n
}

// checkKnown reports every key the format does not have, and every part
// of the wrong shape, at its position.
func checkKnown(file string, root *yaml.Node) policy.Errors {
	known := map[string]map[string]bool{
		"file":     {"format": true, "on": true, "variables": true, "rules": true},
		"variable": {"name": true, "expression": true},
		"rule":     {"id": true, "description": true, "state": true, "match": true, "destinations": true, "untag": true},
	}
	var errs policy.Errors
	fail := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, policy.Error{Source: policy.Position{File: file, Line: n.Line, Col: n.Column}, Msg: fmt.Sprintf(format, args...)})
	}
	check := func(m *yaml.Node, kind string) {
		if m.Kind != yaml.MappingNode {
			fail(m, "a %s must be a mapping, not %s", kind, kindName(m))
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; !known[kind][k.Value] {
				fail(k, "unknown key %q in a %s", k.Value, kind)
			}
		}
	}
	check(root, "file")
	for _, part := range []struct{ key, kind string }{{"variables", "variable"}, {"rules", "rule"}} {
		l := child(root, part.key)
		if l == nil {
			continue
		}
		if l.Kind != yaml.SequenceNode {
			fail(l, "%s must be a list", part.key)
			continue
		}
		for _, e := range l.Content {
			check(e, part.kind)
		}
	}
	return errs
}
