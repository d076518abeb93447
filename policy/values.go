package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// ExprValue is the value one sub-expression of a CEL condition took in a
// decision.
type ExprValue struct {
	Expr  string `json:"expr"`
	Value string `json:"value"`
}

// MatchValues evaluates the condition of rule r of set (compiled in e) on
// in again, with cel-go's evaluation state, and returns the value of each
// sub-expression that decided: the condition, the operands of its logical
// operators, and the non-literal operands of each comparison or call
// below them. Operands that short-circuiting left unevaluated are left
// out, as they did not decide. A rule without a condition has no values.
func (e *Env) MatchValues(set *Set, r *Rule, in *Input) ([]ExprValue, error) {
	if strings.TrimSpace(r.Match) == "" {
		return nil, nil
	}
	env, err := e.CELFor(&r.Spec)
	if err != nil {
		return nil, err
	}
	if r.Scope != nil {
		for _, v := range r.Scope.Variables {
			vast, iss := env.Compile(v.Expr)
			if iss.Err() != nil {
				return nil, iss.Err()
			}
			next, err := env.Extend(cel.Variable(v.Name, vast.OutputType()))
			if err != nil {
				return nil, err
			}
			env = next
		}
	}
	checked, iss := env.Compile(r.Match)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	prg, err := env.Program(checked, append([]cel.ProgramOption{cel.EvalOptions(cel.OptTrackState)}, e.progOpts...)...)
	if err != nil {
		return nil, err
	}
	st := &State{set: set}
	st.reset(in, false)
	st.beginRule(r)
	defer st.release()
	_, det, err := prg.Eval(st)
	if det == nil {
		return nil, err
	}
	state := det.State()
	native := checked.NativeRep()
	var out []ExprValue
	add := func(x ast.Expr) {
		v, ok := state.Value(x.ID())
		if !ok {
			return
		}
		text, err := parser.Unparse(x, native.SourceInfo())
		if err != nil {
			return
		}
		// The unparser wraps long expressions; one line reads better here.
		text = strings.Join(strings.Fields(text), " ")
		out = append(out, ExprValue{Expr: text, Value: formatValue(v)})
	}
	var walk func(x ast.Expr)
	walk = func(x ast.Expr) {
		add(x)
		if x.Kind() != ast.CallKind {
			return
		}
		call := x.AsCall()
		switch call.FunctionName() {
		case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot, operators.Conditional:
			for _, a := range call.Args() {
				walk(a)
			}
			return
		}
		if call.IsMemberFunction() && call.Target().Kind() != ast.LiteralKind {
			add(call.Target())
		}
		for _, a := range call.Args() {
			if a.Kind() != ast.LiteralKind {
				add(a)
			}
		}
	}
	walk(native.Expr())
	return out, nil
}

var _ interpreter.Activation = (*State)(nil)

// formatValue writes a CEL value as CEL literal text.
func formatValue(v ref.Val) string {
	switch v := v.(type) {
	case *types.Err:
		return "error: " + v.String()
	case types.String:
		return strconv.Quote(string(v))
	case types.Null:
		return "null"
	case traits.Lister:
		var parts []string
		it := v.Iterator()
		for it.HasNext() == types.True {
			parts = append(parts, formatValue(it.Next()))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case traits.Mapper:
		var parts []string
		it := v.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			parts = append(parts, formatValue(k)+": "+formatValue(v.Get(k)))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Value())
}
