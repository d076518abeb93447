package compat

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/fedora-modularity/mts/policy"
)

// exprBuilder builds the type-checked form of the CEL that legacy rules
// compile to, so loading need neither parse nor check text it generated
// itself: every legacy rule is the same few calls with constant
// arguments, whose types and overloads are known.
type exprBuilder struct {
	id   int64
	last *exprpb.Type // the type of the expression built last
	// types holds the result type only: planning a program needs the
	// references, and converting each type from its proto form is what
	// loading large sets would spend its time on.
	types map[int64]*exprpb.Type
	refs  map[int64]*exprpb.Reference
}

var (
	typeString  = &exprpb.Type{TypeKind: &exprpb.Type_Primitive{Primitive: exprpb.Type_STRING}}
	typeBool    = &exprpb.Type{TypeKind: &exprpb.Type_Primitive{Primitive: exprpb.Type_BOOL}}
	typeDyn     = &exprpb.Type{TypeKind: &exprpb.Type_Dyn{Dyn: &emptypb.Empty{}}}
	typeDataMap = &exprpb.Type{TypeKind: &exprpb.Type_MapType_{MapType: &exprpb.Type_MapType{KeyType: typeString, ValueType: typeDyn}}}
	typeStrings = &exprpb.Type{TypeKind: &exprpb.Type_ListType_{ListType: &exprpb.Type_ListType{ElemType: typeString}}}
)

func (b *exprBuilder) next(t *exprpb.Type, r *exprpb.Reference) int64 {
	if b.types == nil {
		b.types, b.refs = map[int64]*exprpb.Type{}, map[int64]*exprpb.Reference{}
	}
	b.id++
	b.last = t
	if r != nil {
		b.refs[b.id] = r
	}
	return b.id
}

// data is the modulemd data variable.
func (b *exprBuilder) data() *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(typeDataMap, &exprpb.Reference{Name: policy.VarData}),
		ExprKind: &exprpb.Expr_IdentExpr{IdentExpr: &exprpb.Expr_Ident{Name: policy.VarData}}}
}

func (b *exprBuilder) str(s string) *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(typeString, nil), ExprKind: &exprpb.Expr_ConstExpr{
		ConstExpr: &exprpb.Constant{ConstantKind: &exprpb.Constant_StringValue{StringValue: s}}}}
}

func (b *exprBuilder) call(fn, overload string, out *exprpb.Type, args ...*exprpb.Expr) *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(out, &exprpb.Reference{OverloadId: []string{overload}}),
		ExprKind: &exprpb.Expr_CallExpr{CallExpr: &exprpb.Expr_Call{Function: fn, Args: args}}}
}

func (b *exprBuilder) typeOf(e *exprpb.Expr) *exprpb.Type {
	if e.Id == b.id {
		return b.last
	}
	return typeDyn
}

// and joins terms with &&, left to right.
func (b *exprBuilder) and(terms []*exprpb.Expr) *exprpb.Expr {
	out := terms[0]
	for _, t := range terms[1:] {
		out = b.call(operators.LogicalAnd, overloads.LogicalAnd, typeBool, out, t)
	}
	return out
}

func (b *exprBuilder) ast(e *exprpb.Expr, text string) *cel.Ast {
	b.types[e.Id] = b.typeOf(e)
	a, err := cel.CheckedExprToAstWithSource(&exprpb.CheckedExpr{Expr: e, SourceInfo: &exprpb.SourceInfo{},
		TypeMap: b.types, ReferenceMap: b.refs}, common.NewTextSource(text))
	if err != nil {
		// Legacy rules are a handful of calls deep; the depth limit cannot
		// be reached.
		panic(err)
	}
	return a
}
