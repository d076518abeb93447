package lint

import (
	"fmt"
	"math/big"
	"regexp"
	"regexp/syntax"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// dataKeys are the keys a modulemd document's data mapping can have
// (versions 1 and 2).
var dataKeys = map[string]bool{
	"name": true, "stream": true, "version": true, "context": true, "arch": true,
	"summary": true, "description": true, "servicelevels": true, "license": true,
	"xmd": true, "dependencies": true, "references": true, "profiles": true,
	"api": true, "filter": true, "buildopts": true, "components": true,
	"artifacts": true, "eol": true, "static_context": true, "demodularized": true,
	"development": true,
}

// definitionKeys are the keys of a legacy rule definition the reference
// reads.
var definitionKeys = map[string]bool{"id": true, "description": true, "type": true, "rule": true, "destinations": true}

var groupRef = regexp.MustCompile(`\\g<([^>]*)>`)

// pattern is one regular expression of a legacy rule, where it sits and
// what it is matched against.
type pattern struct {
	crit  int    // index of its criterion
	path  string // dotted key path, e.g. dependencies.requires.platform
	re    *compat.Pattern
	pos   policy.Position
	list  []*compat.Pattern // the pattern list it is an alternative of
	multi bool              // matched against the elements of a list
}

// legacyRule runs the checks of one legacy rule on its own.
func (l *linter) legacyRule(sp policy.Spec) {
	meta, ok := sp.Meta.(*compat.RuleMeta)
	if !ok {
		return
	}
	l.definition(sp, meta)
	for _, c := range meta.Ignored {
		l.add(Diagnostic{Code: CodeScratch, Severity: Warning, Pos: c.Source, RuleID: sp.ID,
			Message: "`scratch` is ignored: the rule format dropped it, so it does not restrict the rule",
			Hint:    "remove the key; scratch builds cannot be told apart by rules"})
	}
	pats := l.criteria(sp, meta)
	l.destinations(sp, meta, pats)
}

func critKey(c compat.Criterion) string { return c.Key + "\x00" + c.Spec }

func (l *linter) definition(sp policy.Spec, meta *compat.RuleMeta) {
	for k, pos := range meta.Keys {
		switch {
		case k == "build_state":
			l.add(Diagnostic{Code: CodeStrayState, Severity: Warning, Pos: pos, RuleID: sp.ID,
				Message: "build_state outside `rule` is ignored: the rule applies to state " + quote(sp.States[0]),
				Hint:    "move build_state under rule"})
		case !definitionKeys[k]:
			l.add(Diagnostic{Code: CodeUnknownKey, Severity: Warning, Pos: pos, RuleID: sp.ID,
				Message: fmt.Sprintf("unknown key %q in a rule definition is ignored", k),
				Hint:    "a rule definition has id, description, type, rule and destinations; criteria go under rule"})
		}
	}
	if meta.Type != "module" {
		l.add(Diagnostic{Code: CodeType, Severity: Warning, Pos: meta.Keys["type"], RuleID: sp.ID,
			Message: fmt.Sprintf("type is %q, not \"module\"", meta.Type),
			Hint:    "only module builds are tagged; the value is not checked, so the rule applies to module builds anyway"})
	}
}

// criteria checks every criterion and returns the rule's patterns.
func (l *linter) criteria(sp policy.Spec, meta *compat.RuleMeta) []pattern {
	var pats []pattern
	never := func(pos policy.Position, format string, args ...any) {
		l.add(Diagnostic{Code: CodeNever, Severity: Warning, Pos: pos, RuleID: sp.ID,
			Message: fmt.Sprintf(format, args...) + ", so the rule never matches",
			Hint:    "fix or remove the criterion"})
	}
	for ci, c := range meta.Criteria {
		if c.Key == "development" {
			switch c.Expected.(type) {
			case bool, int64, *big.Int:
			default:
				never(c.Source, "development is compared with the document's boolean, and %s never equals one", pyyaml.Repr(c.Expected))
			}
			continue
		}
		if !dataKeys[c.Key] {
			never(c.Source, "modulemd data has no key %q", c.Key)
		}
		switch c.Expected.(type) {
		case string, []any, *pyyaml.Map:
		default:
			never(c.Source, "%q is compared as text, and %s is not text", c.Key, pyyaml.Repr(c.Expected))
		}
		w := walker{l: l, sp: sp, crit: ci, file: sp.Source.File, never: never}
		w.walk(c.Expected, c.Node, []string{c.Key}, c.Source)
		pats = append(pats, w.pats...)
	}
	return pats
}

type walker struct {
	l     *linter
	sp    policy.Spec
	crit  int
	file  string
	pats  []pattern
	never func(policy.Position, string, ...any)
}

func (w *walker) pos(n *yaml.Node, fallback policy.Position) policy.Position {
	if n == nil || n.Line == 0 {
		return fallback
	}
	return policy.Position{File: w.file, Line: n.Line, Col: n.Column}
}

func (w *walker) walk(e any, n *yaml.Node, path []string, at policy.Position) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	at = w.pos(n, at)
	key := strings.Join(path, ".")
	multi := len(path) == 3 && path[0] == "dependencies"
	switch e := e.(type) {
	case string:
		w.pattern(e, nil, at, key, multi)
	case []any:
		if len(e) == 0 {
			w.never(at, "%s: an empty pattern list matches nothing", key)
			return
		}
		var list []*compat.Pattern
		for _, v := range e {
			if s, ok := v.(string); ok {
				if re, err := w.l.compile(s); err == nil {
					list = append(list, re)
				}
			}
		}
		for i, v := range e {
			s, ok := v.(string)
			if !ok {
				continue
			}
			var en *yaml.Node
			if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				en = n.Content[i]
			}
			w.pattern(s, list, w.pos(en, at), key, multi)
		}
	case *pyyaml.Map:
		for _, k := range e.Keys() {
			ks := pyyaml.Str(k)
			kpos := at
			var vn *yaml.Node
			if n != nil && n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == ks {
						kpos = w.pos(n.Content[i], at)
						vn = n.Content[i+1]
					}
				}
			}
			if len(path) == 1 && path[0] == "dependencies" && ks != "buildrequires" && ks != "requires" {
				w.never(kpos, "modulemd dependency blocks have only buildrequires and requires, never %q", ks)
			}
			v, _ := e.Get(k)
			w.walk(v, vn, append(append([]string{}, path...), ks), kpos)
		}
	}
}

func (w *walker) pattern(src string, list []*compat.Pattern, at policy.Position, key string, multi bool) {
	re, err := w.l.compile(src)
	if err != nil {
		return // the loader reports it
	}
	w.pats = append(w.pats, pattern{crit: w.crit, path: key, re: re, pos: at, list: list, multi: multi})
	if unanchored(src, re) {
		w.l.add(Diagnostic{Code: CodeUnanchored, Severity: Info, Pos: at, RuleID: w.sp.ID,
			Message: fmt.Sprintf("pattern %q has neither ^ nor $: it matches anywhere inside %s", src, key),
			Hint:    "patterns are searched, not matched whole: anchor them with ^ and $ unless a part of the value is meant"})
	}
	for _, g := range optionalGroups(re) {
		w.l.add(Diagnostic{Code: CodeOptionalGroup, Severity: Warning, Pos: at, RuleID: w.sp.ID,
			Message: fmt.Sprintf("named group %q of pattern %q may not take part in a match, and then the rule fails with an evaluation error", g, src),
			Hint:    "make the group itself match the empty text, e.g. (?P<x>(?:a|b)?) instead of (?P<x>a|b)?"})
	}
}

// unanchored reports a pattern with literal text and no anchor: searched
// anywhere in the value, which is rarely what was meant.
func unanchored(src string, re *compat.Pattern) bool {
	s := src
	for strings.HasPrefix(s, "(?") {
		end := strings.IndexByte(s, ')')
		if end < 0 || strings.ContainsAny(s[2:end], ":<P=!") {
			break
		}
		s = s[end+1:]
	}
	if strings.HasPrefix(s, "^") || strings.HasPrefix(s, `\A`) || strings.HasSuffix(s, "$") || strings.HasSuffix(s, `\Z`) {
		return false
	}
	parsed, err := syntax.Parse(re.RE2, syntax.Perl)
	if err != nil {
		return false
	}
	return hasLiteral(parsed)
}

func hasLiteral(re *syntax.Regexp) bool {
	if re.Op == syntax.OpLiteral || re.Op == syntax.OpCharClass {
		return true
	}
	for _, s := range re.Sub {
		if hasLiteral(s) {
			return true
		}
	}
	return false
}

// optionalGroups lists the named groups of a pattern that a match may
// leave out: under ?, * or {0,n}, or in one branch of an alternation.
func optionalGroups(p *compat.Pattern) []string {
	re, err := syntax.Parse(p.RE2, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(re *syntax.Regexp, optional bool)
	walk = func(re *syntax.Regexp, optional bool) {
		if re.Op == syntax.OpCapture && re.Name != "" && optional {
			out = append(out, re.Name)
		}
		sub := optional
		switch re.Op {
		case syntax.OpQuest, syntax.OpStar, syntax.OpAlternate:
			sub = true
		case syntax.OpRepeat:
			sub = optional || re.Min == 0
		}
		for _, s := range re.Sub {
			walk(s, sub)
		}
	}
	walk(re, false)
	return out
}

func (l *linter) destinations(sp policy.Spec, meta *compat.RuleMeta, pats []pattern) {
	where := map[string][]pattern{} // group name -> patterns capturing it, one per path
	var names []string
	for _, p := range pats {
		for _, g := range p.re.GroupNames() {
			if _, ok := where[g]; !ok {
				names = append(names, g)
			}
			seen := false
			for _, q := range where[g] {
				if q.path == p.path && q.crit == p.crit {
					seen = true
				}
			}
			if !seen || where[g] == nil {
				where[g] = append(where[g], p)
			}
		}
	}
	at := pick(sp.DestinationsPos, sp.Source)
	used := map[string]bool{}
	for _, m := range groupRef.FindAllStringSubmatch(meta.Template, -1) {
		name := m[1]
		if used[name] {
			continue
		}
		used[name] = true
		if len(where[name]) == 0 {
			l.add(Diagnostic{Code: CodeUnknownGroup, Severity: Warning, Pos: at, RuleID: sp.ID,
				Message: fmt.Sprintf("destinations use \\g<%s>, but no pattern of the rule has a group named %q: it stays literally in the tag", name, name),
				Hint:    fmt.Sprintf("add (?P<%s>...) to a pattern, or fix the group name", name)})
		}
	}
	for _, name := range names {
		ps := where[name]
		if len(ps) > 1 {
			l.add(Diagnostic{Code: CodeDuplicateDest, Severity: Warning, Pos: ps[1].pos, RuleID: sp.ID,
				Message: fmt.Sprintf("group %q is captured both by %s (line %d) and by %s: destinations are formed for every value captured, so they repeat or mix values", name, ps[0].path, ps[0].pos.Line, ps[1].path),
				Hint:    "capture each group in one place only"})
		}
		if !used[name] {
			continue
		}
		for _, p := range ps {
			if p.multi {
				l.add(Diagnostic{Code: CodeListGroup, Severity: Info, Pos: p.pos, RuleID: sp.ID,
					Message: fmt.Sprintf("group %q is matched against every element of %s (a list in modulemd v2): each matching element gives one destination", name, p.path),
					Hint:    "intended for builds for several platforms; anchor the pattern if only one element should count"})
			}
			if len(p.list) > 1 && len(ps) == 1 {
				for _, alt := range p.list {
					if !hasGroup(alt, name) {
						l.add(Diagnostic{Code: CodePartialGroup, Severity: Warning, Pos: p.pos, RuleID: sp.ID,
							Message: fmt.Sprintf("only some patterns of the %s list capture %q: when %q matches instead, \\g<%s> stays literally in the tag", p.path, name, alt.Source, name),
							Hint:    "capture the group in every alternative, or split the rule"})
						break
					}
				}
			}
		}
	}
}

func hasGroup(p *compat.Pattern, name string) bool {
	for _, g := range p.GroupNames() {
		if g == name {
			return true
		}
	}
	return false
}

// covers reports whether every state of b is one of a's.
func covers(a, b []string) bool {
	for _, s := range b {
		found := false
		for _, t := range a {
			if s == t {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// compile compiles a pattern once per set, in the library the rules were
// read with, which has compiled it already.
func (l *linter) compile(src string) (*compat.Pattern, error) { return l.library.Pattern(src) }
