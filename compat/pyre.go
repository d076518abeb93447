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

// CompilePattern translates a Python `re` pattern to RE2 and compiles it.
// A pattern Python refuses is refused with Python's reason; constructs
// RE2 cannot express (look-around, back-references, atomic groups,
// possessive quantifiers, conditionals, Unicode word boundaries, a `$`
// with more pattern after it, repeat counts above 1000) are refused
// naming the construct. The error is a *PatternError wrapped with
// ErrRegex.
func CompilePattern(src string) (*Pattern, error) {
	p, _, err := compilePattern(src)
	return p, err
}

// compilePattern is CompilePattern that also returns the translation's
// syntax tree (nil when it does not parse), for the literal analysis.
func compilePattern(src string) (*Pattern, *syntax.Regexp, error) {
	tr, err := translate(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrRegex, src, err)
	}
	t := tr.re2
	parsed, err := syntax.Parse(t, syntax.Perl)
	if err == nil {
		if test, text, ok := plainForm(parsed); ok {
			return &Pattern{Source: src, RE2: t, plain: test, text: text}, parsed, nil
		}
	}
	re, err := regexp.Compile(t)
	if err != nil {
		// What RE2 still refuses is a size limit of its own.
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrRegex, src,
			&PatternError{Msg: strings.TrimPrefix(err.Error(), "error parsing regexp: "), Unsupported: true})
	}
	p := &Pattern{Source: src, RE2: t, re: re, names: tr.names}
	for _, n := range p.names {
		if n != "" {
			p.named = true
		}
	}
	for _, g := range tr.dollars {
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
