package compat

import (
	"errors"
	"reflect"
	"regexp"
	"testing"
)

func TestPatternSearch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		match            bool
		caps             map[string]string
	}{
		{`^f\d+$`, "f29", true, nil},
		{`^f\d+$`, "f29\n", true, nil},
		{`^f\d+$`, "f29\n\n", false, nil},
		{`^f\d+\Z`, "f29\n", false, nil},
		{`^(?P<p>f\d+)$`, "f29\n", true, map[string]string{"p": "f29"}},
		{`^(?P<p>f\d+$)`, "f29\n", true, map[string]string{"p": "f29"}},
		{`(?P<p>\d+)`, "el8.2", true, map[string]string{"p": "8"}},
		{`^x{,2}$`, "xx", true, nil},
		{`^x{,2}$`, "xxx", false, nil},
		{`(?i)^FOO`, "foo", true, nil},
		{`(?a)^\d$`, "٣", false, nil},
		{`^\d$`, "٣", true, nil},
		{`^\w+$`, "héllo", true, nil},
		{`^\s$`, "\v", true, nil},
		{`[[]`, "[", true, nil},
		{`^a(?#comment)b$`, "ab", true, nil},
		{`^\x41\101$`, "AA", true, nil},
		{`^\x41\0$`, "A\x00", true, nil},
		{`(?m)^b$`, "a\nb\nc", true, nil},
		{`^a.c$`, "a\nc", false, nil},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern)
		if err != nil {
			t.Errorf("CompilePattern(%q): %v", tt.pattern, err)
			continue
		}
		ok, caps := p.Search(tt.subject)
		if ok != tt.match {
			t.Errorf("%q on %q: match %v, want %v (RE2 %q)", tt.pattern, tt.subject, ok, tt.match, p.RE2)
			continue
		}
		got := map[string]string{}
		for _, c := range caps {
			got[c.Name] = c.Value
		}
		if tt.caps != nil && !reflect.DeepEqual(got, tt.caps) {
			t.Errorf("%q on %q: captures %v, want %v", tt.pattern, tt.subject, got, tt.caps)
		}
	}
}

func TestPatternRefused(t *testing.T) {
	for _, p := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(a)\1`, `(?P<x>a)(?P=x)`,
		`(?>a)`, `a*+`, `a++`, `(?(1)a|b)`, `(`, `[a`, `\`, `a**`} {
		if _, err := CompilePattern(p); !errors.Is(err, ErrRegex) {
			t.Errorf("CompilePattern(%q) = %v, want ErrRegex", p, err)
		}
	}
}

// TestPlainPatterns: patterns that are a literal test are matched without
// the regex engine, with the same results.
func TestPlainPatterns(t *testing.T) {
	patterns := []string{`^perl$`, `^perl`, `-ursamajor$`, `erl`, `.*`, `^perl\Z`, `\Aperl`, `perl\Z`, `(?i)^perl$`, `^a.b$`, `^(?P<x>a)$`}
	subjects := []string{"perl", "perl\n", "perl\n\n", "xperl", "perlx", "PERL", "a-ursamajor", "a-ursamajor\n", "", "\n", "ab"}
	plain := 0
	for _, src := range patterns {
		p, err := CompilePattern(src)
		if err != nil {
			t.Fatal(err)
		}
		if p.re == nil {
			plain++
		}
		re := regexp.MustCompile(p.RE2)
		for _, s := range subjects {
			if ok, _ := p.Search(s); ok != re.MatchString(s) {
				t.Errorf("%q on %q: %v, the regex engine says %v", src, s, ok, !ok)
			}
		}
	}
	if plain < 7 {
		t.Errorf("only %d patterns matched without the regex engine", plain)
	}
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{`^(?P<p>f\d+)$`, `a{,3}`, `[\d\w-]`, `(?i:x)$`, `\Z`, `(?#c)`, `[[]`, `\0`} {
		f.Add(s, "f29\n")
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		p, err := CompilePattern(pattern)
		if err != nil {
			return
		}
		ok, caps := p.Search(subject)
		for _, c := range caps {
			if !ok || len(c.Value) > len(subject) {
				t.Fatalf("%q on %q: capture %+v", pattern, subject, c)
			}
		}
		if re := regexp.MustCompile(p.RE2); ok != re.MatchString(subject) {
			t.Fatalf("%q on %q: %v, the regex engine says %v", pattern, subject, ok, !ok)
		}
	})
}
