package compat

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/fedora-modularity/mts/policy"
)

// ErrRegex marks a rule pattern that cannot be used: invalid, or needing a
// Python regex feature RE2 lacks.
var ErrRegex = errors.New("unusable pattern")

// Pattern is a Python regular expression translated to RE2, applied with
// re.search semantics.
type Pattern struct {
	Source string // the Python pattern
	RE2    string // its translation
	// re is nil for a plain pattern: a literal test (plain, text).
	re    *regexp.Regexp
	plain plainTest
	text  string
	// names[i] is the name of submatch i for named groups, "" otherwise.
	names []string
	named bool
	// nl are the submatch indexes of the groups that stand for a Python
	// `$` consuming a final newline, with the names of the groups around
	// each `$`, whose captured text must not include that newline.
	nl []dollar
}

type dollar struct {
	group int
}

// Capture is one named group's value in one match.
type Capture = policy.Capture

// octal3 reports whether rs starts with three octal digits: Python reads
// such an escape as a character, not as a group reference.
func octal3(rs []rune) bool {
	if len(rs) < 3 {
		return false
	}
	for _, r := range rs[:3] {
		if r < '0' || r > '7' {
			return false
		}
	}
	return true
}

func firstRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// CompilePattern translates a Python `re` pattern to RE2 and compiles it.
// Features RE2 lacks (look-around, back-references, atomic groups,
// possessive quantifiers, conditionals, verbose mode) are refused.
func CompilePattern(src string) (*Pattern, error) {
	p, _, err := compilePattern(src)
	return p, err
}

// compilePattern is CompilePattern that also returns the translation's
// syntax tree (nil when it does not parse), for the literal analysis.
func compilePattern(src string) (*Pattern, *syntax.Regexp, error) {
	t, nls, err := translate(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrRegex, src, err)
	}
	parsed, err := syntax.Parse(t, syntax.Perl)
	if err == nil {
		if test, text, ok := plainForm(parsed); ok {
			return &Pattern{Source: src, RE2: t, plain: test, text: text}, parsed, nil
		}
	}
	re, err := regexp.Compile(t)
	if err != nil {
		var se interface{ Error() string }
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("%w: %q: %s", ErrRegex, src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrRegex, src, err)
	}
	p := &Pattern{Source: src, RE2: t, re: re, names: re.SubexpNames()}
	for _, n := range p.names {
		if n != "" {
			p.named = true
		}
	}
	for _, g := range nls {
		p.nl = append(p.nl, dollar{group: g})
	}
	return p, parsed, nil
}

// Named reports whether the pattern has named groups.
func (p *Pattern) Named() bool { return p.named }

// GroupNames lists the named groups in pattern order.
func (p *Pattern) GroupNames() []string {
	var out []string
	for _, n := range p.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Search is Python's re.search: whether the pattern matches anywhere in
// s, and when it has named groups, their captures in pattern order.
func (p *Pattern) Search(s string) (bool, []Capture) {
	if p.re == nil {
		return p.plain.match(s, p.text), nil
	}
	if !p.named {
		return p.re.MatchString(s), nil
	}
	loc := p.re.FindStringSubmatchIndex(s)
	if loc == nil {
		return false, nil
	}
	caps := make([]Capture, 0, len(p.names))
	for i, n := range p.names {
		if n == "" {
			continue
		}
		a, b := loc[2*i], loc[2*i+1]
		if a < 0 {
			caps = append(caps, Capture{Name: n})
			continue
		}
		for _, d := range p.nl {
			na, nb := loc[2*d.group], loc[2*d.group+1]
			// The translated `$` ate the final newline inside this group;
			// Python's `$` matches before it without consuming it.
			if na >= 0 && nb > na && na >= a && nb == b {
				b = na
			}
		}
		caps = append(caps, Capture{Name: n, Value: s[a:b], Valid: true})
	}
	return true, caps
}

// plainTest is a pattern without regex features beyond anchors.
type plainTest uint8

const (
	plainAny      plainTest = iota // .* : every text
	plainContains                  // text
	plainPrefix                    // ^text
	plainSuffix                    // text\z
	plainSuffixNL                  // text$ (Python: before a final newline too)
	plainEqual                     // ^text\z
	plainEqualNL                   // ^text$
)

func (t plainTest) match(s, text string) bool {
	switch t {
	case plainAny:
		return true
	case plainContains:
		return strings.Contains(s, text)
	case plainPrefix:
		return strings.HasPrefix(s, text)
	case plainSuffix:
		return strings.HasSuffix(s, text)
	case plainSuffixNL:
		return strings.HasSuffix(s, text) || strings.HasSuffix(s, text+"\n")
	case plainEqual:
		return s == text
	}
	return s == text || s == text+"\n"
}

// plainForm recognises a translated pattern that is a literal test: an
// optional \A, case-sensitive literal text, and an optional \z or Python
// `$` (the unnamed group `(\n)?` before \z). It keeps loading large rule
// sets from compiling a regex program for each of their names.
func plainForm(re *syntax.Regexp) (plainTest, string, bool) {
	if re.Op == syntax.OpStar && re.Sub[0].Op == syntax.OpAnyCharNotNL {
		return plainAny, "", true
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end, nl := false, false
	if n := len(subs); n > 0 && subs[n-1].Op == syntax.OpEndText {
		end = true
		subs = subs[:n-1]
		if n := len(subs); n > 0 && isNewlineGroup(subs[n-1]) {
			nl = true
			subs = subs[:n-1]
		}
	}
	if len(subs) != 1 || subs[0].Op != syntax.OpLiteral || subs[0].Flags&syntax.FoldCase != 0 {
		return 0, "", false
	}
	text := string(subs[0].Rune)
	if strings.ContainsRune(text, utf8.RuneError) {
		// RE2 also reads invalid UTF-8 in the text as U+FFFD.
		return 0, "", false
	}
	switch {
	case begin && end && nl:
		return plainEqualNL, text, true
	case begin && end:
		return plainEqual, text, true
	case begin:
		return plainPrefix, text, true
	case end && nl:
		return plainSuffixNL, text, true
	case end:
		return plainSuffix, text, true
	}
	return plainContains, text, true
}

// isNewlineGroup reports the unnamed group `(\n)?` a Python `$` becomes.
func isNewlineGroup(re *syntax.Regexp) bool {
	return re.Op == syntax.OpQuest && re.Sub[0].Op == syntax.OpCapture && re.Sub[0].Name == "" &&
		re.Sub[0].Sub[0].Op == syntax.OpLiteral && string(re.Sub[0].Sub[0].Rune) == "\n" && re.Sub[0].Sub[0].Flags&syntax.FoldCase == 0
}

// Unicode classes of Python 3 str patterns; RE2's \d, \w and \s are ASCII.
const (
	pyDigit = `\p{Nd}`
	pyWord  = `\p{L}\p{N}_`
	pySpace = `\t\n\v\f\r \x{1c}-\x{1f}\x{85}\p{Z}`
)

var leadingFlags = regexp.MustCompile(`^\(\?([aiLmsux]+)\)`)

// translate rewrites a Python pattern into RE2 syntax. It returns the
// submatch indexes of the groups added for `$`.
func translate(src string) (string, []int, error) {
	var b strings.Builder
	ascii, multiline := false, false
	// Python takes global flags from a leading (?aiLmsux) group.
	if m := leadingFlags.FindStringSubmatch(src); m != nil {
		ascii = strings.Contains(m[1], "a")
		multiline = strings.Contains(m[1], "m")
	}
	group := 0 // capturing groups opened so far
	var nls []int
	inClass := false
	classStart := 0
	rs := []rune(src)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if c == '\\' {
			if i+1 >= len(rs) {
				return "", nil, errors.New("bad escape (end of pattern)")
			}
			i++
			e := rs[i]
			switch {
			case e >= '1' && e <= '9' && !inClass && !octal3(rs[i:]):
				return "", nil, errors.New("back-references are not supported by RE2")
			case e == '0' || (e >= '1' && e <= '7' && (inClass || octal3(rs[i:]))):
				// Octal escape: up to three octal digits.
				j := i
				for j < len(rs) && j < i+3 && rs[j] >= '0' && rs[j] <= '7' {
					j++
				}
				var v int
				fmt.Sscanf(string(rs[i:j]), "%o", &v)
				fmt.Fprintf(&b, `\x{%x}`, v)
				i = j - 1
			case e == 'Z':
				if inClass {
					return "", nil, errors.New(`bad escape \Z in a character class`)
				}
				b.WriteString(`\z`)
			case e == 'A' && inClass:
				return "", nil, errors.New(`bad escape \A in a character class`)
			case e == 'b' && inClass:
				b.WriteString(`\x08`)
			case e == 'd' && !ascii:
				b.WriteString(pyDigit)
			case e == 'D' && !ascii:
				b.WriteString(`\P{Nd}`)
			case e == 'w' && !ascii:
				if inClass {
					b.WriteString(pyWord)
				} else {
					b.WriteString("[" + pyWord + "]")
				}
			case e == 's' && !ascii:
				if inClass {
					b.WriteString(pySpace)
				} else {
					b.WriteString("[" + pySpace + "]")
				}
			case (e == 'W' || e == 'S') && !ascii:
				if inClass {
					return "", nil, fmt.Errorf(`\%c inside a character class is not supported`, e)
				}
				if e == 'W' {
					b.WriteString("[^" + pyWord + "]")
				} else {
					b.WriteString("[^" + pySpace + "]")
				}
			case e == 'g' || e == 'k':
				return "", nil, fmt.Errorf(`bad escape \%c`, e)
			default:
				b.WriteRune('\\')
				b.WriteRune(e)
			}
			continue
		}
		if inClass {
			switch {
			case c == ']' && i > classStart:
				inClass = false
				b.WriteRune(c)
			case c == '[':
				// A literal '[' in Python; RE2 would read "[:" as a POSIX class.
				b.WriteString(`\[`)
			default:
				b.WriteRune(c)
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteRune(c)
			classStart = i + 1
			if i+1 < len(rs) && rs[i+1] == '^' {
				b.WriteRune('^')
				i++
				classStart = i + 1
			}
		case '(':
			if i+1 < len(rs) && rs[i+1] == '?' {
				rest := string(rs[i+2:])
				switch {
				case strings.HasPrefix(rest, "P<"), strings.HasPrefix(rest, "<") && !strings.HasPrefix(rest, "<=") && !strings.HasPrefix(rest, "<!"):
					group++
					b.WriteRune(c)
				case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"),
					strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
					return "", nil, errors.New("look-ahead and look-behind are not supported by RE2")
				case strings.HasPrefix(rest, "P="):
					return "", nil, errors.New("back-references are not supported by RE2")
				case strings.HasPrefix(rest, ">"):
					return "", nil, errors.New("atomic groups are not supported by RE2")
				case strings.HasPrefix(rest, "("):
					return "", nil, errors.New("conditional groups are not supported by RE2")
				case strings.HasPrefix(rest, "#"):
					end := strings.IndexRune(rest, ')')
					if end < 0 {
						return "", nil, errors.New("missing ), unterminated comment")
					}
					i += 2 + len([]rune(rest[:end]))
				default:
					k := strings.IndexAny(rest, ":)")
					if k < 0 || strings.Trim(rest[:k], "aiLmsux-") != "" {
						return "", nil, errors.New("unknown extension (?" + firstRunes(rest, 3))
					}
					flags := rest[:k]
					if strings.ContainsAny(flags, "xL") {
						return "", nil, fmt.Errorf("flag %q is not supported", flags)
					}
					// RE2 knows i, m and s; Python's a and u only change \d,
					// \w and \s, which are handled above.
					clean := strings.Map(func(r rune) rune {
						if r == 'a' || r == 'u' {
							return -1
						}
						return r
					}, flags)
					if rest[k] == ')' {
						if clean != "" {
							b.WriteString("(?" + clean + ")")
						}
					} else {
						b.WriteString("(?" + clean + ":")
					}
					i += 2 + k
				}
			} else {
				group++
				b.WriteRune(c)
			}
		case '$':
			if multiline {
				b.WriteRune('$')
				continue
			}
			group++
			nls = append(nls, group)
			b.WriteString(`(?:(\n)?\z)`)
		case '*', '+', '?', '}':
			b.WriteRune(c)
			if i+1 < len(rs) && rs[i+1] == '+' {
				return "", nil, errors.New("possessive quantifiers are not supported by RE2")
			}
		case '{':
			// Python reads x{,n} as x{0,n}; RE2 would take it literally.
			if i+1 < len(rs) && rs[i+1] == ',' {
				j := i + 2
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					j++
				}
				if j > i+2 && j < len(rs) && rs[j] == '}' {
					b.WriteString("{0,")
					i++
					continue
				}
			}
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	if inClass {
		return "", nil, errors.New("unterminated character set")
	}
	return b.String(), nls, nil
}
