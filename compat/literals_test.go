package compat

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/policy"
)

func litText(ls []policy.Literal) string {
	if ls == nil {
		return "none"
	}
	kinds := [...]string{"exact", "prefix", "suffix", "contains"}
	var parts []string
	for _, l := range ls {
		t := fmt.Sprintf("%q", l.Text)
		if l.Fold {
			t = "fold " + t
		}
		parts = append(parts, t)
	}
	slices.Sort(parts)
	return kinds[ls[0].Kind] + " " + strings.Join(parts, " ")
}

func TestLiterals(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{`^perl$`, `exact "perl" "perl\n"`},
		{`^perl`, `prefix "perl"`},
		{`-ursamajor$`, `suffix "-ursamajor" "-ursamajor\n"`},
		{`addons`, `contains "addons"`},
		{`^(nodejs|python3)$`, `exact "nodejs" "nodejs\n" "python3" "python3\n"`},
		{`^perl(-compat)?$`, `exact "perl" "perl-compat" "perl-compat\n" "perl\n"`},
		{`^el[67]$`, `exact "el6" "el6\n" "el7" "el7\n"`},
		{`^(?P<platform>f\d+)$`, `prefix "f"`},
		{`^foo-\d+$`, `prefix "foo-"`},
		{`^el(?P<elrel>\d+\.\d+\.\d+)(?:\.z)?$`, `prefix "el"`},
		{`(?i)^Perl$`, `exact fold "PERL" fold "PERL\n"`},
		{`^f\d+-candidate\Z`, `suffix "-candidate"`},
		{`\Aperl\d`, `prefix "perl"`},
		{`x\d+javapackages`, `contains "javapackages"`},
		{`^(?:abc|xyz\d)`, `prefix "abc" "xyz"`},
		{`.*`, `none`},
		{`^.*$`, `none`},
		{`^(?P<release>\d{2})\d{14}$`, `none`},
		{`^[0-9a-f]{8}$`, `none`},
		{`(?m)^perl$`, `contains "perl"`},
		{`^a|b$`, `contains "a" "b" "b\n"`},
		{`^perl|^ruby`, `contains "perl" "ruby"`},
	}
	for _, tc := range tests {
		p, err := CompilePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := litText(p.Literals()); got != tc.want {
			t.Errorf("Literals(%q) = %s, want %s", tc.pattern, got, tc.want)
		}
	}
}

// TestLiteralsAreNecessary: whenever a pattern matches a text, the text
// has one of the pattern's literals as the literal's kind says.
func TestLiteralsAreNecessary(t *testing.T) {
	patterns := []string{`^perl$`, `^perl`, `-addons$`, `erl-1`, `^(nodejs|python3)$`, `(?i)^perl-dbi$`,
		`(?i)kelvin`, `^el[67]$`, `^f3\d$`, `^(?P<p>f\d+)$`, `(?i)^s`, `^perl(-compat)?$`, `a(b|c)d`,
		`^(?:x|y)+z$`, `^ab{2,3}c`, `(?s)^a.b$`, `^é(?i:tÉ)$`, `\Afoo\Z`, `^(?:foo|bar)baz$`, `(?:ab|cd)(?:ef|gh)`}
	texts := []string{"perl", "perl\n", "perl-1", "perl-addons", "perl-addons\n", "xperl", "nodejs", "python3\n",
		"PERL-DBI", "perl-dbi", "KELVIN", "\u212aelvin", "el6", "el7\n", "el8", "f31", "f39", "f3x", "s", "S", "\u017f",
		"perl-compat", "abd", "acd", "xyz", "yxz", "abbc", "abbbc", "a\nb", "été", "ÉTÉ", "foo", "foo\n", "barbaz",
		"foobaz\n", "abgh", "cdef", "", "\n"}
	for _, src := range patterns {
		p, err := CompilePattern(src)
		if err != nil {
			t.Fatal(err)
		}
		lits := p.Literals()
		for _, text := range texts {
			ok, _ := p.Search(text)
			if !ok || lits == nil {
				continue
			}
			if !holds(lits, text) {
				t.Errorf("%q matches %q, but none of %s holds", src, text, litText(lits))
			}
		}
	}
}

func holds(lits []policy.Literal, v string) bool {
	for _, l := range lits {
		s := v
		if l.Fold {
			s = policy.FoldString(v)
		}
		switch {
		case l.Kind == policy.Exact && s == l.Text,
			l.Kind == policy.Prefix && strings.HasPrefix(s, l.Text),
			l.Kind == policy.Suffix && strings.HasSuffix(s, l.Text),
			l.Kind == policy.Contains && strings.Contains(s, l.Text):
			return true
		}
	}
	return false
}

// FuzzLiterals checks the literal analysis against the regex engine on
// arbitrary patterns and texts.
func FuzzLiterals(f *testing.F) {
	f.Add(`^perl(-compat)?$`, "perl-compat")
	f.Add(`(?i)^k`, "\u212a")
	f.Add(`a(b|c)+d$`, "xacbd\n")
	f.Fuzz(func(t *testing.T, src, text string) {
		if len(src) > 200 {
			return
		}
		p, err := CompilePattern(src)
		if err != nil {
			return
		}
		lits := p.Literals()
		if ok, _ := p.Search(text); ok && lits != nil && !holds(lits, text) {
			t.Fatalf("%q matches %q, but none of %s holds", src, text, litText(lits))
		}
	})
}
