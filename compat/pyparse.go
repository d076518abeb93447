package compat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// PatternError is a pattern refused at a place in it: Python's re refuses
// it there too, or (Unsupported) Python accepts it and the construct there
// has no RE2 equivalent.
type PatternError struct {
	// Offset counts characters from the start of the pattern, as Python's
	// re.error.pos does.
	Offset      int
	Msg         string
	Unsupported bool
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("%s (column %d of the pattern)", e.Msg, e.Offset+1)
}

// Python's re syntax, as its parser (Lib/re/_parser.py, 3.11) reads a str
// pattern. The translation is made from the parse, construct by
// construct, so that RE2 decides as Python does or the construct is
// refused.
const (
	pyMaxRepeat  = 1<<32 - 1 // MAXREPEAT: unbounded
	re2MaxCount  = 1000      // RE2's largest repeat count
	pySpecial    = `.\[{()*+?^$|`
	pyWhitespace = " \t\n\r\v\f"
)

type pyFlags struct {
	ignoreCase, multiline, dotAll, verbose, ascii, unicode bool
}

// scope is what the enclosing groups turn on and off.
type scope struct{ add, del pyFlags }

func (s scope) with(add, del pyFlags) scope {
	return scope{add: s.add.minus(del).union(add), del: s.del.minus(add).union(del)}
}

func (f pyFlags) union(g pyFlags) pyFlags {
	return pyFlags{f.ignoreCase || g.ignoreCase, f.multiline || g.multiline, f.dotAll || g.dotAll,
		f.verbose || g.verbose, f.ascii || g.ascii, f.unicode || g.unicode}
}

func (f pyFlags) minus(g pyFlags) pyFlags {
	return pyFlags{f.ignoreCase && !g.ignoreCase, f.multiline && !g.multiline, f.dotAll && !g.dotAll,
		f.verbose && !g.verbose, f.ascii && !g.ascii, f.unicode && !g.unicode}
}

func (f pyFlags) with(add, del pyFlags) pyFlags {
	f.ignoreCase = (f.ignoreCase || add.ignoreCase) && !del.ignoreCase
	f.multiline = (f.multiline || add.multiline) && !del.multiline
	f.dotAll = (f.dotAll || add.dotAll) && !del.dotAll
	f.verbose = (f.verbose || add.verbose) && !del.verbose
	if add.ascii {
		f.ascii, f.unicode = true, false
	}
	if add.unicode {
		f.ascii, f.unicode = false, true
	}
	return f
}

// item is one parsed element of a sequence, already in RE2 syntax.
type item struct {
	re     string
	at     bool // an anchor (Python refuses to repeat one)
	repeat bool
	// empty: matches only the empty text without looking at the text
	// around (an empty group); dollarOnly: only Python `$`s.
	empty, dollarOnly bool
	// dollar is 1 + the offset of a Python `$` after which nothing may
	// consume text (its translation eats the final newline), or 0.
	dollar int
	group  bool // a non-capturing group without flags, like Python's SUBPATTERN
}

type translator struct {
	src    []rune
	pos    int
	global pyFlags
	groups int // capturing groups of the translation
	// pyGroups counts Python's groups, closed those whose `)` was read.
	pyGroups int
	closed   map[int]bool
	names    map[string]int
	// pyNames[i] is the Python name of capturing group i, "" if unnamed.
	pyNames []string
	dollars []int
	unsup   *PatternError
}

// translation is a Python pattern in RE2 syntax.
type translation struct {
	re2 string
	// names are the Python names of the capturing groups of re2 by
	// submatch index ("" for unnamed groups and group 0).
	names []string
	// dollars are the submatch indexes of the groups standing for a
	// Python `$` that consumed a final newline.
	dollars []int
}

func translate(src string) (*translation, error) {
	t := &translator{src: []rune(src), names: map[string]int{}, closed: map[int]bool{}, pyNames: []string{""}}
	re, err := t.parseSub(scope{}, 0)
	if err != nil {
		return nil, err
	}
	if t.pos < len(t.src) {
		return nil, t.errAt(t.pos, "unbalanced parenthesis")
	}
	if t.unsup != nil {
		return nil, t.unsup
	}
	return &translation{re2: re.re, names: t.pyNames, dollars: t.dollars}, nil
}

func (t *translator) errAt(off int, format string, args ...any) error {
	return &PatternError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// unsupported notes the first construct RE2 cannot express; parsing goes
// on, so that an error Python would report anywhere in the pattern wins.
func (t *translator) unsupported(off int, format string, args ...any) {
	if t.unsup == nil {
		t.unsup = &PatternError{Offset: off, Msg: fmt.Sprintf(format, args...), Unsupported: true}
	}
}

// peek returns the next token: one character, or a backslash and the
// character after it.
func (t *translator) peek() string {
	if t.pos >= len(t.src) {
		return ""
	}
	if t.src[t.pos] == '\\' && t.pos+1 < len(t.src) {
		return string(t.src[t.pos : t.pos+2])
	}
	return string(t.src[t.pos])
}

func (t *translator) get() (string, error) {
	if t.pos < len(t.src) && t.src[t.pos] == '\\' && t.pos+1 >= len(t.src) {
		return "", t.errAt(len(t.src)-1, "bad escape (end of pattern)")
	}
	tok := t.peek()
	t.pos += len([]rune(tok))
	return tok, nil
}

func (t *translator) match(tok string) bool {
	if t.peek() == tok {
		t.pos += len([]rune(tok))
		return true
	}
	return false
}

// parseSub reads an alternation.
func (t *translator) parseSub(local scope, nested int) (item, error) {
	var branches []item
	for {
		it, err := t.parse(local, nested+1, nested == 0 && len(branches) == 0)
		if err != nil {
			return item{}, err
		}
		branches = append(branches, it)
		if !t.match("|") {
			break
		}
	}
	if len(branches) == 1 {
		return branches[0], nil
	}
	out := item{empty: true, dollarOnly: true}
	parts := make([]string, len(branches))
	for i, b := range branches {
		parts[i] = b.re
		if b.dollar > 0 && out.dollar == 0 {
			out.dollar = b.dollar
		}
		out.empty = out.empty && b.empty
		out.dollarOnly = out.dollarOnly && b.dollarOnly
	}
	out.re = strings.Join(parts, "|")
	return out, nil
}

// parse reads a sequence up to `|`, `)` or the end. first is true at the
// very start of the pattern, where global flags may be set.
func (t *translator) parse(local scope, nested int, first bool) (item, error) {
	var seq []item
	for {
		tok := t.peek()
		if tok == "" || tok == "|" || tok == ")" {
			break
		}
		if t.pos < len(t.src) && t.src[t.pos] == '\\' && t.pos+1 >= len(t.src) {
			return item{}, t.errAt(len(t.src)-1, "bad escape (end of pattern)")
		}
		here := t.pos
		t.pos += len([]rune(tok))
		flags := t.global.with(local.add, local.del)
		if flags.verbose {
			if strings.Contains(pyWhitespace, tok) {
				continue
			}
			if tok == "#" {
				for t.pos < len(t.src) && t.src[t.pos] != '\n' {
					t.pos++
				}
				if t.pos < len(t.src) {
					t.pos++
				}
				continue
			}
		}
		var it item
		var err error
		switch {
		case tok[0] == '\\':
			it, err = t.escape(tok, here, flags)
		case !strings.Contains(pySpecial, tok):
			it = t.literal([]rune(tok)[0], flags)
		case tok == "[":
			it, err = t.class(here, flags)
		case tok == "*" || tok == "+" || tok == "?" || tok == "{":
			var done bool
			seq, done, err = t.repeat(tok, here, seq)
			if err == nil && !done {
				it = t.literal('{', flags)
				break
			}
			if err != nil {
				return item{}, err
			}
			continue
		case tok == ".":
			if flags.dotAll {
				it = item{re: `(?s:.)`}
			} else {
				it = item{re: `[^\n]`}
			}
		case tok == "(":
			var skip bool
			it, skip, err = t.group(here, local, nested, first && len(seq) == 0)
			if err == nil && skip {
				continue
			}
		case tok == "^":
			if flags.multiline {
				it = item{re: `(?m:^)`, at: true, empty: false}
			} else {
				it = item{re: `\A`, at: true}
			}
		case tok == "$":
			if flags.multiline {
				it = item{re: `(?m:$)`, at: true}
			} else {
				t.groups++
				t.pyNames = append(t.pyNames, "")
				t.dollars = append(t.dollars, t.groups)
				it = item{re: `(?:(\n)?\z)`, at: true, dollarOnly: true, dollar: here + 1}
			}
		}
		if err != nil {
			return item{}, err
		}
		if it.re == "" && !it.empty {
			it.empty = true
		}
		seq = append(seq, it)
	}
	return t.concat(seq)
}

// concat joins a sequence; a Python `$` followed by anything that may
// consume text is refused.
func (t *translator) concat(seq []item) (item, error) {
	out := item{empty: true, dollarOnly: true}
	var b strings.Builder
	for _, it := range seq {
		if out.dollar > 0 && !it.dollarOnly && !it.empty {
			t.unsupported(out.dollar-1, "`$` followed by more of the pattern: Python's `$` also matches before a final newline, which RE2 can only do at the end of a pattern (use \\Z for the end of the text, or (?m) for line ends)")
			out.dollar = 0
		}
		if it.dollar > 0 && out.dollar == 0 {
			out.dollar = it.dollar
		}
		out.empty = out.empty && it.empty
		out.dollarOnly = out.dollarOnly && (it.dollarOnly || it.empty)
		b.WriteString(it.re)
	}
	out.re = b.String()
	if len(seq) == 1 {
		s := seq[0]
		s.dollar = out.dollar
		return s, nil
	}
	return out, nil
}

// repeat applies a quantifier to the last item of seq. done is false for
// a `{` that is not a repeat (a literal, as in Python).
func (t *translator) repeat(tok string, here int, seq []item) ([]item, bool, error) {
	lo, hi := 0, pyMaxRepeat
	switch tok {
	case "+":
		lo = 1
	case "?":
		hi = 1
	case "{":
		if t.peek() == "}" {
			return seq, false, nil
		}
		save := t.pos
		var los, his string
		for t.pos < len(t.src) && t.src[t.pos] >= '0' && t.src[t.pos] <= '9' {
			los += string(t.src[t.pos])
			t.pos++
		}
		if t.match(",") {
			for t.pos < len(t.src) && t.src[t.pos] >= '0' && t.src[t.pos] <= '9' {
				his += string(t.src[t.pos])
				t.pos++
			}
		} else {
			his = los
		}
		if !t.match("}") {
			t.pos = save
			return seq, false, nil
		}
		if los != "" {
			n, err := strconv.ParseUint(los, 10, 64)
			if err != nil || n >= pyMaxRepeat {
				return nil, false, t.errAt(here, "the repetition number is too large")
			}
			lo = int(n)
		}
		if his != "" {
			n, err := strconv.ParseUint(his, 10, 64)
			if err != nil || n >= pyMaxRepeat {
				return nil, false, t.errAt(here, "the repetition number is too large")
			}
			hi = int(n)
			if hi < lo {
				return nil, false, t.errAt(here+1, "min repeat greater than max repeat")
			}
		}
	}
	if len(seq) == 0 || seq[len(seq)-1].at {
		return nil, false, t.errAt(here, "nothing to repeat")
	}
	last := seq[len(seq)-1]
	if last.repeat {
		return nil, false, t.errAt(here, "multiple repeat")
	}
	lazy := ""
	if t.match("?") {
		lazy = "?"
	} else if t.match("+") {
		t.unsupported(here, "possessive quantifier %s: RE2 has none", string(t.src[here:t.pos]))
	}
	if lo > re2MaxCount || (hi != pyMaxRepeat && hi > re2MaxCount) {
		t.unsupported(here, "repeat count above %d, RE2's limit", re2MaxCount)
	}
	if last.dollar > 0 && hi > 1 && !last.dollarOnly {
		t.unsupported(last.dollar-1, "`$` inside a repeated group: Python's `$` also matches before a final newline, which RE2 can only do at the end of a pattern")
	}
	var q string
	switch {
	case lo == 0 && hi == pyMaxRepeat:
		q = "*"
	case lo == 1 && hi == pyMaxRepeat:
		q = "+"
	case lo == 0 && hi == 1:
		q = "?"
	case hi == pyMaxRepeat:
		q = fmt.Sprintf("{%d,}", lo)
	case lo == hi:
		q = fmt.Sprintf("{%d}", lo)
	default:
		q = fmt.Sprintf("{%d,%d}", lo, hi)
	}
	atom := last.re
	if !last.group {
		atom = "(?:" + atom + ")"
	}
	seq[len(seq)-1] = item{re: atom + q + lazy, repeat: true, dollar: last.dollar, empty: last.empty, dollarOnly: last.dollarOnly && last.dollar > 0}
	return seq, true, nil
}

// group reads what follows `(`. skip is true for what adds nothing to
// the sequence: a comment or global flags.
func (t *translator) group(start int, local scope, nested int, first bool) (item, bool, error) {
	capture := true
	name := ""
	var add, del pyFlags
	if t.match("?") {
		if t.pos >= len(t.src) {
			return item{}, false, t.errAt(t.pos, "unexpected end of pattern")
		}
		c := t.src[t.pos]
		t.pos++
		switch {
		case c == 'P':
			switch {
			case t.match("<"):
				n, err := t.until('>', "group name")
				if err != nil {
					return item{}, false, err
				}
				if !isIdentifier(n) {
					return item{}, false, t.errAt(t.pos-len([]rune(n))-1, "bad character in group name %s", pyQuote(n))
				}
				name = n
			case t.match("="):
				n, err := t.until(')', "group name")
				if err != nil {
					return item{}, false, err
				}
				if !isIdentifier(n) {
					return item{}, false, t.errAt(t.pos-len([]rune(n))-1, "bad character in group name %s", pyQuote(n))
				}
				g, ok := t.names[n]
				if !ok {
					return item{}, false, t.errAt(t.pos-len([]rune(n))-1, "unknown group name %s", pyQuote(n))
				}
				if !t.closed[g] {
					return item{}, false, t.errAt(t.pos-len([]rune(n))-1, "cannot refer to an open group")
				}
				t.unsupported(start, "back-reference (?P=%s): RE2 has none", n)
				return item{re: "(?:)", group: true}, false, nil
			default:
				if t.pos >= len(t.src) {
					return item{}, false, t.errAt(t.pos, "unexpected end of pattern")
				}
				t.pos++
				return item{}, false, t.errAt(t.pos-3, "unknown extension ?P%c", t.src[t.pos-1])
			}
		case c == ':':
			capture = false
		case c == '#':
			for {
				if t.pos >= len(t.src) {
					return item{}, false, t.errAt(start, "missing ), unterminated comment")
				}
				t.pos++
				if t.src[t.pos-1] == ')' {
					break
				}
			}
			return item{}, true, nil
		case c == '=' || c == '!' || c == '<':
			what := map[rune]string{'=': "look-ahead (?=...)", '!': "negative look-ahead (?!...)"}[c]
			if c == '<' {
				if t.pos >= len(t.src) {
					return item{}, false, t.errAt(t.pos, "unexpected end of pattern")
				}
				d := t.src[t.pos]
				t.pos++
				if d != '=' && d != '!' {
					return item{}, false, t.errAt(t.pos-3, "unknown extension ?<%c", d)
				}
				what = map[rune]string{'=': "look-behind (?<=...)", '!': "negative look-behind (?<!...)"}[d]
			}
			// Python's own errors inside come first.
			if _, err := t.parseSub(local, nested+1); err != nil {
				return item{}, false, err
			}
			if !t.match(")") {
				return item{}, false, t.errAt(start, "missing ), unterminated subpattern")
			}
			t.unsupported(start, "%s: RE2 has no look-around", what)
			return item{re: "(?:)", group: true}, false, nil
		case c == '(':
			if err := t.conditional(start, local, nested); err != nil {
				return item{}, false, err
			}
			t.unsupported(start, "conditional group (?(...)...): RE2 has none")
			return item{re: "(?:)", group: true}, false, nil
		case c == '>':
			t.unsupported(start, "atomic group (?>...): RE2 has none")
			capture = false
		case strings.ContainsRune("aiLmsux-", c):
			a, d, global, err := t.flags(c)
			if err != nil {
				return item{}, false, err
			}
			if global {
				if !first {
					return item{}, false, t.errAt(start, "global flags not at the start of the expression")
				}
				if t.global.ascii && a.unicode || t.global.unicode && a.ascii {
					return item{}, false, &PatternError{Msg: "ASCII and UNICODE flags are incompatible"}
				}
				t.global = t.global.with(a, pyFlags{})
				return item{}, true, nil
			}
			add, del, capture = a, d, false
		default:
			return item{}, false, t.errAt(t.pos-2, "unknown extension ?%c", c)
		}
	}
	pyGroup := 0
	if capture {
		t.groups++
		t.pyGroups++
		pyGroup = t.pyGroups
		t.pyNames = append(t.pyNames, name)
		if name != "" {
			if prev, ok := t.names[name]; ok {
				return item{}, false, t.errAt(start+4, "redefinition of group name %s as group %d; was group %d", pyQuote(name), pyGroup, prev)
			}
			t.names[name] = pyGroup
		}
	}
	group := t.groups
	inner := local.with(add, del)
	sub, err := t.parseSub(inner, nested+1)
	if err != nil {
		return item{}, false, err
	}
	if !t.match(")") {
		return item{}, false, t.errAt(start, "missing ), unterminated subpattern")
	}
	t.closed[pyGroup] = true
	it := sub
	switch {
	case capture:
		open := "("
		if name != "" {
			open = "(?P<" + re2GroupName(name, group) + ">"
		}
		it.re = open + sub.re + ")"
		it.group, it.at, it.repeat = true, false, false
	default:
		it.re = "(?:" + sub.re + ")"
		it.group, it.at, it.repeat = true, false, false
	}
	return it, false, nil
}

// conditional reads the rest of (?(group)yes|no) for Python's errors.
func (t *translator) conditional(start int, local scope, nested int) error {
	name, err := t.until(')', "group name")
	if err != nil {
		return err
	}
	at := t.pos - len([]rune(name)) - 1
	if isIdentifier(name) {
		if _, ok := t.names[name]; !ok {
			return t.errAt(at, "unknown group name %s", pyQuote(name))
		}
	} else {
		g, err := strconv.Atoi(name)
		switch {
		case err != nil || g < 0:
			return t.errAt(at, "bad character in group name %s", pyQuote(name))
		case g == 0:
			return t.errAt(at, "bad group number")
		}
	}
	if _, err := t.parse(local, nested+1, false); err != nil {
		return err
	}
	if t.match("|") {
		if _, err := t.parse(local, nested+1, false); err != nil {
			return err
		}
		if t.peek() == "|" {
			return t.errAt(t.pos, "conditional backref with more than two branches")
		}
	}
	if !t.match(")") {
		return t.errAt(start, "missing ), unterminated subpattern")
	}
	return nil
}

// re2GroupName names a Python named group in the translation: its own
// name when RE2 takes it (ASCII word characters), else one starting with
// a digit, which no Python name does.
func re2GroupName(name string, group int) string {
	for _, r := range name {
		if r >= utf8RuneSelf {
			return strconv.Itoa(group) + "n"
		}
	}
	return name
}

// until reads up to a terminator, as Python's getuntil.
func (t *translator) until(term rune, what string) (string, error) {
	begin := t.pos
	for {
		if t.pos >= len(t.src) {
			if t.pos == begin {
				return "", t.errAt(t.pos, "missing %s", what)
			}
			return "", t.errAt(begin, "missing %c, unterminated name", term)
		}
		c := t.src[t.pos]
		t.pos++
		if c == term {
			if t.pos-1 == begin {
				return "", t.errAt(t.pos-1, "missing %s", what)
			}
			return string(t.src[begin : t.pos-1]), nil
		}
	}
}

// flags reads inline flags after `(?`, first c. global is true for
// `(?flags)`.
func (t *translator) flags(c rune) (add, del pyFlags, global bool, err error) {
	set := func(f *pyFlags, c rune) {
		switch c {
		case 'i':
			f.ignoreCase = true
		case 'm':
			f.multiline = true
		case 's':
			f.dotAll = true
		case 'x':
			f.verbose = true
		case 'a':
			f.ascii = true
		case 'u':
			f.unicode = true
		}
	}
	isFlag := func(c rune) bool { return strings.ContainsRune("aiLmsux", c) }
	next := func() (rune, bool) {
		if t.pos >= len(t.src) {
			return 0, false
		}
		t.pos++
		return t.src[t.pos-1], true
	}
	if c != '-' {
		for {
			if c == 'L' {
				return add, del, false, t.errAt(t.pos, "bad inline flags: cannot use 'L' flag with a str pattern")
			}
			set(&add, c)
			if add.ascii && add.unicode {
				return add, del, false, t.errAt(t.pos, "bad inline flags: flags 'a', 'u' and 'L' are incompatible")
			}
			var ok bool
			if c, ok = next(); !ok {
				return add, del, false, t.errAt(t.pos, "missing -, : or )")
			}
			if c == ')' || c == '-' || c == ':' {
				break
			}
			if !isFlag(c) {
				msg := "missing -, : or )"
				if unicode.IsLetter(c) {
					msg = "unknown flag"
				}
				return add, del, false, t.errAt(t.pos-1, "%s", msg)
			}
		}
	}
	if c == ')' {
		return add, del, true, nil
	}
	if c == '-' {
		var ok bool
		if c, ok = next(); !ok {
			return add, del, false, t.errAt(t.pos, "missing flag")
		}
		if !isFlag(c) {
			msg := "missing flag"
			if unicode.IsLetter(c) {
				msg = "unknown flag"
			}
			return add, del, false, t.errAt(t.pos-1, "%s", msg)
		}
		for {
			if c == 'a' || c == 'u' || c == 'L' {
				return add, del, false, t.errAt(t.pos, "bad inline flags: cannot turn off flags 'a', 'u' and 'L'")
			}
			set(&del, c)
			if c, ok = next(); !ok {
				return add, del, false, t.errAt(t.pos, "missing :")
			}
			if c == ':' {
				break
			}
			if !isFlag(c) {
				msg := "missing :"
				if unicode.IsLetter(c) {
					msg = "unknown flag"
				}
				return add, del, false, t.errAt(t.pos-1, "%s", msg)
			}
		}
	}
	if add.ignoreCase && del.ignoreCase || add.multiline && del.multiline || add.dotAll && del.dotAll || add.verbose && del.verbose {
		return add, del, false, t.errAt(t.pos-1, "bad inline flags: flag turned on and off")
	}
	return add, del, false, nil
}

func isIdentifier(s string) bool {
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_ID_Start, r) {
			continue
		}
		if i > 0 && (unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc) || unicode.Is(unicode.Other_ID_Continue, r)) {
			continue
		}
		return false
	}
	return s != ""
}

// pyQuote is Python's repr() of a short str, for messages.
func pyQuote(s string) string {
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}
