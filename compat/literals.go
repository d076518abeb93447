package compat

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/fedora-modularity/mts/policy"
)

// Limits of the literal analysis: sets and texts beyond them are cut
// (shorter or fewer literals are weaker conditions, never wrong ones).
const (
	maxLiterals   = 32
	maxLiteralLen = 64
	maxClassRunes = 4
)

// Literals returns a necessary condition for the pattern to match a text
// with re.search: the text is, starts with, ends with or contains one of
// the literals (of one kind). nil means the pattern requires no literal
// text (for example `.*` or `^\d+$`).
//
// The analysis runs on the pattern's RE2 translation, the program that
// actually matches: a Python `$` is `(?:(\n)?\z)` there, so its literals
// come with and without the final newline.
func (p *Pattern) Literals() []policy.Literal {
	re, err := syntax.Parse(p.RE2, syntax.Perl)
	if err != nil {
		return nil
	}
	return p.literals(re)
}

// literals is Literals from the translation's syntax tree, parsed already.
func (p *Pattern) literals(re *syntax.Regexp) []policy.Literal {
	// RE2 reads invalid UTF-8, in the pattern and in the text, as U+FFFD:
	// a literal with it could be met by different bytes.
	if re == nil || !utf8.ValidString(p.RE2) || strings.ContainsRune(p.RE2, utf8.RuneError) {
		return nil
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	in := analyze(re)
	var options [][]policy.Literal
	if begin && end && in.exact != nil {
		options = append(options, in.literals(policy.Exact, in.exact))
	}
	if begin && in.prefix != nil {
		options = append(options, in.literals(policy.Prefix, in.prefix))
	}
	if end && in.suffix != nil {
		options = append(options, in.literals(policy.Suffix, in.suffix))
	}
	if in.inner != nil {
		options = append(options, in.literals(policy.Contains, in.inner))
	}
	var best []policy.Literal
	for _, o := range options {
		if best == nil || literalScore(o) > literalScore(best) {
			best = o
		}
	}
	return best
}

// literalScore ranks conditions: longer literals first, then the kind
// (exact over prefix and suffix over contains), then fewer literals.
func literalScore(ls []policy.Literal) int {
	minLen := maxLiteralLen
	for _, l := range ls {
		minLen = min(minLen, len(l.Text))
	}
	kind := map[policy.LiteralKind]int{policy.Exact: 3, policy.Prefix: 2, policy.Suffix: 2, policy.Contains: 1}[ls[0].Kind]
	return minLen*1000 + kind*100 - len(ls)
}

// litInfo is what the analysis knows of the texts a sub-expression
// matches. nil sets mean "nothing known"; exact may contain "", the other
// sets never do.
type litInfo struct {
	exact  []string // the expression matches exactly one of these
	prefix []string // every match starts with one of these
	suffix []string // ... ends with one of these
	inner  []string // ... contains one of these
	fold   bool     // the texts are case-folded (FoldString)
}

func (in litInfo) literals(kind policy.LiteralKind, texts []string) []policy.Literal {
	out := make([]policy.Literal, len(texts))
	for i, t := range texts {
		out[i] = policy.Literal{Kind: kind, Text: t, Fold: in.fold}
	}
	return out
}

func analyze(re *syntax.Regexp) litInfo {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		fold := false
		if re.Flags&syntax.FoldCase != 0 {
			s, fold = policy.FoldString(s), true
		}
		return exactInfo([]string{s}, fold)
	case syntax.OpCharClass:
		var rs []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(rs) == maxClassRunes {
					return litInfo{}
				}
				rs = append(rs, string(r))
			}
		}
		if len(rs) == 0 {
			return litInfo{}
		}
		return exactInfo(rs, false)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactInfo([]string{""}, false)
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpQuest:
		sub := analyze(re.Sub[0])
		if sub.exact == nil {
			return litInfo{}
		}
		return exactInfo(union(sub.exact, []string{""}), sub.fold)
	case syntax.OpPlus:
		sub := analyze(re.Sub[0])
		return litInfo{prefix: sub.prefix, suffix: sub.suffix, inner: sub.inner, fold: sub.fold}
	case syntax.OpRepeat:
		if re.Min == 0 {
			return litInfo{}
		}
		sub := analyze(re.Sub[0])
		return litInfo{prefix: sub.prefix, suffix: sub.suffix, inner: sub.inner, fold: sub.fold}
	case syntax.OpConcat:
		out := exactInfo([]string{""}, false)
		for _, s := range re.Sub {
			out = concat(out, analyze(s))
		}
		return out
	case syntax.OpAlternate:
		out := analyze(re.Sub[0])
		for _, s := range re.Sub[1:] {
			out = alternate(out, analyze(s))
		}
		return out
	}
	// Any character, star and the like: no literal text is required.
	return litInfo{}
}

func exactInfo(texts []string, fold bool) litInfo {
	in := litInfo{exact: texts, fold: fold}
	for _, t := range texts {
		if len(t) > maxLiteralLen {
			return litInfo{prefix: cut(texts, true), suffix: cut(texts, false), inner: cut(texts, true), fold: fold}
		}
	}
	if !hasEmpty(texts) {
		in.prefix, in.suffix, in.inner = texts, texts, texts
	}
	return in
}

// match brings a and b to the same case handling: a condition on folded
// texts is weaker than one on exact texts, so folding is always sound.
func match(a, b litInfo) (litInfo, litInfo) {
	if a.fold == b.fold {
		return a, b
	}
	return a.folded(), b.folded()
}

func (in litInfo) folded() litInfo {
	if in.fold {
		return in
	}
	f := func(ss []string) []string {
		if ss == nil {
			return nil
		}
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = policy.FoldString(s)
		}
		return dedupe(out)
	}
	return litInfo{exact: f(in.exact), prefix: f(in.prefix), suffix: f(in.suffix), inner: f(in.inner), fold: true}
}

func concat(a, b litInfo) litInfo {
	a, b = match(a, b)
	out := litInfo{fold: a.fold}
	if a.exact != nil && b.exact != nil {
		if x := cross(a.exact, b.exact); x != nil {
			return exactInfo(x, a.fold)
		}
	}
	switch {
	case a.exact != nil && b.prefix != nil:
		out.prefix = cross(a.exact, b.prefix)
	}
	if out.prefix == nil {
		if a.exact != nil && !hasEmpty(a.exact) {
			out.prefix = cut(a.exact, true)
		} else {
			out.prefix = a.prefix
		}
	}
	if b.exact != nil && a.suffix != nil {
		out.suffix = cross(a.suffix, b.exact)
	}
	if out.suffix == nil {
		if b.exact != nil && !hasEmpty(b.exact) {
			out.suffix = cut(b.exact, false)
		} else {
			out.suffix = b.suffix
		}
	}
	out.prefix, out.suffix = nonEmpty(out.prefix), nonEmpty(out.suffix)
	for _, c := range [][]string{a.inner, b.inner, nonEmpty(cross(a.suffix, b.prefix)), out.prefix, out.suffix} {
		if c != nil && (out.inner == nil || setScore(c) > setScore(out.inner)) {
			out.inner = c
		}
	}
	return out
}

func alternate(a, b litInfo) litInfo {
	a, b = match(a, b)
	out := litInfo{fold: a.fold}
	if a.exact != nil && b.exact != nil {
		if u := union(a.exact, b.exact); len(u) <= maxLiterals {
			return exactInfo(u, a.fold)
		}
	}
	either := func(x, y []string) []string {
		if x == nil || y == nil {
			return nil
		}
		if u := union(x, y); len(u) <= maxLiterals {
			return u
		}
		return nil
	}
	out.prefix, out.suffix, out.inner = either(a.prefix, b.prefix), either(a.suffix, b.suffix), either(a.inner, b.inner)
	return out
}

// setScore ranks literal sets for a contains condition: the shortest
// literal's length first, then fewer literals.
func setScore(ss []string) int {
	minLen := maxLiteralLen
	for _, s := range ss {
		minLen = min(minLen, len(s))
	}
	return minLen*1000 - len(ss)
}

func cross(a, b []string) []string {
	if a == nil || b == nil || len(a)*len(b) > maxLiterals {
		return nil
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			if len(x)+len(y) > maxLiteralLen {
				return nil
			}
			out = append(out, x+y)
		}
	}
	return dedupe(out)
}

// cut shortens texts to maxLiteralLen, keeping their start (prefix) or end.
func cut(ss []string, start bool) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if len(s) > maxLiteralLen {
			if start {
				s = s[:maxLiteralLen]
				for !utf8.ValidString(s) {
					s = s[:len(s)-1]
				}
			} else {
				s = s[len(s)-maxLiteralLen:]
				for !utf8.ValidString(s) {
					s = s[1:]
				}
			}
		}
		out[i] = s
	}
	return dedupe(out)
}

func union(a, b []string) []string { return dedupe(append(append([]string{}, a...), b...)) }

func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func hasEmpty(ss []string) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}

func nonEmpty(ss []string) []string {
	if ss == nil || hasEmpty(ss) {
		return nil
	}
	return ss
}
