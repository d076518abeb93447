package compat

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// pythonReScript compiles each pattern with Python's re and searches every
// subject, writing per pattern either Python's error and its position or,
// per subject, null (no match) or the match's groupdict.
const pythonReScript = `import json, re, sys
req = json.load(sys.stdin)
out = []
for p in req["patterns"]:
    try:
        c = re.compile(p)
    except re.error as e:
        out.append({"error": e.msg, "pos": e.pos})
        continue
    except (ValueError, OverflowError) as e:
        out.append({"error": str(e), "pos": None})
        continue
    res = []
    for s in req["subjects"]:
        m = c.search(s)
        res.append(None if m is None else m.groupdict())
    out.append({"results": res})
json.dump(out, sys.stdout)
`

type pyReResult struct {
	Error   *string              `json:"error"`
	Pos     *int                 `json:"pos"`
	Results []map[string]*string `json:"results"`
}

// unsupportedPatterns are valid Python that RE2 cannot express: each must
// be refused as such, naming the construct.
var unsupportedPatterns = map[string]bool{
	`a(?=b)`: true, `a(?!b)`: true, `(?<=a)b`: true, `(?<!a)b`: true,
	`(a)\1`: true, `(?P<x>a)(?P=x)`: true, `(?>a)`: true,
	`a*+`: true, `a++`: true, `a?+`: true, `a{1,2}+`: true, `(a)(?(1)b|c)`: true,
	`\bfoo`: true, `foo\B`: true, `a{1001}`: true, `a{2,1001}`: true,
	`a$b`: true, `a$\n`: true, `(a$)+`: true, `a$\Z`: true, `(?:a$|b)c`: true,
}

// TestPatternsAgainstPython is the differential test of the translation:
// every construct of Python's regular expression syntax, compiled by
// Python's own re and by CompilePattern, searched in the same texts.
// Where Python refuses a pattern, so do we, at the same column; where it
// accepts one, we decide as it does for every text, or (RE2 lacking the
// construct) refuse it naming the construct.
func TestPatternsAgainstPython(t *testing.T) {
	patterns := []string{
		// literals and escapes outside classes
		`abc`, `a.c`, `^f29$`, `f29`, `\.`, `\-`, `\@`, `\ `, `\a\f\n\r\t\v`, `\\`, `\x41`, `\x4`, `\x4g`,
		`\u00e9`, `\u00E9t`, `\u00e`, `\U0001F600`, `\U00110000`, `\U0001F60`, `\N{LATIN SMALL LETTER E WITH ACUTE}`,
		`\N{latin small letter e with acute}`, `\N{EM DASH}`, `\N{NO SUCH NAME}`, `\N{}`, `\N`, `\N{LATIN`,
		`\N{CJK UNIFIED IDEOGRAPH-4E00}`, `\N{HANGUL SYLLABLE GA}`,
		`\0`, `\01`, `\012`, `\0123`, `\101`, `\400`, `\377`, `\8`, `\18`, `\q`, `\Q`, `\é`, `\`, `a\`,
		`\1`, `(a)\1`, `(a)\2`, `(a\1)`, `\A`, `\Z`, `\Aab\Z`, `a\Z`,
		// classes
		`[abc]`, `[^abc]`, `[a-z]`, `[z-a]`, `[]a]`, `[^]a]`, `[a-]`, `[-a]`, `[a\-z]`, `[[]`, `[[:alpha:]]`, `[a`, `[`, `[]`, `[^]`,
		`[\d]`, `[\D]`, `[\w-]`, `[\w-z]`, `[a-\d]`, `[\s\S]`, `[\W\d]`, `[^\W]`, `[^\s\S]`, `[\b]`, `[\A]`, `[\Z]`, `[\B]`,
		`[\0]`, `[\1]`, `[\8]`, `[\141]`, `[\477]`, `[\x41-\x43]`, `[\u00e9]`, `[\N{EM DASH}]`, `[\q]`, `[\.]`, `[é-ë]`,
		`[.]`, `[$^]`, `[|]`, `[\]]`, `[a-a]`, `[--/]`, `[&&]`, `[\n]`,
		// categories
		`\d`, `^\d+$`, `\D`, `\w+`, `^\w+$`, `\W`, `\s`, `\S`, `(?a)\d`, `(?a)^\w+$`, `(?a)\s`, `(?a)[\s]`, `(?a)\W`,
		`(?u)\w`, `(?a:\w)\w`, `\bfoo`, `foo\B`, `(?a)\bfoo\b`, `(?a)\Bo`,
		// repeats
		`a*`, `a+`, `a?`, `a*?`, `a+?`, `a??`, `a{2}`, `a{2,}`, `a{,2}`, `^a{,2}$`, `a{2,3}`, `a{2,3}?`, `a{,}`, `a{}`, `a{`, `a{1`, `a{1,`,
		`a{x}`, `a{3,2}`, `{2}`, `x{2}{3}`, `a**`, `a*?+`, `*a`, `+`, `?`, `^*`, `$+`, `\A*`, `\b*`, `(?:)*`, `()+`, `(?:a*)*`, `(a*)*b`,
		`(a|)*c`, `(a*)+`, `a{1001}`, `a{2,1001}`, `a{1000}`, `a{99999999999}`, `a*+`, `a++`, `a?+`, `a{1,2}+`,
		// groups
		`(a)(b)`, `(?P<x>a)`, `(?P<x>a)|(?P<y>b)`, `(?P<x>a)?b`, `(?P<é>a)`, `(?P<1>a)`, `(?P<x y>a)`, `(?P<x>a)(?P<x>b)`, `(?P<>a)`,
		`(?P<x`, `(?P<x>a`, `(?<x>a)`, `(?P=x)`, `(?P<x>a)(?P=x)`, `(?Px)`, `(?P`, `(?:ab)+`, `(?`, `(?#comment)a`, `a(?#c`, `a(?#c)*`,
		`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(?<a)`, `(?>a)`, `(a)(?(1)b|c)`, `(?(x)a)`, `(?z)`, `(a`, `a)`, `)`, `((a)`, `(?:a|b|)`,
		`a|b`, `|`, `a||b`, `(a|b)c`,
		// flags
		`(?i)abc`, `(?i)K`, `(?i)k`, `(?i)s`, `(?i)ſ`, `(?i)i`, `(?i)I`, `(?i)ı`, `(?i)İ`, `(?i)µ`, `(?i)ß`, `(?i)σ`, `(?i)[a-z]+`,
		`(?i)[^k]`, `(?i)[k]`, `(?ai)k`, `(?ai)[a-z]`, `(?i:a)b`, `a(?i)b`, `(?i)(?m)^b$`, `(?im)^b$`, `(?m)^b$`, `(?m)a$`, `(?s)a.b`, `a.b`,
		`(?s:a.)b.`, `(?-i:a)`, `(?i:a(?-i:b))`, `(?i-i:a)`, `(?-:a)`, `(?i`, `(?L)a`, `(?au)a`, `(?a)(?u)a`, `(?-a:a)`, `(?q)a`, `(?i-q:a)`,
		`(?x) a b # comment`, `(?x)a\ b`, `(?x)[ ]a`, `(?x:a b) c`, `(?x)a{1, 2}`, `(?x)a #c\n b`, `a(?x)`, `(?#c)(?i)a`,
		// anchors and Python's $
		`^`, `$`, `^$`, `a$`, `(?P<p>f\d+)$`, `^(?P<p>f\d+$)`, `a$$`, `a$b`, `a$\n`, `(a$)+`, `(a$)?`, `a$\Z`, `(?:a$|b)c`, `(?:a$|b)`, `a$(?#c)`,
		`a$()`,
	}
	subjects := []string{"", "a", "b", "c", "ab", "abc", "ABC", "aab", "aaa", "aaaa", "a.c", "a\nb", "a\nb\n", "ac", "bc", "cab",
		"f29", "f29\n", "f29\n\n", "F29", "x\ny", "\n", "é", "É", "ét", "e\u0301", "٣", "1", "12", "K", "k", "K", "ſ", "s", "S",
		"İ", "ı", "i", "I", "µ", "μ", "Μ", "ß", "ẞ", "σ", "ς", "Σ", "\v", "\x1c", "\u00a0", "\u2028", "_", "-", "a-b", "foo", "foo bar",
		"a foo", "xfoo", "fooo", "[", "]", "{", "}", "a{", "a{}", "a{1", "a{x}", "{2}", "\\", ".", "$", "^", "|", "&", "/", "\x00", "\x01",
		"\n", "\x08", "😀", "\t", "—", "一", "가", "a b", "ab c", "a\n", "a b c", "\r\n", "x", "xx", "xxx", "-z", "z", "0", "9", "a\n\n", "b\n"}
	var answers []pyReResult
	testenv.PythonJSON(t, pythonReScript, map[string]any{"patterns": patterns, "subjects": subjects}, &answers)
	if len(answers) != len(patterns) {
		t.Fatalf("python answered %d patterns of %d", len(answers), len(patterns))
	}
	agreed := 0
	for i, src := range patterns {
		py := answers[i]
		p, err := CompilePattern(src)
		var pe *PatternError
		if err != nil && (!errors.Is(err, ErrRegex) || !errors.As(err, &pe)) {
			t.Errorf("%q: error %v is not a PatternError", src, err)
			continue
		}
		switch {
		case py.Error != nil:
			if err == nil {
				t.Errorf("%q: Python refuses it (%s), we accept it (RE2 %q)", src, *py.Error, p.RE2)
			} else if pe.Unsupported {
				t.Errorf("%q: Python refuses it (%s), we call it unsupported: %v", src, *py.Error, err)
			} else if py.Pos != nil && *py.Pos != pe.Offset {
				t.Errorf("%q: Python refuses it at %d (%s), we at %d: %v", src, *py.Pos, *py.Error, pe.Offset, err)
			}
		case err != nil:
			if !pe.Unsupported || !unsupportedPatterns[src] {
				t.Errorf("%q: Python accepts it, we refuse it: %v", src, err)
			}
		default:
			if unsupportedPatterns[src] {
				t.Errorf("%q: accepted (RE2 %q), expected refused", src, p.RE2)
			}
			for j, s := range subjects {
				ok, caps := p.Search(s)
				want := py.Results[j]
				if ok != (want != nil) {
					t.Errorf("%q on %q: match %v, Python says %v (RE2 %q)", src, s, ok, want != nil, p.RE2)
					continue
				}
				got := map[string]*string{}
				for _, c := range caps {
					if c.Valid {
						v := c.Value
						got[c.Name] = &v
					} else {
						got[c.Name] = nil
					}
				}
				if ok && !sameGroups(got, want) {
					t.Errorf("%q on %q: groups %s, Python says %s (RE2 %q)", src, s, groupsText(got), groupsText(want), p.RE2)
				}
			}
			agreed++
		}
	}
	for src := range unsupportedPatterns {
		found := false
		for _, p := range patterns {
			found = found || p == src
		}
		if !found {
			t.Errorf("unsupported pattern %q is not among the tested ones", src)
		}
	}
	if agreed < len(patterns)/2 {
		t.Errorf("only %d of %d patterns compared on texts", agreed, len(patterns))
	}
}

func sameGroups(a, b map[string]*string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || (v == nil) != (w == nil) || (v != nil && *v != *w) {
			return false
		}
	}
	return true
}

func groupsText(m map[string]*string) string {
	b, _ := json.Marshal(m)
	return string(b)
}
