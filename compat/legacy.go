package compat

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// DefaultState is the build state of a rule without rule.build_state,
// unless configured otherwise.
const DefaultState = "ready"

// Criterion is one key of a legacy rule, as lint and explain see it.
type Criterion struct {
	Key string
	// Expected is the rule's value for the key; Spec its YAML flow text.
	Expected any
	Spec     string
	Source   policy.Position
	// Node is the value's YAML node, for positions of nested patterns.
	Node *yaml.Node
}

// RuleMeta is what the legacy format knows of a rule beyond its CEL.
type RuleMeta struct {
	Description string
	Type        string
	Template    string
	// Criteria are the keys that take part in matching, in file order.
	Criteria []Criterion
	// Ignored are keys the reference ignores (scratch).
	Ignored []Criterion
	// Keys maps every key of the rule definition to its position.
	Keys map[string]policy.Position
	// IDPos is where the id key is (zero without one); Compact keeps it.
	IDPos policy.Position
	// HasRule is false when the definition has no `rule` (matches all).
	HasRule bool
	Node    *yaml.Node
	// StatePos is where rule.build_state's value is (zero without one).
	StatePos policy.Position
	// Repeated are the keys given twice in the definition or its rule
	// (the last value counts, as in PyYAML).
	Repeated []RepeatedKey
}

// RepeatedKey is a key given again in one mapping.
type RepeatedKey struct {
	Key string
	Pos policy.Position
}

// Compact drops the YAML syntax tree the meta refers to and the key
// positions (IDPos stays), which only lint needs, so that a loaded rule set
// does not keep its whole file in memory.
func (m *RuleMeta) Compact() {
	m.Node = nil
	m.Keys = nil
	for i := range m.Criteria {
		m.Criteria[i].Node = nil
	}
	for i := range m.Ignored {
		m.Ignored[i].Node = nil
	}
}

// LoadLegacy turns a legacy Modularity rule file (already parsed, root may
// be nil for an empty file) into rule specs, with every problem found.
//
// lib, when not nil, is the library the specs will be compiled with; rules
// that can fail on a document are then indexed with checks that share its
// criteria. Without it such rules are not indexed.
func LoadLegacy(file string, root *yaml.Node, defaultState string, lib *Library) ([]policy.Spec, policy.Errors) {
	if defaultState == "" {
		defaultState = DefaultState
	}
	if root == nil {
		return nil, nil
	}
	pos := func(n *yaml.Node) policy.Position { return policy.Position{File: file, Line: n.Line, Col: n.Column} }
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.SequenceNode {
		return nil, policy.Errors{{Source: pos(root), Msg: "a legacy rule file must be a list of rule definitions"}}
	}
	all := make([]policy.Spec, len(root.Content))
	allErrs := make([]policy.Errors, len(root.Content))
	drop := lib != nil && lib.DropSyntax
	policy.Parallel(len(root.Content), func(i int) {
		all[i], allErrs[i] = legacyRule(file, i+1, root.Content[i], defaultState, lib)
		if lib != nil && lib.Inspect != nil && len(allErrs[i]) == 0 {
			lib.Inspect(i, all[i])
		}
		if drop {
			// The rule's part of the tree becomes garbage while the rest
			// is still read.
			if m, ok := all[i].Meta.(*RuleMeta); ok {
				m.Compact()
			}
			root.Content[i] = nil
		}
	})
	var specs []policy.Spec
	var errs policy.Errors
	for i, es := range allErrs {
		errs = append(errs, es...)
		if len(es) == 0 {
			specs = append(specs, all[i])
		}
	}
	return specs, errs
}

func legacyRule(file string, index int, item *yaml.Node, defaultState string, lib *Library) (policy.Spec, policy.Errors) {
	pos := func(n *yaml.Node) policy.Position { return policy.Position{File: file, Line: n.Line, Col: n.Column} }
	var errs policy.Errors
	sp := policy.Spec{Index: index, Source: pos(item)}
	compile := CompilePattern
	if lib != nil {
		compile = lib.Pattern
	}
	fail := func(n *yaml.Node, format string, args ...any) {
		e := policy.Error{Source: pos(n), RuleID: sp.ID, Msg: fmt.Sprintf(format, args...)}
		// The cause stays with the problem, for errors.Is (ErrRegex).
		for _, a := range args {
			if err, ok := a.(error); ok {
				e.Err = err
			}
		}
		errs = append(errs, e)
	}
	for item.Kind == yaml.AliasNode {
		item = item.Alias
	}
	if item.Kind != yaml.MappingNode {
		fail(item, "rule definition %d is not a mapping", index)
		return sp, errs
	}
	meta := &RuleMeta{Keys: map[string]policy.Position{}, Node: item}
	sp.Meta = meta
	fields := map[string]*yaml.Node{}
	entries, repeated, err := pyyaml.Entries(item)
	if err != nil {
		fail(item, "%v", err)
		return sp, errs
	}
	repeat := func(keys []*yaml.Node) {
		for _, k := range keys {
			meta.Repeated = append(meta.Repeated, RepeatedKey{Key: k.Value, Pos: pos(k)})
		}
	}
	repeat(repeated)
	for _, e := range entries {
		k := e.Key
		fields[k.Value] = e.Value
		meta.Keys[k.Value] = pos(k)
		if k.Value == "id" {
			meta.IDPos = pos(k)
		}
	}
	if n, ok := fields["id"]; ok {
		v, err := pyyaml.Decode(n)
		if err != nil || v == nil {
			fail(n, "id must be set")
		} else {
			sp.ID = pyyaml.Str(v)
		}
	}
	for _, req := range []string{"id", "type", "destinations"} {
		if _, ok := fields[req]; !ok {
			fail(item, "rule definition %d has no %q", index, req)
		}
	}
	if n, ok := fields["type"]; ok {
		if v, err := pyyaml.Decode(n); err == nil {
			meta.Type = pyyaml.Str(v)
		}
	}
	if n, ok := fields["description"]; ok {
		if v, err := pyyaml.Decode(n); err == nil && v != nil {
			meta.Description = pyyaml.Str(v)
		}
	}
	if n, ok := fields["destinations"]; ok {
		v, err := pyyaml.Decode(n)
		s, isStr := v.(string)
		if err != nil || !isStr {
			fail(n, "destinations must be one string template, not %s", describe(v, err))
		} else {
			meta.Template = s
			sp.DestinationsPos = pos(n)
		}
	}
	sp.States = []string{defaultState}
	var crits []*criterion
	if n, ok := fields["rule"]; ok {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			v, err := pyyaml.Decode(n)
			fail(n, "rule must be a mapping of criteria, not %s", describe(v, err))
		} else if entries, repeated, err := pyyaml.Entries(n); err != nil {
			fail(n, "%v", err)
		} else {
			repeat(repeated)
			meta.HasRule = true
			sp.MatchPos = pos(n)
			for _, e := range entries {
				kn, vn := e.Key, e.Value
				kv, err := pyyaml.Decode(kn)
				if err != nil {
					fail(kn, "%v", err)
					continue
				}
				key := pyyaml.Str(kv)
				expected, err := pyyaml.Decode(vn)
				if err != nil {
					fail(vn, "%v", err)
					continue
				}
				c := Criterion{Key: key, Expected: expected, Spec: FlowText(expected), Source: pos(kn), Node: vn}
				switch key {
				case "build_state":
					s, ok := expected.(string)
					if !ok {
						fail(vn, "build_state must be a state name, not %s", describe(expected, nil))
						continue
					}
					sp.States = []string{s}
					meta.StatePos = pos(vn)
					continue
				case "scratch":
					meta.Ignored = append(meta.Ignored, c)
					continue
				}
				if lib != nil {
					cr, err := lib.intern(key, c.Spec, expected)
					if err != nil {
						fail(patternNode(vn, compile), "criterion %q: %v", key, err)
						continue
					}
					crits = append(crits, cr)
				} else if key != "development" {
					if _, err := compileExpected(expected, compile); err != nil {
						fail(patternNode(vn, compile), "criterion %q: %v", key, err)
						continue
					}
				}
				meta.Criteria = append(meta.Criteria, c)
			}
		}
	}
	sp.Match, sp.Destinations = ruleCEL(meta)
	if len(errs) == 0 {
		sp.Guards, sp.Checks = guards(meta.Criteria, lib)
		if lib != nil {
			sp.Native = &native{crits: crits, template: meta.Template}
		}
	}
	return sp, errs
}

// ruleCEL writes the CEL of a legacy rule: what it does, for compile,
// explain and MatchValues. Loading evaluates the same natively.
func ruleCEL(meta *RuleMeta) (match, dests string) {
	// Keys that can fail on a document are checked first: the reference
	// evaluates every key, so their failure must not hide behind an earlier
	// key that did not match.
	var b []byte
	call := func(fn string, c Criterion) {
		if len(b) > 0 {
			b = append(b, " && "...)
		}
		b = append(b, fn...)
		b = append(b, "("+policy.VarData+", "...)
		b = appendCELString(b, c.Key)
		b = append(b, ", "...)
		b = appendCELString(b, c.Spec)
		b = append(b, ')')
	}
	for i, c := range meta.Criteria {
		if _, isMap := c.Expected.(*pyyaml.Map); isMap && i > 0 {
			call(FuncValid, c)
		}
	}
	for _, c := range meta.Criteria {
		call(FuncMatch, c)
	}
	match = string(b)
	d := appendCELString([]byte(FuncDestinations+"("), meta.Template)
	return match, string(append(d, ')'))
}

// patternNode finds the first scalar under n whose pattern does not
// compile, so the error points at it rather than at its parent mapping.
func patternNode(n *yaml.Node, compile func(string) (*Pattern, error)) *yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode:
		return n
	case yaml.AliasNode:
		return patternNode(n.Alias, compile)
	}
	start := 0
	step := 1
	if n.Kind == yaml.MappingNode {
		start, step = 1, 2
	}
	for i := start; i < len(n.Content); i += step {
		c := n.Content[i]
		v, err := pyyaml.Decode(c)
		if err != nil {
			return c
		}
		if s, ok := v.(string); ok {
			if _, err := compile(s); err != nil {
				return c
			}
		}
		if c.Kind != yaml.ScalarNode {
			if _, err := compileExpected(v, compile); err != nil {
				return patternNode(c, compile)
			}
		}
	}
	return n
}

func describe(v any, err error) string {
	if err != nil {
		return err.Error()
	}
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case *pyyaml.Map:
		return "a mapping"
	}
	return fmt.Sprintf("%s (%s)", pyyaml.Repr(v), pyTypeName(v))
}

// appendCELString appends s as a CEL string literal, raw when that reads
// better.
func appendCELString(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\"\n\r") && strings.ContainsRune(s, '\\') {
		b = append(b, `r"`...)
		b = append(b, s...)
		return append(b, '"')
	}
	return strconv.AppendQuote(b, s)
}

// FlowText writes a decoded value as YAML flow text that reads back, with
// YAML 1.1 resolution, to the same value.
func FlowText(v any) string {
	var b strings.Builder
	writeFlow(&b, v)
	return b.String()
}

func writeFlow(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *big.Int:
		b.WriteString(v.String())
	case float64:
		switch {
		case math.IsInf(v, 1):
			b.WriteString(".inf")
		case math.IsInf(v, -1):
			b.WriteString("-.inf")
		case math.IsNaN(v):
			b.WriteString(".nan")
		default:
			s := strconv.FormatFloat(v, 'e', -1, 64)
			mant, exp, _ := strings.Cut(s, "e")
			if !strings.Contains(mant, ".") {
				mant += ".0"
			}
			// YAML 1.1 floats need a dot and a signed exponent.
			b.WriteString(mant + "e" + exp)
		}
	case string:
		writeFlowString(b, v)
	case pyyaml.Date, pyyaml.DateTime:
		b.WriteString(pyyaml.Str(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, e)
		}
		b.WriteByte(']')
	case *pyyaml.Map:
		b.WriteByte('{')
		for i, k := range v.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, k)
			b.WriteString(": ")
			e, _ := v.Get(k)
			writeFlow(b, e)
		}
		b.WriteByte('}')
	default:
		writeFlowString(b, fmt.Sprint(v))
	}
}

func writeFlowString(b *strings.Builder, s string) {
	printable := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfeff {
			printable = false
			break
		}
	}
	if printable {
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(s, "'", "''"))
		b.WriteByte('\'')
		return
	}
	b.WriteString(strconv.Quote(s))
}
