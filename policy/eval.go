package policy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/fedora-modularity/mts/internal/build"
)

// Input is what one decision is made on.
type Input struct {
	// Event is the MBS event of a decision on a module build.
	Event build.Event
	// Koji, when set, is the Koji event decided on instead: rules on its
	// kind are tried, with build and event its maps.
	Koji *build.KojiEvent
	// Modulemd is the whole modulemd document and Data its data mapping,
	// as values the environment's type adapter understands. For a Koji
	// event they are nil when the build has no modulemd, and a rule
	// reading them fails with ErrNoModulemd.
	Modulemd any
	Data     any
	// Index gives the values rule guards are checked against; nil
	// disables the guard index for this input (every rule is tried).
	Index Indexer
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
	// Untag are the tags to take the build out of (rules on Koji's
	// events), duplicates removed (first kept).
	Untag []string
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
	// indexed is false for small groups, which are walked.
	indexed bool
	// walked are the positions (into rules) of rules without a guard.
	walked []int32
	// keys index the guarded rules, sorted by key so that the values of
	// a key are fetched once per decision.
	keys []*keyIndex
	// checks of the rules, each with the first position using it, in
	// order of that position.
	checks []groupCheck
}

type groupCheck struct {
	check Check
	first int32
}

// minIndexed is the size from which a group is indexed: below it the
// plain walk is faster and allocates nothing.
const minIndexed = 64

func newSet(rules []*Rule, nvars int, adapter types.Adapter) (*Set, error) {
	s := &Set{rules: rules, groups: map[string]*group{}, nvars: nvars, adapt: adapter}
	for i, r := range rules {
		for _, st := range r.States {
			g := s.groups[st]
			if g == nil {
				g = &group{}
				s.groups[st] = g
			}
			g.rules = append(g.rules, i)
		}
	}
	for _, g := range s.groups {
		if len(g.rules) >= minIndexed {
			if err := g.index(rules); err != nil {
				return nil, err
			}
		}
	}
	// What the index was built from is not needed any more.
	for _, r := range rules {
		r.Guards, r.Checks = nil, nil
	}
	s.pool.New = func() any { return &State{set: s} }
	return s, nil
}

type literalKey struct {
	key string
	lit Literal
}

// index builds the group's guard index. Each rule goes under its most
// selective guard: the one whose literals the fewest rules of the group
// share, exact texts preferred to prefixes and suffixes, those to inner
// texts.
func (g *group) index(rules []*Rule) error {
	g.indexed = true
	count := map[literalKey]int{}
	for _, ri := range g.rules {
		for _, gd := range rules[ri].Guards {
			for _, l := range gd.Literals {
				count[literalKey{gd.Key, l}]++
			}
		}
	}
	cost := func(gd Guard) int {
		c := 0
		for _, l := range gd.Literals {
			w := [...]int{Exact: 1, Prefix: 2, Suffix: 2, Contains: 3}[l.Kind]
			if len(l.Text) < 3 {
				w *= 4
			}
			c += count[literalKey{gd.Key, l}] * w
		}
		return c
	}
	type kf struct {
		key  string
		fold bool
	}
	byKey := map[kf]*keyIndex{}
	seen := map[Check]bool{}
	for pos, ri := range g.rules {
		r := rules[ri]
		for _, c := range r.Checks {
			if !seen[c] {
				seen[c] = true
				g.checks = append(g.checks, groupCheck{check: c, first: int32(pos)})
			}
		}
		best := -1
		for i, gd := range r.Guards {
			if len(gd.Literals) > 0 && (best < 0 || cost(gd) < cost(r.Guards[best])) {
				best = i
			}
		}
		if best < 0 {
			g.walked = append(g.walked, int32(pos))
			continue
		}
		gd := r.Guards[best]
		for _, l := range gd.Literals {
			ki := byKey[kf{gd.Key, l.Fold}]
			if ki == nil {
				ki = newKeyIndex(gd.Key, l.Fold)
				byKey[kf{gd.Key, l.Fold}] = ki
				g.keys = append(g.keys, ki)
			}
			ki.add(l, int32(pos))
		}
	}
	for _, ki := range g.keys {
		if err := ki.finish(); err != nil {
			return fmt.Errorf("policy: indexing rules on %s: %w", ki.key, err)
		}
	}
	sort.Slice(g.keys, func(i, j int) bool { return g.keys[i].key < g.keys[j].key })
	return nil
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

// RulesOn returns the rules of one group (a build state, or a Koji event
// kind's name), in file order.
func (s *Set) RulesOn(key string) []*Rule {
	g := s.groups[key]
	if g == nil {
		return nil
	}
	out := make([]*Rule, len(g.rules))
	for i, ri := range g.rules {
		out[i] = s.rules[ri]
	}
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
	key := in.Event.StateName
	if in.Koji != nil {
		key = string(in.Koji.Kind)
	}
	g := s.groups[key]
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
		var dests, untag []string
		if r.Koji != nil {
			dests, untag, err = st.kojiOutputs(r)
		} else {
			dests, err = st.destinations(r)
		}
		if err != nil {
			return false, &EvalError{RuleID: r.ID, RuleIndex: r.Index, Source: r.Source, Err: err}
		}
		d.Outcome, d.Rule, d.Destinations, d.Untag = Matched, r, dests, untag
		return true, nil
	}

	if !g.indexed || in.Index == nil {
		for pos := range g.rules {
			done, err := try(pos)
			if err != nil || done {
				return d, err
			}
		}
		d.Outcome = Unmatched
		return d, nil
	}
	g.candidates(in.Index, st)
	// A walk fails at the first rule whose check fails, so checks are run
	// in order of their first rule, up to the candidate about to be tried.
	next := 0
	failed := func(upTo int32) error {
		for ; next < len(g.checks) && g.checks[next].first < upTo; next++ {
			c := g.checks[next]
			r := s.rules[g.rules[c.first]]
			st.beginRule(r)
			if err := c.check.Check(st); err != nil {
				d.Tried = append(d.Tried, r.Index)
				return &EvalError{RuleID: r.ID, RuleIndex: r.Index, Source: r.Source, Err: err}
			}
		}
		return nil
	}
	for pos := st.merge.next(); pos >= 0; pos = st.merge.next() {
		if err := failed(pos); err != nil {
			return d, err
		}
		if trace != nil {
			st.tried = append(st.tried, pos)
		}
		done, err := try(int(pos))
		if err != nil || done {
			return d, err
		}
	}
	if err := failed(int32(len(g.rules))); err != nil {
		return d, err
	}
	if trace != nil {
		for pos := range g.rules {
			if !slices.Contains(st.tried, int32(pos)) {
				*trace = append(*trace, RuleTrace{Rule: s.rules[g.rules[pos]], Skipped: true})
			}
		}
	}
	d.Outcome = Unmatched
	return d, nil
}

// candidates prepares st.merge to yield, in file order, the positions of
// the rules whose guards hold: the walked ones and those indexed under a
// literal of the input's values.
func (g *group) candidates(ix Indexer, st *State) {
	lists := append(st.lists[:0], g.walked)
	key := ""
	vals := st.vals[:0]
	for i, ki := range g.keys {
		if i == 0 || ki.key != key {
			key = ki.key
			vals = ix.IndexValues(key, st.vals[:0])
			st.vals = vals
		}
		for _, v := range vals {
			lists = ki.lookup(v, lists)
		}
	}
	st.lists = lists
	st.merge.reset(lists)
}

// State is the per-decision evaluation state. CEL functions of format
// packages reach it through the activation (StateFrom) to memoise
// criteria across rules and to record captures and trace steps.
type State struct {
	set     *Set
	in      *Input
	build   ref.Val
	event   ref.Val
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

	lists [][]int32
	vals  []string
	merge merger
	tried []int32
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
	st.build, st.event, st.mmd, st.data = nil, nil, nil, nil
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
	st.tried = st.tried[:0]
}

func (st *State) release() {
	st.in = nil
	st.build, st.event, st.mmd, st.data = nil, nil, nil, nil
	st.rule = nil
	for i := range st.groups {
		st.groups[i] = nil
	}
	st.groups = st.groups[:0]
	st.fault = nil
	clear(st.vals)
	st.vals = st.vals[:0]
}

// ResolveName implements interpreter.Activation.
func (st *State) ResolveName(name string) (any, bool) {
	switch name {
	case VarBuild:
		if st.build == nil {
			if st.in.Koji != nil {
				st.build = st.adapt(st.in.Koji.Build.Vars())
			} else {
				st.build = st.adapt(&st.in.Event)
			}
		}
		return st.build, true
	case VarData:
		if st.data == nil {
			if st.in.Koji != nil && st.in.Data == nil {
				return st.noModulemd(), true
			}
			st.data = st.adapt(st.in.Data)
		}
		return st.data, true
	case VarModulemd:
		if st.mmd == nil {
			if st.in.Koji != nil && st.in.Modulemd == nil {
				return st.noModulemd(), true
			}
			st.mmd = st.adapt(st.in.Modulemd)
		}
		return st.mmd, true
	case VarEvent:
		if st.in.Koji == nil {
			return nil, false
		}
		if st.event == nil {
			st.event = st.adapt(st.in.Koji.Vars())
		}
		return st.event, true
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

// ErrNoModulemd is the failure of a rule on a Koji event that reads
// modulemd or data when the build has none.
var ErrNoModulemd = errors.New("the build has no modulemd")

// noModulemd fails the rule being tried: CEL's logical operators must not
// turn a rule that reads a missing document into one that does not match.
func (st *State) noModulemd() ref.Val {
	st.Fail(ErrNoModulemd)
	return types.WrapErr(ErrNoModulemd)
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
	if r.Native != nil {
		ok, err := r.Native.Match(st)
		return ok && err == nil, err
	}
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
	if r.Native != nil {
		ds, err := r.Native.Destinations(st)
		if err != nil {
			return nil, err
		}
		// The slice is ours (Native): duplicates are dropped in place.
		out := ds[:0]
		for _, d := range ds {
			out = appendUnique(out, d)
		}
		if len(out) == 0 {
			return nil, errEmptyDestinations
		}
		return out, nil
	}
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
	out, err := toTags(v, "destinations", "destination")
	if err == nil && len(out) == 0 {
		return nil, errEmptyDestinations
	}
	return out, err
}

// toTags reads a string or list(string) value, duplicates dropped.
func toTags(v ref.Val, what, one string) ([]string, error) {
	if s, ok := v.(types.String); ok {
		return []string{string(s)}, nil
	}
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("%s gave %s, want string or list(string)", what, v.Type().TypeName())
	}
	n := int(l.Size().(types.Int))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		e := l.Get(types.Int(i))
		s, ok := e.(types.String)
		if !ok {
			return nil, fmt.Errorf("%s %d is %s, want string", one, i, e.Type().TypeName())
		}
		out = appendUnique(out, string(s))
	}
	return out, nil
}

var errEmptyDestinations = errors.New("destinations are empty")

// ErrNothingToDo is the failure of a rule on Koji's events whose
// destinations and untag both came out empty.
var ErrNothingToDo = errors.New("destinations and untag are both empty")

// kojiOutputs are the destinations and the tags to untag of a rule on
// Koji's events: either may be empty, not both, and no tag may be in both.
func (st *State) kojiOutputs(r *Rule) (dests, untag []string, err error) {
	eval := func(prg cel.Program, what, one string) ([]string, error) {
		if prg == nil {
			return nil, nil
		}
		out, _, err := prg.Eval(st)
		if st.fault != nil {
			return nil, st.fault
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return toTags(out, what, one)
	}
	if dests, err = eval(r.dests, "destinations", "destination"); err != nil {
		return nil, nil, err
	}
	if untag, err = eval(r.Koji.untag, "untag", "untag tag"); err != nil {
		return nil, nil, err
	}
	if len(dests) == 0 && len(untag) == 0 {
		return nil, nil, ErrNothingToDo
	}
	for _, t := range untag {
		if slices.Contains(dests, t) {
			return nil, nil, fmt.Errorf("tag %q is both a destination and to untag", t)
		}
	}
	if len(dests) == 0 {
		dests = nil
	}
	if len(untag) == 0 {
		untag = nil
	}
	return dests, untag, nil
}

func appendUnique(xs []string, s string) []string {
	for _, x := range xs {
		if x == s {
			return xs
		}
	}
	return append(xs, s)
}
