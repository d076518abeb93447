package compat

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// The CEL functions that carry the reference's matching semantics.
const (
	// FuncMatch is legacy.match(data, key, expected): one top-level key of a
	// legacy rule; expected is the rule's value for the key as YAML flow
	// text (YAML, not a CEL literal, because its key order and its YAML 1.1
	// types are part of the semantics).
	FuncMatch = "legacy.match"
	// FuncValid is legacy.valid(data, key, expected): true unless matching
	// the key would fail on this document. The reference evaluates every
	// key of a rule before combining them, so a key that fails makes the
	// rule fail even after another key did not match; rules check such
	// keys up front and then combine the keys with a short-circuit &&.
	FuncValid = "legacy.valid"
	// FuncDestinations is legacy.destinations(template): the template
	// filled from the named groups the rule's criteria captured.
	FuncDestinations = "legacy.destinations"
)

const (
	overloadMatch        = "legacy_match_map_string_string"
	overloadValid        = "legacy_valid_map_string_string"
	overloadDestinations = "legacy_destinations_string"
)

// Library holds the legacy functions of one rule set: the criteria it has
// compiled, each with an id under which a decision memoises its result,
// so that a criterion shared by many rules is evaluated once per build.
type Library struct {
	mu       sync.Mutex // guards criteria, shapes and nextID
	criteria map[string]*criterion
	shapes   map[string]*shape
	nextID   int
	pmu      sync.Mutex // guards patterns
	patterns map[string]compiled
	base     types.Adapter
	// MaxPatternLen, when not zero, refuses longer patterns.
	MaxPatternLen int
	// DropSyntax makes LoadLegacy drop each rule's YAML nodes and key
	// positions (RuleMeta Compact) and its entry of the file's tree as soon as the rule is
	// read (and inspected): a large file's tree is bigger than its rules.
	DropSyntax bool
	// Inspect, when set, is called by LoadLegacy with each rule read
	// without problems (index is its 0-based place in the file), while
	// its YAML nodes are still there; calls run concurrently.
	Inspect func(index int, sp policy.Spec)
}

type compiled struct {
	p    *Pattern
	lits []policy.Literal
	err  error
}

// NewLibrary returns an empty library.
func NewLibrary() *Library {
	return &Library{criteria: map[string]*criterion{}, shapes: map[string]*shape{}, patterns: map[string]compiled{}}
}

// ErrPatternTooLong marks a pattern over the library's MaxPatternLen.
var ErrPatternTooLong = errors.New("pattern too long")

// Pattern compiles a pattern once per library: rules of large files
// share most of their patterns.
func (l *Library) Pattern(src string) (*Pattern, error) {
	c := l.compiled(src)
	return c.p, c.err
}

func (l *Library) compiled(src string) compiled {
	l.pmu.Lock()
	c, ok := l.patterns[src]
	l.pmu.Unlock()
	if ok {
		return c
	}
	if l.MaxPatternLen > 0 && len(src) > l.MaxPatternLen {
		c.err = fmt.Errorf("%w: %d bytes, the limit is %d (max_pattern_length)", ErrPatternTooLong, len(src), l.MaxPatternLen)
	} else {
		var parsed *syntax.Regexp
		c.p, parsed, c.err = compilePattern(src)
		if c.err == nil {
			c.lits = c.p.literals(parsed)
		}
	}
	l.pmu.Lock()
	l.patterns[src] = c
	l.pmu.Unlock()
	return c
}

// literals are the guard literals of a pattern (nil: none, or it does not
// compile).
func (l *Library) literals(src string) []policy.Literal { return l.compiled(src).lits }

var errNeedsConstants = errors.New("legacy functions take constant key and expected arguments")

// EnvOption declares the legacy functions and the document value adapter.
func (l *Library) EnvOption() policy.EnvOption {
	return policy.EnvOption{
		Env: []cel.EnvOption{
			cel.Function(FuncMatch, cel.Overload(overloadMatch,
				[]*cel.Type{cel.MapType(cel.StringType, cel.DynType), cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(func(...ref.Val) ref.Val { return types.WrapErr(errNeedsConstants) }))),
			cel.Function(FuncValid, cel.Overload(overloadValid,
				[]*cel.Type{cel.MapType(cel.StringType, cel.DynType), cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(func(...ref.Val) ref.Val { return types.WrapErr(errNeedsConstants) }))),
			cel.Function(FuncDestinations, cel.Overload(overloadDestinations,
				[]*cel.Type{cel.StringType}, cel.ListType(cel.StringType),
				cel.UnaryBinding(func(ref.Val) ref.Val { return types.WrapErr(errNeedsConstants) }))),
			func(e *cel.Env) (*cel.Env, error) {
				l.base = e.CELTypeAdapter()
				return cel.CustomTypeAdapter(&adapter{base: l.base})(e)
			},
		},
		Program: []cel.ProgramOption{
			cel.OptimizeRegex(
				&interpreter.RegexOptimization{Function: FuncMatch, OverloadID: overloadMatch, RegexIndex: 2, Factory: l.matchCall},
				&interpreter.RegexOptimization{Function: FuncValid, OverloadID: overloadValid, RegexIndex: 2, Factory: l.validCall},
				&interpreter.RegexOptimization{Function: FuncDestinations, OverloadID: overloadDestinations, RegexIndex: 0, Factory: l.destinationsCall},
			),
		},
	}
}

// criterion interns the criterion for key and expected-value text.
func (l *Library) criterion(key, spec string) (*criterion, error) {
	l.mu.Lock()
	c, ok := l.criteria[key+"\x00"+spec]
	l.mu.Unlock()
	if ok {
		return c, nil
	}
	expected, err := pyyaml.Load([]byte(spec))
	if err != nil {
		return nil, fmt.Errorf("expected value of %q: %w", key, err)
	}
	return l.intern(key, spec, expected)
}

// intern is criterion for an expected value already decoded (spec is its
// flow text), as the loader has it.
func (l *Library) intern(key, spec string, expected any) (*criterion, error) {
	var m matcher
	if key != "development" {
		var err error
		if m, err = compileExpected(expected, l.Pattern); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	id := key + "\x00" + spec
	if c, ok := l.criteria[id]; ok {
		return c, nil
	}
	c := &criterion{id: l.nextID, key: key, spec: spec, expected: expected, m: m}
	l.nextID++
	if m, ok := expected.(*pyyaml.Map); ok {
		n := newShapeNode(m)
		sk := key + "\x00" + n.String()
		sh := l.shapes[sk]
		if sh == nil {
			sh = &shape{id: l.nextID, key: key, subs: n}
			l.nextID++
			l.shapes[sk] = sh
		}
		c.shape = sh
	}
	l.criteria[id] = c
	return c, nil
}

func (l *Library) matchCall(call interpreter.InterpretableCall, spec string) (interpreter.InterpretableCall, error) {
	args := call.Args()
	k, ok := args[1].(interpreter.InterpretableConst)
	if !ok {
		return nil, errNeedsConstants
	}
	key, ok := k.Value().(types.String)
	if !ok {
		return nil, errNeedsConstants
	}
	c, err := l.criterion(string(key), spec)
	if err != nil {
		return nil, err
	}
	return &matchCall{InterpretableCall: call, c: c, data: args[0]}, nil
}

func (l *Library) validCall(call interpreter.InterpretableCall, spec string) (interpreter.InterpretableCall, error) {
	c, err := l.matchCall(call, spec)
	if err != nil {
		return nil, err
	}
	c.(*matchCall).validOnly = true
	return c, nil
}

func (l *Library) destinationsCall(call interpreter.InterpretableCall, template string) (interpreter.InterpretableCall, error) {
	return &destinationsCall{InterpretableCall: call, template: template}, nil
}

// matchCall evaluates one criterion, memoised per decision.
type matchCall struct {
	interpreter.InterpretableCall
	c         *criterion
	data      interpreter.InterpretableV2
	validOnly bool
}

func (m *matchCall) Eval(act interpreter.Activation) ref.Val {
	st, ok := policy.StateFrom(act)
	if !ok {
		return types.NewErr("%s: no evaluation state", FuncMatch)
	}
	dv := m.data.Eval(act)
	data, ok := dv.Value().(*pyyaml.Map)
	if !ok {
		return types.NewErr("%s: data is %s, not a modulemd mapping", FuncMatch, dv.Type().TypeName())
	}
	slot := m.c.result(st, data)
	if m.validOnly {
		if slot.Err != nil {
			st.Fail(slot.Err)
			return types.False
		}
		return types.True
	}
	if st.Tracing() {
		st.Record(m.c.step(data, slot.OK, slot.Err))
	}
	if slot.Err != nil {
		// Recorded on the state rather than returned: CEL's && would turn
		// "error && false" into false, where the reference fails.
		st.Fail(slot.Err)
		return types.False
	}
	if slot.OK {
		st.AddCaptures(slot.Groups...)
	}
	return types.Bool(slot.OK)
}

func (m *matchCall) Exec(f *interpreter.ExecutionFrame) ref.Val { return m.Eval(f) }

// result is the criterion's result on this decision's document, evaluated
// once per decision.
func (c *criterion) result(st *policy.State, data *pyyaml.Map) *policy.Slot {
	slot, done := st.Slot(c.id)
	if !done {
		slot.OK, slot.Err = c.eval(data, &slot.Groups)
	}
	return slot
}

// native evaluates a legacy rule as its CEL does (ruleCEL), without a
// program: the criteria that can fail on a document first (those with an
// expected mapping), then every criterion in order until one does not
// hold, each failure ending the rule with its error.
type native struct {
	crits    []*criterion
	template string
}

func (n *native) Match(st *policy.State) (bool, error) {
	if len(n.crits) == 0 {
		return true, nil
	}
	data, ok := st.Data().(*pyyaml.Map)
	if !ok {
		v, _ := st.ResolveName(policy.VarData)
		name := "null_type"
		if rv, ok := v.(ref.Val); ok {
			name = rv.Type().TypeName()
		}
		return false, fmt.Errorf("%s: data is %s, not a modulemd mapping", FuncMatch, name)
	}
	for i, c := range n.crits {
		// Check is what legacy.valid gives, without evaluating the
		// criterion when the document's shape cannot make it fail.
		if c.shape != nil && i > 0 {
			if err := c.Check(st); err != nil {
				return false, err
			}
		}
	}
	for _, c := range n.crits {
		slot := c.result(st, data)
		if st.Tracing() {
			st.Record(c.step(data, slot.OK, slot.Err))
		}
		if slot.Err != nil {
			return false, slot.Err
		}
		if !slot.OK {
			return false, nil
		}
		st.AddCaptures(slot.Groups...)
	}
	return true, nil
}

func (n *native) Destinations(st *policy.State) ([]string, error) {
	return expand(n.template, st.Captures())
}

// destinationsCall fills the template from the captures of the rule.
type destinationsCall struct {
	interpreter.InterpretableCall
	template string
}

func (d *destinationsCall) Eval(act interpreter.Activation) ref.Val {
	st, ok := policy.StateFrom(act)
	if !ok {
		return types.NewErr("%s: no evaluation state", FuncDestinations)
	}
	out, err := expand(d.template, st.Captures())
	if err != nil {
		st.Fail(err)
		return types.WrapErr(err)
	}
	return types.NewStringList(types.DefaultTypeAdapter, out)
}

func (d *destinationsCall) Exec(f *interpreter.ExecutionFrame) ref.Val { return d.Eval(f) }
