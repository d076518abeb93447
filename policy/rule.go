package policy

import (
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"

	"github.com/fedora-modularity/mts/policy/position"
)

// Position is a place in a rule file (position.Position, the one
// position type of mts's problems).
type Position = position.Position

// Variable is a named CEL expression shared by the rules of one file,
// evaluated at most once per decision.
type Variable struct {
	Name   string
	Expr   string
	Source Position
	// Locator, when set, places compile errors inside the expression.
	Locator Locator
}

// Scope holds the variables of one rule file. Rules of the same file point
// to the same Scope.
type Scope struct {
	Variables []Variable
}

// Spec is a rule before compilation.
type Spec struct {
	ID     string
	Index  int // 1-based position of the rule in its file
	Source Position
	// States are the build states whose events the rule applies to or,
	// for a rule on Koji's events (Koji), the names of their kinds
	// (build.Kind): what groups rules by the events they decide on.
	States []string
	// Koji, set for a rule on Koji's events, holds what only those rules
	// have. Such a rule compiles against the environment where build and
	// event are maps (KojiCEL). A pointer, so that the many rules of a
	// large MBS set pay one word for it.
	Koji *KojiSpec
	// Match is a CEL expression of type bool; empty means true.
	Match    string
	MatchPos Position
	// Destinations is a CEL expression of type string or list(string).
	Destinations    string
	DestinationsPos Position
	// MatchLocator and DestinationsLocator, when set, place compile
	// errors at the mistake inside the expression rather than at its
	// start.
	MatchLocator, DestinationsLocator Locator
	// Scope holds the variables of the rule's file (nil: none).
	Scope *Scope
	// Guards are necessary conditions of the rule (one per criterion that
	// has literal text); the set indexes the rule under the most
	// selective. A rule without guards is tried on every build.
	Guards []Guard
	// Checks are the conditions under which the rule fails to evaluate on
	// a document whatever its guards say.
	Checks []Check
	// Meta carries what the rule's format knows about it (for explain and
	// lint); the engine does not look at it.
	Meta any
	// Native, when set, evaluates the rule instead of programs built from
	// Match and Destinations, which are then neither checked nor built.
	// Formats whose rules are a fixed sequence of their own functions use
	// it: a CEL program per rule is most of a large set's memory and load
	// time. It must decide as the texts would (they still say what the
	// rule does, for compile, explain and MatchValues).
	Native Native
}

// KojiSpec is what a rule on Koji's events has beyond other rules.
type KojiSpec struct {
	// Untag is a CEL expression of type string or list(string): the tags
	// to take the build out of. Empty: none. A rule on Koji's events
	// needs Destinations or Untag.
	Untag    string
	UntagPos Position
	// UntagLocator, when set, places compile errors inside Untag.
	UntagLocator Locator

	// Set by Compile, in the rule's own copy.
	untag cel.Program // nil: nothing to untag
	uses  Uses
}

// UntagExpr is the rule's untag expression and its place; "" for a rule
// that untags nothing or is not on Koji's events.
func (sp *Spec) UntagExpr() (string, Position) {
	if sp.Koji == nil {
		return "", Position{}
	}
	return sp.Koji.Untag, sp.Koji.UntagPos
}

// Native evaluates a rule without CEL.
type Native interface {
	// Match tells whether the rule matches the decision's input; an error
	// fails the decision as a CEL evaluation error would.
	Match(st *State) (bool, error)
	// Destinations are the rule's destinations once it matched, before
	// duplicates are dropped, in a slice the caller may change.
	Destinations(st *State) ([]string, error)
}

// Error is one problem of a rule set, at a place in a file.
type Error struct {
	Source Position
	RuleID string
	Msg    string
	// Err is the cause, for errors.Is and errors.As: ErrCompile for a CEL
	// expression that does not compile, or the cause a format's loader
	// found (a YAML syntax error, an unusable pattern).
	Err error
}

// Unwrap returns the cause.
func (e Error) Unwrap() error { return e.Err }

// ErrCompile is the cause of every CEL parse or type error.
var ErrCompile = errors.New("CEL expression does not compile")

// CompileError is a CEL expression that does not compile, with the place
// of the first mistake inside the expression's text.
type CompileError struct {
	// Line and Col are 1-based, in the expression's text; 0 when unknown.
	Line, Col int
	// Msg is what is wrong, without cel-go's copy of the expression: the
	// error's position is the place in the rule file.
	Msg string
	Err error
}

func (e *CompileError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Err.Error()
}

// Unwrap returns the cel-go error and ErrCompile.
func (e *CompileError) Unwrap() []error { return []error{e.Err, ErrCompile} }

func (e Error) Error() string {
	if e.RuleID != "" {
		return fmt.Sprintf("%s: rule %q: %s", e.Source, e.RuleID, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Source, e.Msg)
}

// Errors is every problem found in a rule set; a set with any is refused.
type Errors []Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// ErrRefused is wrapped by every error that refuses a rule set.
var ErrRefused = errors.New("rule set refused")

// Rule is a compiled rule.
type Rule struct {
	Spec
	match cel.Program // nil: always matches
	dests cel.Program // nil: no destinations (a rule that only untags)
	scope *compiledScope
}

type compiledScope struct {
	names map[string]int
	progs []cel.Program
	base  int // offset of this scope's variables in State.vars
	// uses are what each variable reads, variables it uses included.
	uses []Uses
}

// Compile compiles specs, in order, into a rule set. It returns every
// problem it finds, as Errors wrapped with ErrRefused. Rules are compiled
// in parallel: large sets are dominated by parsing and checking CEL. It
// clears the specs' parsed expressions as it goes (they are not needed
// once compiled), so that loading does not hold them and the programs at
// once.
func (e *Env) Compile(specs []Spec) (*Set, error) {
	var errs Errors
	scopes := map[*Scope]*compiledScope{}
	envs := map[*Scope]*cel.Env{}
	nvars := 0
	for _, sp := range specs {
		if sp.Scope == nil || len(sp.Scope.Variables) == 0 {
			continue
		}
		if _, ok := scopes[sp.Scope]; ok {
			continue
		}
		base, err := e.CELFor(&sp)
		if err != nil {
			return nil, err
		}
		cs, env, serrs := e.compileScope(base, sp.Scope, nvars)
		errs = append(errs, serrs...)
		scopes[sp.Scope], envs[sp.Scope] = cs, env
		nvars += len(cs.progs)
	}

	rules := make([]*Rule, len(specs))
	ruleErrs := make([]Errors, len(specs))
	var koji *cel.Env
	for i := range specs {
		if specs[i].Koji != nil {
			var err error
			if koji, err = e.KojiCEL(); err != nil {
				return nil, err
			}
			break
		}
	}
	Parallel(len(specs), func(i int) {
		sp := specs[i]
		env := e.cel
		if sp.Koji != nil {
			env = koji
		}
		if cs := scopes[sp.Scope]; cs != nil {
			env = envs[sp.Scope]
		}
		rules[i], ruleErrs[i] = e.compileRule(env, sp, scopes[sp.Scope])
	})
	for _, re := range ruleErrs {
		errs = append(errs, re...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrRefused, errs)
	}
	set, err := newSet(rules, nvars, e.cel.CELTypeAdapter())
	if err != nil {
		return nil, err
	}
	return set, nil
}

func (e *Env) compileRule(env *cel.Env, sp Spec, cs *compiledScope) (*Rule, Errors) {
	var errs Errors
	r := &Rule{Spec: sp, scope: cs}
	if sp.Native != nil {
		r.MatchLocator, r.DestinationsLocator = nil, nil
		return r, nil
	}
	var asts []*cel.Ast
	koji := sp.Koji != nil
	if koji {
		// The rule's own copy, for what is compiled into it.
		k := *sp.Koji
		r.Koji = &k
	}
	if strings.TrimSpace(sp.Match) != "" {
		prg, ast, err := e.program(env, sp.Match, cel.BoolType)
		if err != nil {
			errs = append(errs, Error{Source: locate(sp.MatchPos, sp.Source, sp.MatchLocator, err), RuleID: sp.ID, Msg: "match: " + err.Error(), Err: err})
		}
		r.match = prg
		if koji {
			asts = append(asts, ast)
		}
	}
	if !koji || strings.TrimSpace(sp.Destinations) != "" {
		prg, ast, err := e.program(env, sp.Destinations, nil)
		if err != nil {
			errs = append(errs, Error{Source: locate(sp.DestinationsPos, sp.Source, sp.DestinationsLocator, err), RuleID: sp.ID, Msg: "destinations: " + err.Error(), Err: err})
		}
		r.dests = prg
		if koji {
			asts = append(asts, ast)
		}
	}
	if koji && strings.TrimSpace(sp.Koji.Untag) != "" {
		k := r.Koji
		prg, ast, err := e.program(env, k.Untag, nil)
		if err != nil {
			errs = append(errs, Error{Source: locate(k.UntagPos, sp.Source, k.UntagLocator, err), RuleID: sp.ID, Msg: "untag: " + err.Error(), Err: err})
		}
		k.untag = prg
		asts = append(asts, ast)
	}
	if koji && len(errs) == 0 {
		r.Koji.uses = usesOf(asts, cs)
	}
	// The programs are built; the source maps are no longer needed.
	r.MatchLocator, r.DestinationsLocator = nil, nil
	if koji {
		r.Koji.UntagLocator = nil
	}
	return r, errs
}

// Locator maps a place in an expression's text (1-based line and column)
// to the place in the rule file, for formats that know where an
// expression's characters come from.
type Locator interface {
	Locate(line, col int) (Position, bool)
}

// locate is where a compile error is: at the mistake when its place in the
// expression is known and loc can map it, else at the expression.
func locate(at, fallback Position, loc Locator, err error) Position {
	var ce *CompileError
	if loc != nil && errors.As(err, &ce) && ce.Line > 0 {
		if p, ok := loc.Locate(ce.Line, ce.Col); ok {
			return p
		}
	}
	return pick(at, fallback)
}

func pick(p, fallback Position) Position {
	if p.Line != 0 {
		return p
	}
	return fallback
}

func (e *Env) compileScope(env *cel.Env, s *Scope, base int) (*compiledScope, *cel.Env, Errors) {
	cs := &compiledScope{names: map[string]int{}, base: base}
	var errs Errors
	for _, v := range s.Variables {
		if _, dup := cs.names[v.Name]; dup {
			errs = append(errs, Error{Source: v.Source, Msg: fmt.Sprintf("variable %q defined twice", v.Name)})
			continue
		}
		ast, iss := env.Compile(v.Expr)
		if iss.Err() != nil {
			err := compileError(iss)
			errs = append(errs, Error{Source: locate(v.Source, v.Source, v.Locator, err), Msg: fmt.Sprintf("variable %q: %v", v.Name, err), Err: err})
			continue
		}
		prg, err := env.Program(ast, e.programOptions()...)
		if err != nil {
			errs = append(errs, Error{Source: v.Source, Msg: fmt.Sprintf("variable %q: %v", v.Name, err)})
			continue
		}
		next, err := env.Extend(cel.Variable(v.Name, ast.OutputType()))
		if err != nil {
			errs = append(errs, Error{Source: v.Source, Msg: fmt.Sprintf("variable %q: %v", v.Name, err)})
			continue
		}
		env = next
		cs.uses = append(cs.uses, usesOf([]*cel.Ast{ast}, cs))
		cs.names[v.Name] = len(cs.progs)
		cs.progs = append(cs.progs, prg)
	}
	return cs, env, errs
}

func (e *Env) programOptions() []cel.ProgramOption {
	opts := []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(e.costLimit),
	}
	return append(opts, e.progOpts...)
}

// boundedOptions are the program options of an expression whose worst
// case cost is known to stay under the limit: tracking its cost at run time
// would only cost allocations on every evaluation.
func (e *Env) boundedOptions() []cel.ProgramOption {
	return append([]cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}, e.progOpts...)
}

// compileError keeps cel-go's issues as the cause, with the place of the
// first one in the expression's text.
func compileError(iss *cel.Issues) *CompileError {
	ce := &CompileError{Err: iss.Err()}
	var msgs []string
	for i, e := range iss.Errors() {
		msgs = append(msgs, e.Message)
		if loc := e.Location; i == 0 && loc != nil && loc.Line() > 0 {
			ce.Line, ce.Col = loc.Line(), loc.Column()+1
		}
	}
	ce.Msg = strings.Join(msgs, "; ")
	return ce
}

// unknownSizes leaves every size to CEL's default estimate: unbounded for
// lists and maps from the input, so comprehensions over them are never
// taken as bounded.
type unknownSizes struct{}

func (unknownSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
func (unknownSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// program type-checks src; want nil means string or list(string). It
// returns the checked expression too.
func (e *Env) program(env *cel.Env, src string, want *cel.Type) (cel.Program, *cel.Ast, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, nil, compileError(iss)
	}
	out := ast.OutputType()
	if want != nil {
		if !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
			return nil, nil, &CompileError{Err: fmt.Errorf("has type %s, want %s", out, want)}
		}
	} else if !out.IsExactType(cel.StringType) && !out.IsExactType(cel.ListType(cel.StringType)) &&
		!out.IsExactType(cel.DynType) && !out.IsExactType(cel.ListType(cel.DynType)) {
		return nil, nil, &CompileError{Err: fmt.Errorf("has type %s, want string or list(string)", out)}
	}
	opts := e.programOptions()
	if est, err := env.EstimateCost(ast, unknownSizes{}); err == nil && est.Max <= e.costLimit {
		opts = e.boundedOptions()
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, nil, err
	}
	return prg, ast, nil
}
