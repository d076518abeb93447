package compat

import (
	"fmt"
	"strings"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// criterion is one top-level key of a legacy rule, compiled: the Go form
// of the reference's matcher for that key.
type criterion struct {
	id       int
	key      string
	spec     string // the expected value as YAML flow text
	expected any
	m        matcher // nil for development
	// shape, for a mapping, tells cheaply whether a document can make
	// the criterion fail; shared by the criteria of one shape.
	shape *shape
}

// matcher matches an expected value (a pattern, a list of them, or a
// mapping of them) against a document value, recording named-group
// captures in order.
type matcher interface {
	match(v any, caps *[][]Capture) (bool, error)
}

// compileExpected builds the matcher of an expected value, compiling its
// patterns with compile.
func compileExpected(e any, compile func(string) (*Pattern, error)) (matcher, error) {
	switch e := e.(type) {
	case *pyyaml.Map:
		mm := &mappingMatcher{}
		for _, k := range e.Keys() {
			v, _ := e.Get(k)
			sub, err := compileExpected(v, compile)
			if err != nil {
				return nil, err
			}
			mm.keys = append(mm.keys, k)
			mm.subs = append(mm.subs, sub)
		}
		return mm, nil
	case []any:
		lm := &listMatcher{}
		for _, p := range e {
			vm, err := compileValue(p, compile)
			if err != nil {
				return nil, err
			}
			lm.alts = append(lm.alts, vm)
		}
		return lm, nil
	}
	return compileValue(e, compile)
}

func compileValue(p any, compile func(string) (*Pattern, error)) (*valueMatcher, error) {
	s, ok := p.(string)
	if !ok {
		return &valueMatcher{literal: p}, nil
	}
	re, err := compile(s)
	if err != nil {
		return nil, err
	}
	return &valueMatcher{re: re}, nil
}

// valueMatcher is the reference's value-match: a regex searched in the
// str() of every element, or Python equality for non-string patterns.
type valueMatcher struct {
	re      *Pattern
	literal any
}

func (m *valueMatcher) match(v any, caps *[][]Capture) (bool, error) {
	if l, ok := v.([]any); ok {
		return m.matchEach(l, caps), nil
	}
	return m.matchOne(v, caps), nil
}

func (m *valueMatcher) matchEach(l []any, caps *[][]Capture) bool {
	ok := false
	for _, e := range l {
		if m.matchOne(e, caps) {
			ok = true
			if m.re == nil {
				// Equality stops at the first equal element.
				return true
			}
		}
	}
	return ok
}

func (m *valueMatcher) matchOne(e any, caps *[][]Capture) bool {
	if m.re == nil {
		return pyyaml.Equal(e, m.literal)
	}
	ok, c := m.re.Search(pyyaml.Str(e))
	if ok && c != nil {
		*caps = append(*caps, c)
	}
	return ok
}

// listMatcher is list-match: the first pattern that matches wins.
type listMatcher struct {
	alts []*valueMatcher
}

func (m *listMatcher) match(v any, caps *[][]Capture) (bool, error) {
	for _, a := range m.alts {
		if ok, _ := a.match(v, caps); ok {
			return true, nil
		}
	}
	return false, nil
}

// mappingMatcher is mapping-match: every key in order, the first failing
// one failing the whole.
type mappingMatcher struct {
	keys []any
	subs []matcher
}

func (m *mappingMatcher) match(v any, caps *[][]Capture) (bool, error) {
	c, ok := v.(*pyyaml.Map)
	if !ok {
		return false, fmt.Errorf("AttributeError: '%s' object has no attribute 'get' (a mapping was expected)", pyTypeName(v))
	}
	for i, k := range m.keys {
		cv, ok := c.Get(k)
		if !ok || cv == nil {
			return false, nil
		}
		ok, err := m.subs[i].match(cv, caps)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case *pyyaml.Map:
		return "dict"
	case pyyaml.Date:
		return "datetime.date"
	case pyyaml.DateTime:
		return "datetime.datetime"
	}
	return fmt.Sprintf("%T", v)
}

// eval runs the criterion on the document data, as the reference's
// RuleDef.match does for one key.
func (c *criterion) eval(data *pyyaml.Map, caps *[][]Capture) (bool, error) {
	if c.m == nil { // development
		v, ok := data.Get("development")
		if !ok {
			v = false
		}
		return pyyaml.Equal(c.expected, v), nil
	}
	v, ok := data.Get(c.key)
	if !ok || v == nil {
		return false, nil
	}
	switch c.m.(type) {
	case *mappingMatcher:
		if l, ok := v.([]any); ok {
			if len(l) == 0 {
				return false, fmt.Errorf("IndexError: list index out of range (%s is an empty list)", c.key)
			}
			v = l[0]
		}
		return c.m.match(v, caps)
	case *listMatcher:
		return c.m.match(v, caps)
	}
	return c.m.match(pyyaml.Str(v), caps)
}

// seen describes the document value a criterion looked at, for explain.
func (c *criterion) seen(data *pyyaml.Map) string {
	key := c.key
	v, ok := data.Get(key)
	if !ok {
		if c.m == nil {
			return "False (absent)"
		}
		return "(absent)"
	}
	return pyyaml.Repr(v)
}

// expand builds the destinations of a matched rule from its template and
// the captures of its criteria: per group name, in first-seen order, the
// values it took; then their cartesian product, first name slowest.
func expand(template string, caps [][]Capture) ([]string, error) {
	if len(caps) == 0 {
		return []string{template}, nil
	}
	// One match with one group: the common case, without the bookkeeping.
	if len(caps) == 1 && len(caps[0]) == 1 {
		c := caps[0][0]
		if !c.Valid {
			return nil, fmt.Errorf("TypeError: named group %q did not take part in the match, so it has no value to put in the destination", c.Name)
		}
		return []string{strings.ReplaceAll(template, `\g<`+c.Name+`>`, c.Value)}, nil
	}
	var names []string
	values := map[string][]string{}
	for _, dict := range caps {
		for _, c := range dict {
			if !c.Valid {
				return nil, fmt.Errorf("TypeError: named group %q did not take part in the match, so it has no value to put in the destination", c.Name)
			}
			if _, ok := values[c.Name]; !ok {
				names = append(names, c.Name)
			}
			values[c.Name] = append(values[c.Name], c.Value)
		}
	}
	out := []string{template}
	for _, n := range names {
		ref := `\g<` + n + `>`
		next := make([]string, 0, len(out)*len(values[n]))
		for _, partial := range out {
			for _, v := range values[n] {
				next = append(next, strings.ReplaceAll(partial, ref, v))
			}
		}
		out = next
	}
	return out, nil
}

// step is the trace record of one criterion.
func (c *criterion) step(data *pyyaml.Map, ok bool, err error) policy.Step {
	s := policy.Step{Label: c.key, Expected: c.spec, Seen: c.seen(data), Result: ok}
	if err != nil {
		s.Note = err.Error()
	}
	return s
}

// Check implements policy.Check: the error evaluating the criterion on the
// decision's document would give, shared with the criterion's memo.
func (c *criterion) Check(st *policy.State) error {
	data, ok := st.Data().(*pyyaml.Map)
	if !ok {
		return fmt.Errorf("data is %T, not a modulemd mapping", st.Data())
	}
	if c.shape != nil {
		safe, done := st.Slot(c.shape.id)
		if !done {
			safe.OK = c.shape.safe(data)
		}
		if safe.OK {
			return nil
		}
	}
	slot, done := st.Slot(c.id)
	if !done {
		slot.OK, slot.Err = c.eval(data, &slot.Groups)
	}
	return slot.Err
}

// shape is the nesting of an expected mapping: the keys whose expected
// values are mappings. A document where every value met along it is a
// mapping or missing cannot make a criterion of that shape fail.
type shape struct {
	id   int
	key  string
	subs *shapeNode
}

type shapeNode struct {
	keys []any
	subs []*shapeNode
}

func newShapeNode(m *pyyaml.Map) *shapeNode {
	n := &shapeNode{}
	for _, k := range m.Keys() {
		if v, _ := m.Get(k); v != nil {
			if sub, ok := v.(*pyyaml.Map); ok {
				n.keys = append(n.keys, k)
				n.subs = append(n.subs, newShapeNode(sub))
			}
		}
	}
	return n
}

// String identifies the shape: equal texts, equal shapes.
func (n *shapeNode) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range n.keys {
		b.WriteString(pyyaml.Repr(k))
		b.WriteString(n.subs[i].String())
	}
	b.WriteByte('}')
	return b.String()
}

func (s *shape) safe(data *pyyaml.Map) bool {
	v, ok := data.Get(s.key)
	if !ok || v == nil {
		return true
	}
	if l, ok := v.([]any); ok {
		if len(l) == 0 {
			return false
		}
		v = l[0]
	}
	return s.subs.safe(v)
}

func (n *shapeNode) safe(v any) bool {
	m, ok := v.(*pyyaml.Map)
	if !ok {
		return false
	}
	for i, k := range n.keys {
		if c, ok := m.Get(k); ok && c != nil && !n.subs[i].safe(c) {
			return false
		}
	}
	return true
}
