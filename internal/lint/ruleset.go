package lint

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/policy"
)

// setRule is one rule of the ordered set as the set-wide analyses see
// it: its states and its conditions, every one of which must hold.
type setRule struct {
	sp     policy.Spec
	terms  []string // legacy criteria or CEL conjuncts, in a form equal conditions share
	ok     bool     // false: the conditions could not be read (a load error says why)
	legacy *compat.RuleMeta
}

// orderedSet runs the analyses that look at the rules of all files in
// the order the service tries them: rules that an earlier rule always
// wins against, and ids used twice. Both name the two places.
//
// An earlier rule E wins against R when E's conditions are a subset of
// R's. Rather than compare pairs, each rule is indexed under its rarest
// condition: a rule whose conditions are a subset of R's has its rarest
// one among R's, so R looks only at the rules filed under its own
// conditions (and the catch-alls).
func (l *linter) orderedSet(env *cel.Env, specs []policy.Spec) {
	rules := make([]setRule, len(specs))
	count := map[string]int{}
	for i, sp := range specs {
		r := setRule{sp: sp, ok: true}
		if meta, ok := sp.Meta.(*compat.RuleMeta); ok {
			r.legacy = meta
			for _, c := range meta.Criteria {
				r.terms = append(r.terms, "legacy\x00"+critKey(c))
			}
		} else {
			var terms []string
			terms, r.ok = conjuncts(env, sp.Match)
			for _, t := range terms {
				r.terms = append(r.terms, "cel\x00"+t)
			}
		}
		slices.Sort(r.terms)
		r.terms = slices.Compact(r.terms)
		for _, t := range r.terms {
			count[t]++
		}
		rules[i] = r
	}
	ids := map[string]int{}
	byTerm := map[string][]int{}
	var catchAll []int
	for i, r := range rules {
		l.duplicateID(rules, ids, i)
		if !r.ok {
			continue
		}
		found := false
		var cands []int
		cands = append(cands, catchAll...)
		for _, t := range r.terms {
			cands = append(cands, byTerm[t]...)
		}
		slices.Sort(cands)
		for _, j := range cands {
			e := rules[j]
			if !covers(e.sp.States, r.sp.States) || !subset(e.terms, r.terms) {
				continue
			}
			scratch := e.legacy != nil && len(e.legacy.Ignored) > 0
			l.shadowed(e.sp, r.sp, len(e.terms) == 0, len(e.terms) == len(r.terms), scratch)
			found = true
			break
		}
		if len(r.terms) == 0 {
			catchAll = append(catchAll, i)
		} else {
			rarest := r.terms[0]
			for _, t := range r.terms[1:] {
				if count[t] < count[rarest] {
					rarest = t
				}
			}
			byTerm[rarest] = append(byTerm[rarest], i)
		}
		if !found && r.legacy != nil && len(r.terms) == 0 && len(r.legacy.Ignored) > 0 {
			l.add(Diagnostic{Code: CodeCatchAll, Severity: Warning, Pos: pick(r.sp.MatchPos, r.sp.Source), RuleID: r.sp.ID,
				Message: fmt.Sprintf("the rule matches every build in state %q: its only criterion, scratch, is ignored", r.sp.States[0]),
				Hint:    "every rule after it in the same state is unreachable; give it real criteria or move it last"})
		}
	}
}

// duplicateID reports a rule whose id an earlier rule of the set has. Two
// rules of one CEL file with one id are a load error already.
func (l *linter) duplicateID(rules []setRule, ids map[string]int, i int) {
	sp := rules[i].sp
	j, dup := ids[sp.ID]
	if !dup {
		ids[sp.ID] = i
		return
	}
	prev := rules[j]
	if rules[i].legacy == nil && prev.legacy == nil && prev.sp.Source.File == sp.Source.File {
		return
	}
	pos := sp.Source
	if m := rules[i].legacy; m != nil {
		pos = pick(m.IDPos, sp.Source)
	}
	l.add(Diagnostic{Code: CodeDuplicateID, Severity: Warning, Pos: pos, RuleID: sp.ID,
		Message: fmt.Sprintf("id %q is also used by rule %d (%s)", sp.ID, prev.sp.Index, place(prev.sp.Source, sp.Source)),
		Hint:    "give every rule its own id: decisions and logs name rules by id"})
}

// place names where other is, seen from a diagnostic at here: its line in
// the same file, FILE:LINE in another.
func place(other, here policy.Position) string {
	if other.File == here.File {
		return fmt.Sprintf("line %d", other.Line)
	}
	return fmt.Sprintf("%s:%d", other.File, other.Line)
}

// subset reports whether every term of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, t := range a {
		if _, ok := slices.BinarySearch(b, t); !ok {
			return false
		}
	}
	return true
}

func (l *linter) shadowed(e, sp policy.Spec, catchAll, same, scratch bool) {
	d := Diagnostic{Severity: Warning, Pos: sp.Source, RuleID: sp.ID}
	state := strings.Join(sp.States, ", ")
	where := place(e.Source, sp.Source)
	switch {
	case catchAll:
		why := ""
		if scratch {
			why = " (its scratch criterion is ignored)"
		}
		d.Code = CodeUnreachable
		in := "every build in state " + quote(state)
		if sp.Koji != nil {
			in = "every " + state + " event"
		}
		d.Message = fmt.Sprintf("unreachable: rule %d %q (%s) matches %s before it%s", e.Index, e.ID, where, in, why)
		d.Hint = "move this rule above the catch-all, or give the catch-all real criteria"
	case same:
		d.Code = CodeDuplicate
		d.Message = fmt.Sprintf("unreachable: same criteria as rule %d %q (%s), which always wins", e.Index, e.ID, where)
		d.Hint = "remove one of the two rules"
	default:
		d.Code = CodeShadowed
		d.Message = fmt.Sprintf("unreachable: rule %d %q (%s) has a subset of this rule's criteria, so it matches first", e.Index, e.ID, where)
		d.Hint = "put the more specific rule first"
	}
	l.add(d)
}
