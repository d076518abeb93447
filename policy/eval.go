package policy

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/fedora-modularity/mts/internal/build"
)

// Input is what one decision is made on.
type Input struct {
	Event build.Event
	// Modulemd is the whole modulemd document and Data its data mapping,
	// as values the environment's type adapter understands.
	Modulemd any
	Data     any
	// Index gives the values rule guards are checked against; nil
	// disables the guard index for this input (every rule is tried).
	Index Indexer
}

// Indexer returns the text that rule guards of a top-level key of the
// modulemd data are checked against (for legacy rules, Python's str() of
// the value), and false when the key is missing or null.
type Indexer interface {
	IndexValue(key string) (string, bool)
}

// Outcome of a decision.
type Outcome string

// Outcomes.
const (
	Matched   Outcome = "matched"
	Unmatched Outcome = "unmatched"
	// Skipped: no rule applies to the event's state at all, so nothing is
	// tagged and nothing is announced.
	Skipped Outcome = "skipped"
)

// Decision is the result of evaluating a rule set for one build.
type Decision struct {
	Outcome Outcome
	// Rule is the matching rule, nil unless Outcome is Matched.
	Rule *Rule
	// Destinations are the tags, duplicates removed (first kept).
	Destinations []string
	// Tried are the 1-based indexes of the rules evaluated, in order.
	Tried []int
}

// EvalError is the failure of one rule on one build. It names the rule.
type EvalError struct {
	RuleID    string
	RuleIndex int
	Source    Position
	Err       error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("rule %q (%s): %v", e.RuleID, e.Source, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Step is one observation recorded while explaining a decision: a
// criterion, what it expected, what it saw and whether it held.
type Step struct {
	Label    string   `json:"criterion"`
	Expected string   `json:"expected"`
	Seen     string   `json:"seen"`
	Result   bool     `json:"result"`
	Note     string   `json:"note,omitempty"`
	Source   Position `json:"source"`
}

// RuleTrace is how one rule fared in an explained decision.
type RuleTrace struct {
	Rule    *Rule
	Matched bool
	// Skipped is set when the guard index ruled the rule out without
	// evaluating it.
	Skipped bool
	Steps   []Step
	Err     error
}

// Set is a compiled, immutable rule set: safe for concurrent use.
type Set struct {
	rules  []*Rule
	groups map[string]*group
	nvars  int
	adapt  types.Adapter
	pool   sync.Pool
}

// group is the rules of one build state, in file order, with the guard
// index used to skip rules that cannot match.
type group struct {
	rules []int // indexes into Set.rules
	// unguarded are positions (into rules) of rules without a guard.
	unguarded []int
	// byKey maps a guard key to prefix -> positions of rules guarded by it.
	byKey map[string]map[string][]int
	keys  []string
	// checks of guarded rules, each with the first position using it.
	checks []groupCheck
}

type groupCheck struct {
	check Check
	first int
}

func newSet(rules []*Rule, nvars int, adapter types.Adapter) *Set {
	s := &Set{rules: rules, groups: map[string]*group{}, nvars: nvars, adapt: adapter}
	for i, r := range rules {
		for _, st := range r.States {
			g := s.groups[st]
			if g == nil {
				g = &group{byKey: map[string]map[string][]int{}}
				s.groups[st] = g
			}
			pos := len(g.rules)
			g.rules = append(g.rules, i)
			if r.Guard == nil || len(r.Guard.Prefixes) == 0 {
				g.unguarded = append(g.unguarded, pos)
				continue
			}
			m := g.byKey[r.Guard.Key]
			if m == nil {
				m = map[string][]int{}
				g.byKey[r.Guard.Key] = m
				g.keys = append(g.keys, r.Guard.Key)
			}
			for _, c := range r.Guard.Checks {
				found := false
				for _, gc := range g.checks {
					found = found || gc.check == c
				}
				if !found {
					g.checks = append(g.checks, groupCheck{check: c, first: pos})
				}
			}
			seen := map[string]bool{}
			for _, p := range r.Guard.Prefixes {
				if !seen[p] {
					seen[p] = true
					m[p] = append(m[p], pos)
				}
			}
		}
	}
	for _, g := range s.groups {
		// Index only pays off when a key prunes many rules; for small groups
		// the plain walk is faster and allocates nothing.
		if len(g.rules) < 64 {
			g.byKey = nil
			g.keys = nil
			g.unguarded = nil
		}
	}
	s.pool.New = func() any { return &State{set: s} }
	return s
}

// Rules returns the rules in file order.
func (s *Set) Rules() []*Rule { return s.rules }

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// States lists the states that have at least one rule, sorted.
func (s *Set) States() []string {
	out := make([]string, 0, len(s.groups))
	for st := range s.groups {
		out = append(out, st)
	}
	sort.Strings(out)
	return out
}

// Eval decides for one build: the first rule of the event's state group
// that matches wins. A rule that fails to evaluate stops the decision with
// an *EvalError naming it.
func (s *Set) Eval(in *Input) (Decision, error) {
	return s.eval(in, nil)
}

// Explain is Eval with a trace of every rule tried and every criterion
// looked at.
func (s *Set) Explain(in *Input) (Decision, []RuleTrace, error) {
	var tr []RuleTrace
	d, err := s.eval(in, &tr)
	return d, tr, err
}

func (s *Set) eval(in *Input, trace *[]RuleTrace) (Decision, error) {
	g := s.groups[in.Event.StateName]
	if g == nil {
		return Decision{Outcome: Skipped}, nil
	}
	st := s.pool.Get().(*State)
	st.reset(in, trace != nil)
	defer func() {
		st.release()
		s.pool.Put(st)
	}()

	var d Decision
	try := func(pos int) (bool, error) {
		r := s.rules[g.rules[pos]]
		d.Tried = append(d.Tried, r.Index)
		ok, err := st.match(r)
		if trace != nil {
			*trace = append(*trace, RuleTrace{Rule: r, Matched: ok && err == nil, Steps: st.takeSteps(), Err: err})
		}
		if err != nil {
			return false, &EvalError{RuleID: r.ID, RuleIndex: r.Index, Source: r.Source, Err: err}
		}
		if !ok {
			return false, nil
		}
		dests, err := st.destinations(r)
		if err != nil {
			return false, &EvalError{RuleID: r.ID, RuleIndex: r.Index, Source: r.Source, Err: err}
		}
		d.Outcome, d.Rule, d.Destinations = Matched, r, dests
		return true, nil
	}

	if g.byKey == nil || in.Index == nil {
		for pos := range g.rules {
			done, err := try(pos)
			if err != nil || done {
				return d, err
			}
		}
		d.Outcome = Unmatched
		return d, nil
	}
	cands := g.candidates(in.Index, st)
	// A walk would fail at the first rule whose check fails; rules before
	// it can still match first.
	failAt, failErr := len(g.rules), error(nil)
	for _, c := range g.checks {
		if c.first < failAt {
			st.beginRule(s.rules[g.rules[c.first]])
			if err := c.check.Check(st); err != nil {
				failAt, failErr = c.first, err
			}
		}
	}
	for _, pos := range cands {
		if pos >= failAt {
			break
		}
		done, err := try(pos)
		if err != nil || done {
			return d, err
		}
	}
	if failErr != nil {
		r := s.rules[g.rules[failAt]]
		d.Tried = append(d.Tried, r.Index)
		return d, &EvalError{RuleID: r.ID, RuleIndex: r.Index, Source: r.Source, Err: failErr}
	}
	if trace != nil {
		for pos := range g.rules {
			if !containsInt(cands, pos) {
				*trace = append(*trace, RuleTrace{Rule: s.rules[g.rules[pos]], Skipped: true})
			}
		}
	}
	d.Outcome = Unmatched
	return d, nil
}

func containsInt(xs []int, x int) bool {
	i := sort.SearchInts(xs, x)
	return i < len(xs) && xs[i] == x
}

// candidates returns, in file order, the positions of the rules whose
// guards hold: the unguarded ones and those indexed under a prefix of the
// input's value for their guard key.
func (g *group) candidates(ix Indexer, st *State) []int {
	lists := append(st.lists[:0], g.unguarded)
	for _, key := range g.keys {
		v, ok := ix.IndexValue(key)
		if !ok {
			continue
		}
		m := g.byKey[key]
		for n := 0; n <= len(v); n++ {
			if l, ok := m[v[:n]]; ok {
				lists = append(lists, l)
			}
		}
	}
	st.lists = lists
	out := st.cands[:0]
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Ints(out)
	// A rule guarded by several prefixes may be listed more than once.
	w := 0
	for i, p := range out {
		if i == 0 || p != out[w-1] {
			out[w] = p
			w++
		}
	}
	st.cands = out[:w]
	return st.cands
}

// State is the per-decision evaluation state. CEL functions of format
// packages reach it through the activation (StateFrom) to memoise
// criteria across rules and to record captures and trace steps.
type State struct {
	set     *Set
	in      *Input
	build   ref.Val
	mmd     ref.Val
	data    ref.Val
	adapter types.Adapter

	rule    *Rule
	memo    []Slot
	gen     uint32
	vars    []ref.Val
	varGen  []uint32
	groups  [][]Capture
	fault   error
	tracing bool
	steps   []Step

	lists [][]int
	cands []int
}

// stateName is the activation name under which the State resolves itself.
// It is not a valid CEL identifier, so no rule can refer to it.
const stateName = "@mts.state"

// StateFrom returns the State of the evaluation that act belongs to.
func StateFrom(act interpreter.Activation) (*State, bool) {
	v, ok := act.ResolveName(stateName)
	if !ok {
		return nil, false
	}
	st, ok := v.(*State)
	return st, ok
}

// Capture is one named group's value in one regular expression match;
// Valid is false for a group that did not take part in the match.
type Capture struct {
	Name  string
	Value string
	Valid bool
}

// Slot memoises one criterion within a decision.
type Slot struct {
	gen    uint32
	OK     bool
	Groups [][]Capture
	Err    error
}

func (st *State) reset(in *Input, tracing bool) {
	st.in = in
	st.build, st.mmd, st.data = nil, nil, nil
	st.gen++
	if st.gen == 0 { // wrapped: clear stale slots
		for i := range st.memo {
			st.memo[i].gen = 0
		}
		for i := range st.varGen {
			st.varGen[i] = 0
		}
		st.gen = 1
	}
	st.tracing = tracing
	st.steps = st.steps[:0]
}

func (st *State) release() {
	st.in = nil
	st.build, st.mmd, st.data = nil, nil, nil
	st.rule = nil
	for i := range st.groups {
		st.groups[i] = nil
	}
	st.groups = st.groups[:0]
	st.fault = nil
}

// ResolveName implements interpreter.Activation.
func (st *State) ResolveName(name string) (any, bool) {
	switch name {
	case VarBuild:
		if st.build == nil {
			st.build = st.adapt(&st.in.Event)
		}
		return st.build, true
	case VarData:
		if st.data == nil {
			st.data = st.adapt(st.in.Data)
		}
		return st.data, true
	case VarModulemd:
		if st.mmd == nil {
			st.mmd = st.adapt(st.in.Modulemd)
		}
		return st.mmd, true
	case stateName:
		return st, true
	}
	if sc := st.rule.scope; sc != nil {
		if i, ok := sc.names[name]; ok {
			return st.variable(sc, i), true
		}
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (st *State) Parent() interpreter.Activation { return nil }

func (st *State) adapt(v any) ref.Val {
	if st.adapter == nil {
		st.adapter = st.set.adapt
	}
	return st.adapter.NativeToValue(v)
}

func (st *State) variable(sc *compiledScope, i int) ref.Val {
	n := sc.base + i
	if len(st.vars) < st.set.nvars {
		st.vars = make([]ref.Val, st.set.nvars)
		st.varGen = make([]uint32, st.set.nvars)
	}
	if st.varGen[n] == st.gen {
		return st.vars[n]
	}
	out, _, err := sc.progs[i].Eval(st)
	if err != nil {
		out = types.WrapErr(err)
	}
	st.vars[n], st.varGen[n] = out, st.gen
	return out
}

// Data returns the decision's modulemd data in its native form.
func (st *State) Data() any { return st.in.Data }

// Slot returns the memo slot for criterion id and whether it already
// holds this decision's result.
func (st *State) Slot(id int) (*Slot, bool) {
	if id >= len(st.memo) {
		n := max(id+1, 2*len(st.memo))
		memo := make([]Slot, n)
		copy(memo, st.memo)
		st.memo = memo
	}
	s := &st.memo[id]
	if s.gen == st.gen {
		return s, true
	}
	s.gen, s.OK, s.Groups, s.Err = st.gen, false, s.Groups[:0], nil
	return s, false
}

// AddCaptures records the named-group captures of one regular expression
// match for the rule being tried.
func (st *State) AddCaptures(c ...[]Capture) { st.groups = append(st.groups, c...) }

// Captures are the captures recorded for the rule being tried, in
// evaluation order.
func (st *State) Captures() [][]Capture { return st.groups }

// Fail records an evaluation failure of the rule being tried. Functions
// use it where the failure must not be masked by CEL's commutative
// logical operators (an error on the left of && with false on the right
// yields false in CEL, while the reference implementation fails).
func (st *State) Fail(err error) {
	if st.fault == nil {
		st.fault = err
	}
}

// Tracing reports whether steps are being recorded (explain).
func (st *State) Tracing() bool { return st.tracing }

// Record adds a trace step; call it only when Tracing.
func (st *State) Record(s Step) { st.steps = append(st.steps, s) }

func (st *State) takeSteps() []Step {
	if len(st.steps) == 0 {
		return nil
	}
	out := append([]Step(nil), st.steps...)
	st.steps = st.steps[:0]
	return out
}

func (st *State) beginRule(r *Rule) {
	st.rule = r
	for i := range st.groups {
		st.groups[i] = nil
	}
	st.groups = st.groups[:0]
	st.fault = nil
}

func (st *State) match(r *Rule) (bool, error) {
	st.beginRule(r)
	if r.match == nil {
		return true, nil
	}
	out, _, err := r.match.Eval(st)
	if st.fault != nil {
		return false, st.fault
	}
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("match gave %s, want bool", out.Type().TypeName())
	}
	return bool(b), nil
}

func (st *State) destinations(r *Rule) ([]string, error) {
	out, _, err := r.dests.Eval(st)
	if st.fault != nil {
		return nil, st.fault
	}
	if err != nil {
		return nil, err
	}
	return toDestinations(out)
}

func toDestinations(v ref.Val) ([]string, error) {
	if s, ok := v.(types.String); ok {
		return []string{string(s)}, nil
	}
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("destinations gave %s, want string or list(string)", v.Type().TypeName())
	}
	n := int(l.Size().(types.Int))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		e := l.Get(types.Int(i))
		s, ok := e.(types.String)
		if !ok {
			return nil, fmt.Errorf("destination %d is %s, want string", i, e.Type().TypeName())
		}
		out = appendUnique(out, string(s))
	}
	if len(out) == 0 {
		return nil, errors.New("destinations are empty")
	}
	return out, nil
}

func appendUnique(xs []string, s string) []string {
	for _, x := range xs {
		if x == s {
			return xs
		}
	}
	return append(xs, s)
}
