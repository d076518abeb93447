package compat

import (
	"errors"
	"reflect"
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
		`(?>a)`, `a*+`, `a++`, `(?(1)a|b)`, `(?x) a`, `(`, `[a`, `\`, `a**`} {
		if _, err := CompilePattern(p); !errors.Is(err, ErrRegex) {
			t.Errorf("CompilePattern(%q) = %v, want ErrRegex", p, err)
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		ok              bool
	}{
		{`^javapackages-tools$`, "javapackages-tools", true},
		{`^nodejs\.`, "nodejs.", true},
		{`^abc?`, "ab", true},
		{`^(a|b)`, "", false},
		{`-ursamajor$`, "", false},
		{`(?i)^abc`, "", false},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := p.LiteralPrefix()
		if got != tt.prefix || ok != tt.ok {
			t.Errorf("LiteralPrefix(%q) = %q, %v; want %q, %v", tt.pattern, got, ok, tt.prefix, tt.ok)
		}
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
		if pre, has := p.LiteralPrefix(); has && ok && len(subject) >= len(pre) && subject[:len(pre)] != pre {
			t.Fatalf("%q matched %q without its literal prefix %q", pattern, subject, pre)
		}
	})
}
