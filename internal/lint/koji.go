package lint

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// celExpr is one expression of a rule with its place.
type celExpr struct {
	what string
	src  string
	pos  policy.Position
}

func ruleExprs(sp policy.Spec) []celExpr {
	untag, untagPos := sp.UntagExpr()
	return []celExpr{
		{"match", sp.Match, pick(sp.MatchPos, sp.Source)},
		{"destinations", sp.Destinations, pick(sp.DestinationsPos, sp.Source)},
		{"untag", untag, pick(untagPos, sp.Source)},
	}
}

// parseOnly parses a CEL expression without checking it (nil when it does
// not parse, which the compiler reports).
func parseOnly(env *cel.Env, src string) ast.Expr {
	if strings.TrimSpace(src) == "" {
		return nil
	}
	a, iss := env.Parse(src)
	if iss.Err() != nil {
		return nil
	}
	return a.NativeRep().Expr()
}

// kojiFields reports, in rules on Koji's events, fields of build or event
// that do not exist (reading one is an evaluation error: both are maps)
// and event fields that none of the rule's kinds sets.
func (l *linter) kojiFields(specs []policy.Spec) {
	env, err := cel.NewEnv()
	if err != nil {
		return
	}
	buildFields := slices.Sorted(maps.Keys(build.KojiBuild{}.Vars()))
	eventFields := slices.Sorted(maps.Keys(build.KojiEvent{}.Vars()))
	for _, sp := range specs {
		if sp.Koji == nil {
			continue
		}
		seen := map[string]bool{}
		for _, ex := range ruleExprs(sp) {
			root := parseOnly(env, ex.src)
			if root == nil {
				continue
			}
			visit(root, func(e ast.Expr) {
				if e.Kind() != ast.SelectKind {
					return
				}
				sel := e.AsSelect()
				op := sel.Operand()
				if op.Kind() != ast.IdentKind {
					return
				}
				v, f := op.AsIdent(), sel.FieldName()
				if (v != policy.VarBuild && v != policy.VarEvent) || seen[v+"."+f] {
					return
				}
				seen[v+"."+f] = true
				fields := buildFields
				if v == policy.VarEvent {
					fields = eventFields
				}
				d := Diagnostic{Code: CodeEventField, Severity: Warning, Pos: ex.pos, RuleID: sp.ID}
				switch {
				case !slices.Contains(fields, f):
					d.Message = fmt.Sprintf("%s: %s has no field %q: reading it is an evaluation error", ex.what, v, f)
					d.Hint = fmt.Sprintf("%s has %s", v, strings.Join(fields, ", "))
					d.Hint = fmt.Sprintf("did you mean %s.%s? %s", v, ruleset.Nearest(f, fields), d.Hint)
				case v == policy.VarEvent && !setByAny(f, sp.States):
					d.Message = fmt.Sprintf("%s: event.%s is always empty on %s", ex.what, f, strings.Join(sp.States, ", "))
					d.Hint = "event.tag and event.user are set on build.tag and build.untag, event.old and event.new on the build state kinds"
				default:
					return
				}
				l.add(d)
			})
		}
	}
}

// setByAny tells whether an event field is set on some of the kinds.
func setByAny(field string, kinds []string) bool {
	for _, k := range kinds {
		tagKind := k == string(build.KindTag) || k == string(build.KindUntag)
		switch field {
		case "tag", "user":
			if tagKind {
				return true
			}
		case "old", "new":
			if !tagKind {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// visit calls fn on e and every expression under it.
func visit(e ast.Expr, fn func(ast.Expr)) {
	fn(e)
	switch e.Kind() {
	case ast.SelectKind:
		visit(e.AsSelect().Operand(), fn)
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			visit(c.Target(), fn)
		}
		for _, a := range c.Args() {
			visit(a, fn)
		}
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			visit(x, fn)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			visit(en.AsMapEntry().Key(), fn)
			visit(en.AsMapEntry().Value(), fn)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			visit(x, fn)
		}
	}
}

// tagText is a tag a rule tags into or untags from: exactly Text, or,
// when Prefix, some tag starting with Text.
type tagText struct {
	Text   string
	Prefix bool
}

func (t tagText) String() string {
	if t.Prefix {
		return fmt.Sprintf("%q...", t.Text)
	}
	return fmt.Sprintf("%q", t.Text)
}

// covers tells whether tagging into t can give an event on tag.
func (t tagText) covers(tag string) bool {
	if t.Prefix {
		return strings.HasPrefix(tag, t.Text)
	}
	return t.Text == tag
}

// reactor is a rule on tag or untag events as the loop analysis sees it:
// the literal tags whose events it reacts to (nil: any), and what it tags
// into and untags from, as far as literals tell.
type reactor struct {
	sp       policy.Spec
	kind     build.Kind
	triggers []string
	out      map[build.Kind][]tagText // KindTag: destinations, KindUntag: untag
}

// loops finds rules on build.tag and build.untag events whose tagging
// comes back to them. mts's own tagging and untagging come back as
// events: a rule that tags into X fires the rules on build.tag events
// with tag X. A cycle of such rules moves a build round forever; a rule
// that reacts to any tag and tags into a literal one reacts to its own
// work. Rules whose condition leaves out a user's events (event.user !=
// "...") are taken to leave out mts's own.
func (l *linter) loops(specs []policy.Spec) {
	env, err := cel.NewEnv()
	if err != nil {
		return
	}
	var rs []*reactor
	for _, sp := range specs {
		if sp.Koji == nil {
			continue
		}
		match := parseOnly(env, sp.Match)
		if strings.TrimSpace(sp.Match) != "" && match == nil {
			continue // the compiler reports it
		}
		triggers, ignoresUser := readTriggers(match)
		if ignoresUser {
			continue
		}
		out := map[build.Kind][]tagText{
			build.KindTag:   tagTexts(parseOnly(env, sp.Destinations)),
			build.KindUntag: tagTexts(parseOnly(env, sp.Koji.Untag)),
		}
		for _, k := range []build.Kind{build.KindTag, build.KindUntag} {
			if slices.Contains(sp.States, string(k)) {
				rs = append(rs, &reactor{sp: sp, kind: k, triggers: triggers, out: out})
			}
		}
	}
	for _, r := range rs {
		if r.triggers == nil && len(r.out[r.kind]) > 0 {
			verb := map[build.Kind]string{build.KindTag: "tags into", build.KindUntag: "untags from"}[r.kind]
			texts := make([]string, len(r.out[r.kind]))
			for i, t := range r.out[r.kind] {
				texts[i] = t.String()
			}
			pos := r.sp.DestinationsPos
			if r.kind == build.KindUntag {
				pos = r.sp.Koji.UntagPos
			}
			l.add(Diagnostic{Code: CodeOwnTagging, Severity: Warning, Pos: pick(pos, r.sp.Source), RuleID: r.sp.ID,
				Message: fmt.Sprintf("the rule reacts to its own tagging: on every %s event it %s %s, whose %s events come back to it", r.kind, verb, strings.Join(texts, ", "), r.kind),
				Hint:    `match only the tags it should react to (event.tag == "..." or event.tag in [...]), or leave out mts's own events (event.user != "<mts's Koji user>")`})
		}
	}
	l.cycles(rs)
}

// edge is one way a reactor's work fires another: tagging into (or
// untagging from) tag.
type edge struct {
	to  int
	tag string
	// prefix, when set, is the literal start of the destinations that
	// give tag.
	prefix string
}

// cycles reports each group of reactors that fire each other round, once,
// at the rule of the group that comes first in the files.
func (l *linter) cycles(rs []*reactor) {
	next := make([][]edge, len(rs))
	for i, r := range rs {
		for j, s := range rs {
		triggers:
			for _, trig := range s.triggers {
				for _, t := range r.out[s.kind] {
					if t.covers(trig) {
						e := edge{to: j, tag: trig}
						if t.Prefix {
							e.prefix = t.Text
						}
						next[i] = append(next[i], e)
						break triggers
					}
				}
			}
		}
	}
	for _, comp := range components(next) {
		start := slices.MinFunc(comp, func(a, b int) int { return comparePos(rs[a].sp.Source, rs[b].sp.Source) })
		path := cycleFrom(start, comp, next)
		if path == nil {
			continue
		}
		var steps []string
		for _, e := range path {
			r := rs[e.from]
			verb := map[build.Kind]string{build.KindTag: "tags into", build.KindUntag: "untags from"}[rs[e.to].kind]
			tag := fmt.Sprintf("%q", e.tag)
			if e.prefix != "" {
				tag += fmt.Sprintf(" (its tags start with %q)", e.prefix)
			}
			steps = append(steps, fmt.Sprintf("rule %q (%s) on %s %s %s", r.sp.ID, place(r.sp.Source, rs[start].sp.Source), r.kind, verb, tag))
		}
		s := rs[start]
		l.add(Diagnostic{Code: CodeLoop, Severity: Error, Pos: s.sp.Source, RuleID: s.sp.ID,
			Message: fmt.Sprintf("tagging loop: %s, which rule %q reacts to again", strings.Join(steps, ", then "), s.sp.ID),
			Hint:    `mts's own tagging comes back as events: break the cycle by narrowing a rule's event.tag, or by leaving out mts's own events (event.user != "<mts's Koji user>")`})
	}
}

// pathEdge is an edge of a found cycle.
type pathEdge struct {
	from, to int
	edge
}

// cycleFrom is a shortest cycle through start inside comp, nil if none.
func cycleFrom(start int, comp []int, next [][]edge) []pathEdge {
	in := map[int]bool{}
	for _, c := range comp {
		in[c] = true
	}
	type prev struct {
		from int
		edge
	}
	back := map[int]prev{}
	queue := []int{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range next[n] {
			// A cycle through the other rules of the group says more than
			// the rule's loop on itself.
			if !in[e.to] || (n == start && e.to == start && len(comp) > 1) {
				continue
			}
			if e.to == start {
				path := []pathEdge{{from: n, to: start, edge: e}}
				for at := n; at != start; {
					p := back[at]
					path = append(path, pathEdge{from: p.from, to: at, edge: p.edge})
					at = p.from
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := back[e.to]; !seen {
				back[e.to] = prev{from: n, edge: e}
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}

// components are the strongly connected components of the graph that
// hold a cycle (more than one node, or a node with an edge to itself), by
// Tarjan's algorithm.
func components(next [][]edge) [][]int {
	n := len(next)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	counter := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range next[v] {
			switch {
			case index[e.to] < 0:
				strong(e.to)
				low[v] = min(low[v], low[e.to])
			case onStack[e.to]:
				low[v] = min(low[v], index[e.to])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		self := slices.ContainsFunc(next[v], func(e edge) bool { return e.to == v })
		if len(comp) > 1 || self {
			slices.Sort(comp)
			out = append(out, comp)
		}
	}
	for v := range n {
		if index[v] < 0 {
			strong(v)
		}
	}
	return out
}

func comparePos(a, b policy.Position) int {
	return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// readTriggers reads, from a condition's top-level conjuncts, the literal
// tags it requires of event.tag (event.tag == "x", "x" == event.tag,
// event.tag in ["x", "y"], or a disjunction of those); nil when it
// requires none. ignoresUser is set when a conjunct leaves out some
// user's events.
func readTriggers(match ast.Expr) (triggers []string, ignoresUser bool) {
	if match == nil {
		return nil, false
	}
	for _, c := range conjunctExprs(match) {
		if excludesUser(c) {
			ignoresUser = true
			continue
		}
		if tags, ok := tagLiterals(c); ok {
			if triggers == nil {
				triggers = tags
			} else {
				triggers = slices.DeleteFunc(triggers, func(t string) bool { return !slices.Contains(tags, t) })
				if triggers == nil {
					triggers = []string{}
				}
			}
		}
	}
	return triggers, ignoresUser
}

func conjunctExprs(e ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		var out []ast.Expr
		for _, a := range e.AsCall().Args() {
			out = append(out, conjunctExprs(a)...)
		}
		return out
	}
	return []ast.Expr{e}
}

// isEventField tells whether e is event.<field>.
func isEventField(e ast.Expr, field string) bool {
	if e.Kind() != ast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	op := sel.Operand()
	return sel.FieldName() == field && op.Kind() == ast.IdentKind && op.AsIdent() == policy.VarEvent
}

func stringLit(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

func stringList(e ast.Expr) ([]string, bool) {
	if e.Kind() != ast.ListKind {
		return nil, false
	}
	out := []string{}
	for _, x := range e.AsList().Elements() {
		s, ok := stringLit(x)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// tagLiterals reads a condition that holds only for literal event tags.
func tagLiterals(e ast.Expr) ([]string, bool) {
	if e.Kind() != ast.CallKind {
		return nil, false
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case operators.Equals:
		for _, pair := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if s, ok := stringLit(pair[1]); ok && isEventField(pair[0], "tag") {
				return []string{s}, true
			}
		}
	case operators.In:
		if l, ok := stringList(args[1]); ok && isEventField(args[0], "tag") {
			return l, true
		}
	case operators.LogicalOr:
		var out []string
		for _, a := range args {
			l, ok := tagLiterals(a)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	}
	return nil, false
}

// excludesUser tells whether a condition leaves out literal users' events.
func excludesUser(e ast.Expr) bool {
	if e.Kind() != ast.CallKind {
		return false
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case operators.NotEquals:
		for _, pair := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if _, ok := stringLit(pair[1]); ok && isEventField(pair[0], "user") {
				return true
			}
		}
	case operators.LogicalNot:
		a := args[0]
		if a.Kind() != ast.CallKind {
			return false
		}
		ac := a.AsCall()
		aargs := ac.Args()
		switch ac.FunctionName() {
		case operators.Equals:
			for _, pair := range [][2]ast.Expr{{aargs[0], aargs[1]}, {aargs[1], aargs[0]}} {
				if _, ok := stringLit(pair[1]); ok && isEventField(pair[0], "user") {
					return true
				}
			}
		case operators.In:
			if _, ok := stringList(aargs[1]); ok && isEventField(aargs[0], "user") {
				return true
			}
		}
	}
	return false
}

// tagTexts are the tags an expression of type string or list(string)
// gives, as far as its literals tell: string literals, literal-prefixed
// concatenations, both branches of a conditional, and list elements.
func tagTexts(e ast.Expr) []tagText {
	if e == nil {
		return nil
	}
	switch e.Kind() {
	case ast.LiteralKind:
		if s, ok := stringLit(e); ok {
			return []tagText{{Text: s}}
		}
	case ast.ListKind:
		var out []tagText
		for _, x := range e.AsList().Elements() {
			out = append(out, tagTexts(x)...)
		}
		return out
	case ast.CallKind:
		c := e.AsCall()
		switch c.FunctionName() {
		case operators.Conditional:
			return append(tagTexts(c.Args()[1]), tagTexts(c.Args()[2])...)
		case operators.Add:
			if p := literalPrefix(e); p != "" {
				return []tagText{{Text: p, Prefix: true}}
			}
		}
	}
	return nil
}

// literalPrefix is the literal text a string concatenation starts with.
func literalPrefix(e ast.Expr) string {
	if s, ok := stringLit(e); ok {
		return s
	}
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != operators.Add {
		return ""
	}
	args := e.AsCall().Args()
	left := literalPrefix(args[0])
	if s, ok := stringLit(args[0]); ok {
		// "a" + ("b" + x) is "ab" then x.
		return s + literalPrefix(args[1])
	}
	return left
}
