package ruleset

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/policy"
)

// celFile is the CEL rule file format:
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
type celFile struct {
	Format    string        `yaml:"format"`
	Variables []celVariable `yaml:"variables"`
	Rules     []celRule     `yaml:"rules"`
}

type celVariable struct {
	Name       string `yaml:"name"`
	Expression string `yaml:"expression"`
}

type celRule struct {
	ID           string    `yaml:"id"`
	Description  string    `yaml:"description"`
	State        yaml.Node `yaml:"state"`
	Match        string    `yaml:"match"`
	Destinations string    `yaml:"destinations"`
}

func parseCEL(file string, data []byte, root *yaml.Node, opts Options) ([]policy.Spec, policy.Errors) {
	pos := func(n *yaml.Node) policy.Position { return policy.Position{File: file, Line: n.Line, Col: n.Column} }
	var errs policy.Errors
	// Unknown keys are refused, so that a typo is an error rather than a
	// silently ignored setting.
	if errs := checkKnown(file, root); len(errs) > 0 {
		return nil, errs
	}
	var f celFile
	if err := root.Decode(&f); err != nil {
		return nil, policy.Errors{{Source: pos(root), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	scope := &policy.Scope{}
	varsNode := child(root, "variables")
	for i, v := range f.Variables {
		n := root
		if varsNode != nil && i < len(varsNode.Content) {
			n = varsNode.Content[i]
		}
		if v.Name == "" || v.Expression == "" {
			errs = append(errs, policy.Error{Source: pos(n), Msg: "a variable needs a name and an expression"})
			continue
		}
		en := valueNode(n, "expression")
		scope.Variables = append(scope.Variables, policy.Variable{Name: v.Name, Expr: v.Expression, Source: pos(en), Locator: scalarLocator(file, data, en)})
	}
	rulesNode := child(root, "rules")
	if rulesNode == nil {
		return nil, append(errs, policy.Error{Source: pos(root), Msg: "a CEL rule file needs a rules list"})
	}
	def := opts.DefaultState
	if def == "" {
		def = compat.DefaultState
	}
	seen := map[string]bool{}
	var specs []policy.Spec
	for i, r := range f.Rules {
		n := rulesNode.Content[i]
		sp := policy.Spec{
			ID: r.ID, Index: i + 1, Source: pos(n), Scope: scope,
			Match: r.Match, MatchPos: pos(valueNode(n, "match")),
			Destinations: r.Destinations, DestinationsPos: pos(valueNode(n, "destinations")),
			MatchLocator:        scalarLocator(file, data, child(n, "match")),
			DestinationsLocator: scalarLocator(file, data, child(n, "destinations")),
			Meta:                &CELMeta{Description: r.Description, Node: n},
		}
		fail := func(at *yaml.Node, format string, args ...any) {
			errs = append(errs, policy.Error{Source: pos(at), RuleID: r.ID, Msg: fmt.Sprintf(format, args...)})
		}
		if r.ID == "" {
			fail(n, "rule %d has no id", i+1)
		} else if seen[r.ID] {
			fail(n, "rule id %q is used twice", r.ID)
		}
		seen[r.ID] = true
		if r.Destinations == "" {
			fail(n, "rule has no destinations")
		}
		switch r.State.Kind {
		case 0:
			sp.States = []string{def}
		case yaml.ScalarNode:
			sp.States = []string{r.State.Value}
		case yaml.SequenceNode:
			if err := r.State.Decode(&sp.States); err != nil || len(sp.States) == 0 {
				fail(&r.State, "state must be a state name or a list of them")
			}
		default:
			fail(&r.State, "state must be a state name or a list of them")
		}
		specs = append(specs, sp)
	}
	return specs, errs
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
			fail(m, "a %s must be a mapping", kind)
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
