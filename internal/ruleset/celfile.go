package ruleset

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/policy"
)

// parseCEL reads a CEL rule file:
//
//	format: cel
//	variables:                  # optional, evaluated at most once per build
//	  - name: platform
//	    expression: data.dependencies[0].requires.platform
//	rules:
//	  - id: Fedora
//	    state: ready            # or a list of states; default: the default state
//	    match: build.name == "x" && ...
//	    destinations: '"f" + ... + "-candidate"'   # a string or list(string)
//
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
		if child(n, "destinations") == nil {
			fail(n, id, "rule has no destinations")
		} else if dests == "" && len(errs) == before {
			fail(dn, id, "destinations is empty")
		}
		sp.States = []string{def}
		if st := child(n, "state"); st != nil {
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
		if len(errs) == before {
			specs = append(specs, sp)
		}
	}
	return specs, errs
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
		"file":     {"format": true, "variables": true, "rules": true},
		"variable": {"name": true, "expression": true},
		"rule":     {"id": true, "description": true, "state": true, "match": true, "destinations": true},
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
