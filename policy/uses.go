package policy

import (
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
)

// Uses is what a rule on Koji's events reads of its input, as its checked
// expressions and the file variables they use tell. A caller that gets
// only part of a build from a message learns from it whether a rule needs
// the rest.
type Uses struct {
	// BuildFields are the fields of build read by a literal name, sorted.
	BuildFields []string
	// WholeBuild is set when build is read otherwise: as a whole, or by a
	// key computed at evaluation.
	WholeBuild bool
	// Modulemd is set when modulemd or data is read.
	Modulemd bool
}

// Uses returns what the rule reads; it is known for rules on Koji's
// events only (the zero Uses otherwise).
func (r *Rule) Uses() Uses {
	if r.Koji == nil {
		return Uses{}
	}
	return r.Koji.uses
}

func (u *Uses) merge(o Uses) {
	u.WholeBuild = u.WholeBuild || o.WholeBuild
	u.Modulemd = u.Modulemd || o.Modulemd
	for _, f := range o.BuildFields {
		u.addField(f)
	}
}

func (u *Uses) addField(f string) {
	if i, found := slices.BinarySearch(u.BuildFields, f); !found {
		u.BuildFields = slices.Insert(u.BuildFields, i, f)
	}
}

// usesOf walks checked expressions; cs gives what the file variables they
// name read.
func usesOf(asts []*cel.Ast, cs *compiledScope) Uses {
	var u Uses
	for _, a := range asts {
		if a != nil {
			u.walk(a.NativeRep().Expr(), cs)
		}
	}
	return u
}

func (u *Uses) walk(e ast.Expr, cs *compiledScope) {
	switch e.Kind() {
	case ast.IdentKind:
		switch name := e.AsIdent(); name {
		case VarBuild:
			u.WholeBuild = true
		case VarModulemd, VarData:
			u.Modulemd = true
		default:
			if cs != nil {
				if i, ok := cs.names[name]; ok && i < len(cs.uses) {
					u.merge(cs.uses[i])
				}
			}
		}
	case ast.SelectKind:
		sel := e.AsSelect()
		if isBuild(sel.Operand()) {
			u.addField(sel.FieldName())
			return
		}
		u.walk(sel.Operand(), cs)
	case ast.CallKind:
		call := e.AsCall()
		args := call.Args()
		switch call.FunctionName() {
		case operators.Index, operators.OptIndex, operators.OptSelect:
			if len(args) == 2 && isBuild(args[0]) && args[1].Kind() == ast.LiteralKind {
				if f, ok := args[1].AsLiteral().Value().(string); ok {
					u.addField(f)
					return
				}
			}
		}
		if call.IsMemberFunction() {
			u.walk(call.Target(), cs)
		}
		for _, a := range args {
			u.walk(a, cs)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			u.walk(el, cs)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			u.walk(me.Key(), cs)
			u.walk(me.Value(), cs)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			u.walk(f.AsStructField().Value(), cs)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			u.walk(x, cs)
		}
	}
}

func isBuild(e ast.Expr) bool {
	return e.Kind() == ast.IdentKind && e.AsIdent() == VarBuild
}
