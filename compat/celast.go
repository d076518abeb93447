package compat

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/operators"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
)

// exprBuilder builds the parsed form of the CEL that legacy rules compile
// to, so loading need not run the CEL parser on text it generated itself.
type exprBuilder struct {
	id int64
}

func (b *exprBuilder) next() int64 {
	b.id++
	return b.id
}

func (b *exprBuilder) ident(name string) *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(), ExprKind: &exprpb.Expr_IdentExpr{IdentExpr: &exprpb.Expr_Ident{Name: name}}}
}

func (b *exprBuilder) str(s string) *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(), ExprKind: &exprpb.Expr_ConstExpr{
		ConstExpr: &exprpb.Constant{ConstantKind: &exprpb.Constant_StringValue{StringValue: s}}}}
}

func (b *exprBuilder) call(fn string, args ...*exprpb.Expr) *exprpb.Expr {
	return &exprpb.Expr{Id: b.next(), ExprKind: &exprpb.Expr_CallExpr{CallExpr: &exprpb.Expr_Call{Function: fn, Args: args}}}
}

// and joins terms with &&, left to right.
func (b *exprBuilder) and(terms []*exprpb.Expr) *exprpb.Expr {
	out := terms[0]
	for _, t := range terms[1:] {
		out = b.call(operators.LogicalAnd, out, t)
	}
	return out
}

func (b *exprBuilder) ast(e *exprpb.Expr, text string) *cel.Ast {
	return cel.ParsedExprToAstWithSource(&exprpb.ParsedExpr{Expr: e, SourceInfo: &exprpb.SourceInfo{}},
		common.NewTextSource(text))
}
