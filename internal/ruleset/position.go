package ruleset

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	yamlv4 "go.yaml.in/yaml/v4"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// SyntaxPos is where the YAML error err of data (named name) is: the line
// and column of the problem itself, as PyYAML marks it. yaml.v3 reports
// only a line, and for many errors the line where the construct that
// fails began; go.yaml.in/yaml/v4 keeps the problem's mark, so the place
// is taken from it.
func SyntaxPos(name string, data []byte, err error) policy.Position {
	p := policy.Position{File: name}
	var pe *pyyaml.Error
	if errors.As(err, &pe) {
		p.Line, p.Col = pe.Line, pe.Col
		return p
	}
	var n yamlv4.Node
	var le *yamlv4.LoadError
	if errors.As(yamlv4.Unmarshal(data, &n), &le) && le.Mark.Line > 0 {
		p.Line, p.Col = le.Mark.Line, le.Mark.Column
		return p
	}
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &p.Line)
	}
	return p
}

// SyntaxMessage is the text of a YAML error without the line yaml.v3
// puts in it, which SyntaxPos gives exactly.
func SyntaxMessage(err error) string {
	return lineInMessage.ReplaceAllString(err.Error(), "")
}

var lineInMessage = regexp.MustCompile(`line \d+: `)

// scalarLocator maps places in the text of the scalar n (a CEL
// expression) back to the file, whatever the scalar's style. It is nil
// when n is not a scalar.
func scalarLocator(file string, data []byte, n *yaml.Node) policy.Locator {
	if n == nil || n.Kind != yaml.ScalarNode || n.Line == 0 {
		return nil
	}
	return &locator{file: file, data: data, line: n.Line, col: n.Column, style: n.Style, value: n.Value}
}

type locator struct {
	file      string
	data      []byte
	line, col int
	style     yaml.Style
	value     string
}

// Locate maps a 1-based line and column of the expression's text.
func (l *locator) Locate(line, col int) (policy.Position, bool) {
	places, ok := l.places()
	if !ok {
		return policy.Position{}, false
	}
	off := 0
	for i, s := range strings.SplitAfter(l.value, "\n") {
		if i == line-1 {
			off += col - 1
			break
		}
		off += utf8.RuneCountInString(s)
	}
	switch {
	case off < 0:
		return policy.Position{}, false
	case off < len(places):
		return places[off], true
	case len(places) > 0:
		// Past the end, as in "unexpected end of input".
		p := places[len(places)-1]
		p.Col++
		return p, true
	}
	return policy.Position{}, false
}

// src is the file as lines of runes, read from a place on.
type src struct {
	lines [][]rune
	line  int // 0-based
	col   int // 0-based, in runes
}

func (s *src) eof() bool { return s.line >= len(s.lines) }

func (s *src) peek(k int) rune {
	if s.eof() {
		return 0
	}
	l := s.lines[s.line]
	if s.col+k < len(l) {
		return l[s.col+k]
	}
	if s.col+k == len(l) {
		return '\n'
	}
	return 0
}

func (s *src) next() {
	if s.col >= len(s.lines[s.line]) {
		s.line++
		s.col = 0
		return
	}
	s.col++
}

// places gives, for every rune of the value, where in the file it comes
// from, by reading the scalar again as its style says. ok is false when
// that reading does not give the value back (a form it does not know),
// and the caller falls back to the scalar's own position.
func (l *locator) places() (out []policy.Position, ok bool) {
	var lines [][]rune
	for _, t := range strings.Split(string(l.data), "\n") {
		lines = append(lines, []rune(strings.TrimSuffix(t, "\r")))
	}
	if l.line-1 >= len(lines) {
		return nil, false
	}
	s := &src{lines: lines, line: l.line - 1, col: l.col - 1}
	want := []rune(l.value)
	at := func() policy.Position { return policy.Position{File: l.file, Line: s.line + 1, Col: s.col + 1} }
	emit := func(r rune, p policy.Position) bool {
		if len(out) >= len(want) || want[len(out)] != r {
			return false
		}
		out = append(out, p)
		return true
	}
	switch l.style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		ok = l.block(s, emit)
	default:
		ok = l.flow(s, emit, at)
	}
	return out, ok && len(out) == len(want)
}

// flow reads a plain, single- or double-quoted scalar: line breaks fold
// into a space (or into n-1 newlines for n breaks), and quotes have their
// escapes.
func (l *locator) flow(s *src, emit func(rune, policy.Position) bool, at func() policy.Position) bool {
	quote := rune(0)
	switch l.style {
	case yaml.SingleQuotedStyle:
		quote = '\''
	case yaml.DoubleQuotedStyle:
		quote = '"'
	}
	if quote != 0 {
		if s.peek(0) != quote {
			return false
		}
		s.next()
	}
	n := len([]rune(l.value))
	for count := 0; count < n; {
		if s.eof() {
			return false
		}
		// A run of blanks up to a line break is folding, not content.
		k := 0
		for s.peek(k) == ' ' || s.peek(k) == '\t' {
			k++
		}
		if s.peek(k) == '\n' {
			p := at()
			breaks := 0
			for !s.eof() && (s.peek(0) == ' ' || s.peek(0) == '\t' || s.peek(0) == '\n') {
				if s.peek(0) == '\n' {
					breaks++
					if s.line+1 >= len(s.lines) {
						return false
					}
				}
				s.next()
			}
			if breaks == 1 {
				if !emit(' ', p) {
					return false
				}
				count++
			}
			for i := 1; i < breaks; i++ {
				if !emit('\n', p) {
					return false
				}
				count++
			}
			continue
		}
		p := at()
		c := s.peek(0)
		switch {
		case quote == '\'' && c == '\'' && s.peek(1) == '\'':
			s.next()
			s.next()
		case quote == '"' && c == '\\':
			if s.peek(1) == '\n' {
				// An escaped line break joins the lines.
				s.next()
				s.next()
				for s.peek(0) == ' ' || s.peek(0) == '\t' {
					s.next()
				}
				continue
			}
			width := map[rune]int{'x': 4, 'u': 6, 'U': 10}[s.peek(1)]
			if width == 0 {
				width = 2
			}
			for i := 0; i < width; i++ {
				s.next()
			}
			// The escape gives one character, whatever it is.
			c = []rune(l.value)[count]
		default:
			s.next()
		}
		if !emit(c, p) {
			return false
		}
		count++
	}
	return true
}

// block reads a literal (|) or folded (>) scalar from its header on: the
// content lines have their indentation removed; in the folded style a line
// break between two lines of text that are not more indented is a space.
func (l *locator) block(s *src, emit func(rune, policy.Position) bool) bool {
	header := string(s.lines[s.line][s.col:])
	if strings.ContainsAny(header, "123456789") {
		// An explicit indentation indicator: not read here.
		return false
	}
	first := s.line + 1
	indent := -1
	for i := first; i < len(s.lines); i++ {
		t := string(s.lines[i])
		if strings.TrimSpace(t) == "" {
			continue
		}
		indent = len(t) - len(strings.TrimLeft(t, " "))
		break
	}
	if indent <= 0 {
		return false
	}
	folded := l.style == yaml.FoldedStyle
	n := len([]rune(l.value))
	count := 0
	prevText := false // the previous line was text, not more indented
	pendingBreak := false
	var breakAt policy.Position
	blank := 0
	for i := first; i < len(s.lines) && count < n; i++ {
		line := s.lines[i]
		t := string(line)
		if strings.TrimSpace(t) == "" {
			if pendingBreak || count > 0 {
				blank++
			}
			continue
		}
		if len(t)-len(strings.TrimLeft(t, " ")) < indent {
			break
		}
		more := line[indent] == ' ' || line[indent] == '\t'
		if pendingBreak {
			switch {
			case folded && prevText && !more && blank == 0:
				if !emit(' ', breakAt) {
					return false
				}
				count++
			case folded && prevText && !more:
				// The first break is dropped; each blank line is one.
			default:
				if !emit('\n', breakAt) {
					return false
				}
				count++
			}
			for ; blank > 0 && count < n; blank-- {
				if !emit('\n', breakAt) {
					return false
				}
				count++
			}
		}
		blank = 0
		for j := indent; j < len(line) && count < n; j++ {
			if !emit(line[j], policy.Position{File: l.file, Line: i + 1, Col: j + 1}) {
				return false
			}
			count++
		}
		pendingBreak = true
		breakAt = policy.Position{File: l.file, Line: i + 1, Col: len(line) + 1}
		prevText = !more
	}
	// A final line break kept by the chomping.
	if count < n && pendingBreak {
		for count < n {
			if !emit('\n', breakAt) {
				return false
			}
			count++
		}
	}
	return true
}
