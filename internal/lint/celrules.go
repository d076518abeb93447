package lint

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/policy"
)

// conjuncts splits a CEL condition on its top-level && into canonical
// texts, sorted; an empty condition (or `true`) has none.
func conjuncts(env *cel.Env, src string) ([]string, bool) {
	if strings.TrimSpace(src) == "" {
		return nil, true
	}
	a, iss := env.Parse(src)
	if iss.Err() != nil {
		return nil, false
	}
	native := a.NativeRep()
	var out []string
	var split func(e ast.Expr) bool
	split = func(e ast.Expr) bool {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
			for _, arg := range e.AsCall().Args() {
				if !split(arg) {
					return false
				}
			}
			return true
		}
		s, err := parser.Unparse(e, native.SourceInfo())
		if err != nil {
			return false
		}
		if s != "true" {
			out = append(out, s)
		}
		return true
	}
	if !split(native.Expr()) {
		return nil, false
	}
	sort.Strings(out)
	return out, true
}

// sizeEstimator bounds every collection and string of the input by the
// same assumed size, since documents have no declared limits.
type sizeEstimator struct{ n uint64 }

func (s sizeEstimator) EstimateSize(el cost.AstNode) *cost.SizeEstimate {
	if el.ComputedSize() != nil {
		return nil
	}
	switch el.Type().Kind() {
	case types.ListKind, types.MapKind, types.StringKind, types.BytesKind, types.DynKind:
		return &cost.SizeEstimate{Min: 0, Max: s.n}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// costs estimates each rule's worst-case CEL cost (condition and
// destinations) and reports those above the threshold.
func (l *linter) costs(env *policy.Env, specs []policy.Spec) {
	scopes := map[*policy.Scope]*cel.Env{}
	est := sizeEstimator{n: l.opts.AssumedSize}
	estimate := func(e *cel.Env, src string) uint64 {
		if strings.TrimSpace(src) == "" {
			return 0
		}
		a, iss := e.Compile(src)
		if iss.Err() != nil {
			return 0
		}
		c, err := e.EstimateCost(a, est)
		if err != nil {
			return 0
		}
		return c.Max
	}
	for _, sp := range specs {
		e, err := env.CELFor(&sp)
		if err != nil {
			continue
		}
		if sp.Scope != nil && len(sp.Scope.Variables) > 0 {
			se, ok := scopes[sp.Scope]
			if !ok {
				se = l.scopeEnv(e, sp.Scope, est)
				scopes[sp.Scope] = se
			}
			e = se
		}
		total := estimate(e, sp.Match)
		untag, _ := sp.UntagExpr()
		for _, src := range []string{sp.Destinations, untag} {
			d := estimate(e, src)
			if total > math.MaxUint64-d {
				total = math.MaxUint64
			} else {
				total += d
			}
		}
		if total > l.opts.MaxCost {
			l.add(Diagnostic{Code: CodeCost, Severity: Warning, Pos: pick(sp.MatchPos, sp.Source), RuleID: sp.ID,
				Message: fmt.Sprintf("estimated cost up to %s (documents with collections and strings of %d elements), above %d", costText(total), l.opts.AssumedSize, l.opts.MaxCost),
				Hint:    fmt.Sprintf("avoid nested comprehensions over document collections; the engine stops a rule at a cost of %d", policy.DefaultCostLimit)})
		}
	}
}

func costText(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	return fmt.Sprint(c)
}

// scopeEnv declares a file's variables, reporting the costly ones.
func (l *linter) scopeEnv(e *cel.Env, s *policy.Scope, est sizeEstimator) *cel.Env {
	for _, v := range s.Variables {
		a, iss := e.Compile(v.Expr)
		if iss.Err() != nil {
			continue // the compiler reports it
		}
		if c, err := e.EstimateCost(a, est); err == nil && c.Max > l.opts.MaxCost {
			l.add(Diagnostic{Code: CodeCost, Severity: Warning, Pos: v.Source,
				Message: fmt.Sprintf("variable %q: estimated cost up to %s (documents with collections and strings of %d elements), above %d", v.Name, costText(c.Max), l.opts.AssumedSize, l.opts.MaxCost),
				Hint:    "avoid nested comprehensions over document collections"})
		}
		next, err := e.Extend(cel.Variable(v.Name, a.OutputType()))
		if err != nil {
			continue
		}
		e = next
	}
	return e
}

// literalDestinations are the destination tags of a rule known without a
// build: a legacy template without group references, or a CEL string or
// list of string literals.
func literalDestinations(sp policy.Spec) []string {
	if meta, ok := sp.Meta.(*compat.RuleMeta); ok {
		if meta.Template == "" || groupRef.MatchString(meta.Template) {
			return nil
		}
		return []string{meta.Template}
	}
	return literalTags(sp.Destinations)
}

// literalTags are the tags of a CEL string or list of string literals,
// nil for any other expression.
func literalTags(src string) []string {
	env, err := cel.NewEnv()
	if err != nil {
		return nil
	}
	a, iss := env.Parse(src)
	if iss.Err() != nil {
		return nil
	}
	str := func(e ast.Expr) (string, bool) {
		if e.Kind() != ast.LiteralKind {
			return "", false
		}
		s, ok := e.AsLiteral().Value().(string)
		return s, ok
	}
	root := a.NativeRep().Expr()
	if s, ok := str(root); ok {
		return []string{s}
	}
	if root.Kind() != ast.ListKind {
		return nil
	}
	var out []string
	for _, e := range root.AsList().Elements() {
		s, ok := str(e)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}
