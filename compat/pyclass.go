package compat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/runenames"
)

// runeSet is a set of characters as sorted, disjoint ranges.
type runeSet []runeRange

type runeRange struct{ lo, hi rune }

func (s runeSet) normalize() runeSet {
	slices.SortFunc(s, func(a, b runeRange) int { return int(a.lo - b.lo) })
	var out runeSet
	for _, r := range s {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s runeSet) complement() runeSet {
	var out runeSet
	next := rune(0)
	for _, r := range s {
		if r.lo > next {
			out = append(out, runeRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, runeRange{next, unicode.MaxRune})
	}
	return out
}

func (s runeSet) contains(c rune) bool {
	i, found := slices.BinarySearchFunc(s, c, func(r runeRange, c rune) int {
		switch {
		case r.hi < c:
			return -1
		case r.lo > c:
			return 1
		}
		return 0
	})
	_ = i
	return found
}

func tableSet(tabs ...*unicode.RangeTable) runeSet {
	var s runeSet
	for _, t := range tabs {
		for _, r := range t.R16 {
			addStrided(&s, rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
		for _, r := range t.R32 {
			addStrided(&s, rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
	}
	return s
}

func addStrided(s *runeSet, lo, hi, stride rune) {
	if stride == 1 {
		*s = append(*s, runeRange{lo, hi})
		return
	}
	for c := lo; c <= hi; c += stride {
		*s = append(*s, runeRange{c, c})
	}
}

// category is \d, \s or \w (negated for \D, \S, \W).
type category struct {
	kind    byte // 'd', 's', 'w'
	negated bool
	ascii   bool
}

// text is the category as the inside of an RE2 class, not negated.
func (c category) text() string {
	switch {
	case c.ascii && c.kind == 'd':
		return `0-9`
	case c.ascii && c.kind == 'w':
		return `0-9A-Z_a-z`
	case c.ascii:
		return `\t\n\v\f\r `
	case c.kind == 'd':
		return `\p{Nd}`
	case c.kind == 'w':
		return `\p{L}\p{N}_`
	}
	return `\t\n\v\f\r \x{1c}-\x{1f}\x{85}\p{Z}`
}

// set is the category's characters, as Python 3 decides them for a str
// pattern: \d is Unicode's decimal digits (Nd), \w letters, numbers and
// the underscore, \s str.isspace().
func (c category) set() runeSet {
	var s runeSet
	switch {
	case c.ascii && c.kind == 'd':
		s = runeSet{{'0', '9'}}
	case c.ascii && c.kind == 'w':
		s = runeSet{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	case c.ascii:
		s = runeSet{{'\t', '\r'}, {' ', ' '}}
	case c.kind == 'd':
		s = tableSet(unicode.Nd)
	case c.kind == 'w':
		s = append(tableSet(unicode.L, unicode.N), runeRange{'_', '_'})
	default:
		s = append(tableSet(unicode.Z), runeRange{'\t', '\r'}, runeRange{0x1c, 0x1f}, runeRange{0x85, 0x85})
	}
	s = s.normalize()
	if c.negated {
		s = s.complement()
	}
	return s
}

// classText writes a set as an RE2 class.
func classText(s runeSet) string {
	var b strings.Builder
	b.WriteByte('[')
	for _, r := range s {
		b.WriteString(re2Char(r.lo))
		if r.hi > r.lo {
			b.WriteByte('-')
			b.WriteString(re2Char(r.hi))
		}
	}
	if len(s) == 0 {
		// An empty class: nothing matches.
		return `[^\x{0}-\x{10ffff}]`
	}
	b.WriteByte(']')
	return b.String()
}

// re2Char is one character in RE2 syntax.
func re2Char(r rune) string {
	if r == utf8.RuneError {
		// Left as it is, so that the analyses that look for it (RE2 reads
		// invalid UTF-8 as this character) see it.
		return string(r)
	}
	if r < utf8RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
		return string(r)
	}
	return `\x{` + strconv.FormatInt(int64(r), 16) + `}`
}

const utf8RuneSelf = 0x80

// caseKey is what Python compares under IGNORECASE: two characters are
// equal when they lower to the same character or to lowercase
// characters with the same uppercase (re's _casefix table).
func caseKey(c rune, ascii bool) rune {
	if ascii {
		if c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	return unicode.ToUpper(unicode.ToLower(c))
}

// caseGroups are the characters with the same caseKey, for the keys that
// have more than one.
var caseGroups = sync.OnceValue(func() map[rune][]rune {
	all := map[rune][]rune{}
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if c >= 0xd800 && c <= 0xdfff {
			continue
		}
		if k := caseKey(c, false); k != c || unicode.ToLower(c) != c {
			all[k] = append(all[k], c)
		}
	}
	out := map[rune][]rune{}
	for k, g := range all {
		if !slices.Contains(g, k) && caseKey(k, false) == k {
			g = append(g, k)
		}
		if len(g) > 1 {
			slices.Sort(g)
			out[k] = g
		}
	}
	return out
})

// foldSet adds to s every character equal to one of its own under
// IGNORECASE.
func foldSet(s runeSet, ascii bool) runeSet {
	out := slices.Clone(s)
	if ascii {
		for c := 'A'; c <= 'Z'; c++ {
			if s.contains(c) || s.contains(c+'a'-'A') {
				out = append(out, runeRange{c, c}, runeRange{c + 'a' - 'A', c + 'a' - 'A'})
			}
		}
		return out.normalize()
	}
	for _, g := range caseGroups() {
		for _, c := range g {
			if s.contains(c) {
				for _, d := range g {
					out = append(out, runeRange{d, d})
				}
				break
			}
		}
	}
	return out.normalize()
}

// literal is one character of the pattern.
func (t *translator) literal(r rune, flags pyFlags) item {
	if flags.ignoreCase {
		s := foldSet(runeSet{{r, r}}, flags.ascii)
		if len(s) > 1 || s[0].lo != s[0].hi {
			return item{re: classText(s)}
		}
	}
	return item{re: re2Char(r)}
}

// classItem is one element of a character class.
type classItem struct {
	set runeSet
	cat *category
}

// class reads a character class after `[`, as Python does.
func (t *translator) class(start int, flags pyFlags) (item, error) {
	negate := t.match("^")
	var items []classItem
	for {
		if t.pos >= len(t.src) {
			return item{}, t.errAt(start, "unterminated character set")
		}
		thisAt := t.pos
		this, err := t.get()
		if err != nil {
			return item{}, err
		}
		if this == "]" && len(items) > 0 {
			break
		}
		var code1 classItem
		if this[0] == '\\' && len(this) > 1 {
			if code1, err = t.classEscape(this, thisAt, flags); err != nil {
				return item{}, err
			}
		} else {
			r := []rune(this)[0]
			code1 = classItem{set: runeSet{{r, r}}}
		}
		if !t.match("-") {
			items = append(items, code1)
			continue
		}
		if t.pos >= len(t.src) {
			return item{}, t.errAt(start, "unterminated character set")
		}
		thatAt := t.pos
		that, err := t.get()
		if err != nil {
			return item{}, err
		}
		if that == "]" {
			items = append(items, code1, classItem{set: runeSet{{'-', '-'}}})
			break
		}
		var code2 classItem
		if that[0] == '\\' && len(that) > 1 {
			if code2, err = t.classEscape(that, thatAt, flags); err != nil {
				return item{}, err
			}
		} else {
			r := []rune(that)[0]
			code2 = classItem{set: runeSet{{r, r}}}
		}
		if code1.cat != nil || code2.cat != nil || code2.set[0].lo < code1.set[0].lo {
			return item{}, t.errAt(thisAt, "bad character range %s-%s", string(t.src[thisAt:thatAt-1]), string(t.src[thatAt:t.pos]))
		}
		items = append(items, classItem{set: runeSet{{code1.set[0].lo, code2.set[0].lo}}})
	}
	explicit := flags.ignoreCase
	for _, it := range items {
		if it.cat != nil && it.cat.negated {
			explicit = true
		}
	}
	if explicit {
		var s runeSet
		for _, it := range items {
			if it.cat != nil {
				s = append(s, it.cat.set()...)
			} else {
				s = append(s, it.set...)
			}
		}
		s = s.normalize()
		if flags.ignoreCase {
			s = foldSet(s, flags.ascii)
		}
		if negate {
			s = s.complement()
		}
		return item{re: classText(s)}, nil
	}
	var b strings.Builder
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	for _, it := range items {
		if it.cat != nil {
			b.WriteString(it.cat.text())
			continue
		}
		b.WriteString(strings.TrimSuffix(strings.TrimPrefix(classText(it.set), "["), "]"))
	}
	b.WriteByte(']')
	return item{re: b.String()}, nil
}

// categoryItem is \d, \s, \w or a negation outside a class.
func categoryItem(c category) item {
	if c.negated {
		return item{re: "[^" + c.text() + "]"}
	}
	return item{re: "[" + c.text() + "]"}
}

var pyEscapes = map[rune]rune{'a': '\a', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}

func isOctal(r rune) bool { return r >= '0' && r <= '7' }
func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// hexEscape reads the digits of \x, \u or \U, and \N{name}; ok is false
// for other escapes.
func (t *translator) codeEscape(c rune, at int) (rune, bool, error) {
	n := map[rune]int{'x': 2, 'u': 4, 'U': 8}[c]
	if n > 0 {
		begin := t.pos
		for t.pos < len(t.src) && t.pos-begin < n && strings.ContainsRune("0123456789abcdefABCDEF", t.src[t.pos]) {
			t.pos++
		}
		digits := string(t.src[begin:t.pos])
		if len(digits) != n {
			return 0, true, t.errAt(at, "incomplete escape \\%c%s", c, digits)
		}
		v, _ := strconv.ParseUint(digits, 16, 32)
		if v > unicode.MaxRune {
			return 0, true, t.errAt(at, "bad escape \\%c%s", c, digits)
		}
		return rune(v), true, nil
	}
	if c != 'N' {
		return 0, false, nil
	}
	if !t.match("{") {
		return 0, true, t.errAt(t.pos, "missing {")
	}
	name, err := t.until('}', "character name")
	if err != nil {
		return 0, true, err
	}
	r, ok := lookupName(name)
	if !ok {
		return 0, true, t.errAt(at, "undefined character name %s", pyQuote(name))
	}
	return r, true, nil
}

// escape reads an escape outside a class.
func (t *translator) escape(tok string, at int, flags pyFlags) (item, error) {
	c := []rune(tok)[1]
	switch c {
	case 'A':
		return item{re: `\A`, at: true}, nil
	case 'Z':
		return item{re: `\z`, at: true}, nil
	case 'b', 'B':
		if !flags.ascii {
			t.unsupported(at, `\%c: Python's word boundary follows Unicode's \w, RE2's only ASCII (start the pattern with (?a) for ASCII words)`, c)
		}
		return item{re: `\` + string(c), at: true}, nil
	case 'd', 's', 'w':
		return categoryItem(category{kind: byte(c), ascii: flags.ascii}), nil
	case 'D', 'S', 'W':
		return categoryItem(category{kind: byte(unicode.ToLower(c)), negated: true, ascii: flags.ascii}), nil
	}
	if r, ok := pyEscapes[c]; ok {
		return t.literal(r, flags), nil
	}
	if r, ok, err := t.codeEscape(c, at); ok || err != nil {
		if err != nil {
			return item{}, err
		}
		return t.literal(r, flags), nil
	}
	if c == '0' {
		begin := t.pos - 1
		for t.pos < len(t.src) && t.pos-begin < 3 && isOctal(t.src[t.pos]) {
			t.pos++
		}
		v, _ := strconv.ParseUint(string(t.src[begin:t.pos]), 8, 32)
		return t.literal(rune(v), flags), nil
	}
	if isDigit(c) {
		digits := string(c)
		if t.pos < len(t.src) && isDigit(t.src[t.pos]) {
			digits += string(t.src[t.pos])
			t.pos++
			if isOctal(rune(digits[0])) && isOctal(rune(digits[1])) && t.pos < len(t.src) && isOctal(t.src[t.pos]) {
				digits += string(t.src[t.pos])
				t.pos++
				v, _ := strconv.ParseUint(digits, 8, 32)
				if v > 0o377 {
					return item{}, t.errAt(at, `octal escape value \%s outside of range 0-0o377`, digits)
				}
				return t.literal(rune(v), flags), nil
			}
		}
		g, _ := strconv.Atoi(digits)
		if g <= t.pyGroups {
			if !t.closed[g] {
				return item{}, t.errAt(at, "cannot refer to an open group")
			}
			t.unsupported(at, `back-reference \%s: RE2 has none`, digits)
			return item{re: "(?:)", group: true}, nil
		}
		return item{}, t.errAt(at+1, "invalid group reference %d", g)
	}
	if c < utf8RuneSelf && unicode.IsLetter(c) {
		return item{}, t.errAt(at, `bad escape \%c`, c)
	}
	return t.literal(c, flags), nil
}

// classEscape reads an escape inside a class.
func (t *translator) classEscape(tok string, at int, flags pyFlags) (classItem, error) {
	c := []rune(tok)[1]
	one := func(r rune) classItem { return classItem{set: runeSet{{r, r}}} }
	if c == 'b' {
		return one('\b'), nil
	}
	if r, ok := pyEscapes[c]; ok {
		return one(r), nil
	}
	switch c {
	case 'd', 's', 'w':
		return classItem{cat: &category{kind: byte(c), ascii: flags.ascii}}, nil
	case 'D', 'S', 'W':
		return classItem{cat: &category{kind: byte(unicode.ToLower(c)), negated: true, ascii: flags.ascii}}, nil
	}
	if r, ok, err := t.codeEscape(c, at); ok || err != nil {
		return one(r), err
	}
	if isOctal(c) {
		begin := t.pos - 1
		for t.pos < len(t.src) && t.pos-begin < 3 && isOctal(t.src[t.pos]) {
			t.pos++
		}
		digits := string(t.src[begin:t.pos])
		v, _ := strconv.ParseUint(digits, 8, 32)
		if v > 0o377 {
			return classItem{}, t.errAt(at, `octal escape value \%s outside of range 0-0o377`, digits)
		}
		return one(rune(v)), nil
	}
	if isDigit(c) || c < utf8RuneSelf && unicode.IsLetter(c) {
		return classItem{}, t.errAt(at, `bad escape \%c`, c)
	}
	return one(c), nil
}

// lookupName is Python's unicodedata.lookup for the names of single
// characters (case does not matter).
func lookupName(name string) (rune, bool) {
	name = strings.ToUpper(name)
	if hex, ok := strings.CutPrefix(name, "CJK UNIFIED IDEOGRAPH-"); ok {
		v, err := strconv.ParseUint(hex, 16, 32)
		if err == nil && (len(hex) == 4 || len(hex) == 5) && runenames.Name(rune(v)) == "<CJK Ideograph>" {
			return rune(v), true
		}
		return 0, false
	}
	if syl, ok := strings.CutPrefix(name, "HANGUL SYLLABLE "); ok {
		for r := rune(0xac00); r <= 0xd7a3; r++ {
			if hangulName(r) == syl {
				return r, true
			}
		}
		return 0, false
	}
	r, ok := characterNames()[name]
	return r, ok
}

// characterNames indexes the names of Unicode's characters, once: a
// lookup through every character would take milliseconds per escape.
var characterNames = sync.OnceValue(func() map[string]rune {
	m := map[string]rune{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if n := runenames.Name(r); n != "" && !strings.HasPrefix(n, "<") {
			m[n] = r
		}
	}
	return m
})

// hangulName is the algorithmic part of a Hangul syllable's name.
func hangulName(r rune) string {
	l := []string{"G", "GG", "N", "D", "DD", "R", "M", "B", "BB", "S", "SS", "", "J", "JJ", "C", "K", "T", "P", "H"}
	v := []string{"A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE", "OE", "YO", "U", "WEO", "WE", "WI", "YU", "EU", "YI", "I"}
	tt := []string{"", "G", "GG", "GS", "N", "NJ", "NH", "D", "L", "LG", "LM", "LB", "LS", "LT", "LP", "LH", "M", "B", "BS", "S", "SS", "NG", "J", "C", "K", "T", "P", "H"}
	i := int(r - 0xac00)
	return fmt.Sprint(l[i/(21*28)], v[i%(21*28)/28], tt[i%28])
}
