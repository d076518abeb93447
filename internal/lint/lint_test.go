package lint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/rulegen"
)

func codes(t *testing.T, src string, opts Options) []string {
	t.Helper()
	ds, err := File(context.Background(), "r.yaml", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.Code)
	}
	return out
}

func TestAnalyses(t *testing.T) {
	rule := func(id, body string) string {
		return fmt.Sprintf("- id: %s\n  type: module\n%s", id, body)
	}
	tests := []struct {
		name string
		src  string
		want []string // codes expected
		not  []string // codes that must not appear
	}{
		{"clean", rule("a", "  rule: {name: '^a$'}\n  destinations: t\n"), nil, []string{"MTS2", "MTS1", "MTS3"}},
		{"scratch", rule("a", "  rule: {name: '^a$', scratch: no}\n  destinations: t\n"), []string{CodeScratch}, []string{CodeCatchAll}},
		{"scratch only", rule("a", "  rule: {scratch: yes}\n  destinations: t\n") + rule("b", "  rule: {name: '^b$'}\n  destinations: t\n"),
			[]string{CodeScratch, CodeCatchAll, CodeUnreachable}, nil},
		{"deliberate fallback last", rule("a", "  rule: {name: '^a$'}\n  destinations: t\n") + rule("b", "  destinations: t\n"),
			nil, []string{CodeCatchAll, CodeUnreachable}},
		{"other state not shadowed", rule("a", "  destinations: t\n") + rule("b", "  rule: {build_state: done}\n  destinations: t\n"),
			nil, []string{CodeUnreachable}},
		{"identical", rule("a", "  rule: {name: '^a$'}\n  destinations: t\n") + rule("b", "  rule: {name: '^a$'}\n  destinations: u\n"),
			[]string{CodeDuplicate}, []string{CodeShadowed}},
		{"subset", rule("a", "  rule: {name: '^a$'}\n  destinations: t\n") + rule("b", "  rule: {name: '^a$', stream: '^1$'}\n  destinations: u\n"),
			[]string{CodeShadowed}, nil},
		{"superset first is fine", rule("b", "  rule: {name: '^a$', stream: '^1$'}\n  destinations: u\n") + rule("a", "  rule: {name: '^a$'}\n  destinations: t\n"),
			nil, []string{CodeShadowed, CodeDuplicate}},
		{"unknown data key", rule("a", "  rule: {nmae: '^a$'}\n  destinations: t\n"), []string{CodeNever}, nil},
		{"runtime", rule("a", "  rule: {dependencies: {runtime: {platform: '^f$'}}}\n  destinations: t\n"), []string{CodeNever}, nil},
		{"requires", rule("a", "  rule: {dependencies: {requires: {platform: '^f$'}}}\n  destinations: t\n"), nil, []string{CodeNever}},
		{"empty list", rule("a", "  rule: {name: []}\n  destinations: t\n"), []string{CodeNever}, nil},
		{"int at top level", rule("a", "  rule: {version: 1}\n  destinations: t\n"), []string{CodeNever}, nil},
		{"int in a list", rule("a", "  rule: {version: [1]}\n  destinations: t\n"), nil, []string{CodeNever}},
		{"development quoted", rule("a", "  rule: {development: 'yes'}\n  destinations: t\n"), []string{CodeNever}, nil},
		{"development bool", rule("a", "  rule: {development: yes}\n  destinations: t\n"), nil, []string{CodeNever}},
		{"unknown group", rule("a", "  rule: {name: '^(?P<x>a)$'}\n  destinations: '\\g<y>'\n"), []string{CodeUnknownGroup}, nil},
		{"known group", rule("a", "  rule: {name: '^(?P<x>a)$'}\n  destinations: '\\g<x>'\n"), nil, []string{CodeUnknownGroup, CodeOptionalGroup}},
		{"optional group ?", rule("a", "  rule: {name: '^(?P<x>a)?$'}\n  destinations: '\\g<x>'\n"), []string{CodeOptionalGroup}, nil},
		{"optional group *", rule("a", "  rule: {name: '^(?:(?P<x>a)b)*$'}\n  destinations: '\\g<x>'\n"), []string{CodeOptionalGroup}, nil},
		{"optional group {0,2}", rule("a", "  rule: {name: '^(?P<x>a){0,2}$'}\n  destinations: '\\g<x>'\n"), []string{CodeOptionalGroup}, nil},
		{"group in alternation", rule("a", "  rule: {name: '^(?:(?P<x>a)|b)$'}\n  destinations: '\\g<x>'\n"), []string{CodeOptionalGroup}, nil},
		{"group around alternation", rule("a", "  rule: {name: '^(?P<x>a|b)$'}\n  destinations: '\\g<x>'\n"), nil, []string{CodeOptionalGroup}},
		{"group under +", rule("a", "  rule: {name: '^(?P<x>a)+$'}\n  destinations: '\\g<x>'\n"), nil, []string{CodeOptionalGroup}},
		{"partial group", rule("a", "  rule: {name: ['^(?P<x>a)$', '^b$']}\n  destinations: '\\g<x>'\n"), []string{CodePartialGroup}, nil},
		{"group twice", rule("a", "  rule: {name: '^(?P<x>a)$', stream: '^(?P<x>1)$'}\n  destinations: '\\g<x>'\n"), []string{CodeDuplicateDest}, nil},
		{"list group", rule("a", "  rule: {dependencies: {requires: {platform: '^(?P<p>f\\d+)$'}}}\n  destinations: '\\g<p>'\n"), []string{CodeListGroup}, nil},
		{"stray state", rule("a", "  build_state: done\n  destinations: t\n"), []string{CodeStrayState}, nil},
		{"unknown key", rule("a", "  destination: t\n  destinations: t\n"), []string{CodeUnknownKey}, nil},
		{"type", "- id: a\n  type: rpm\n  destinations: t\n", []string{CodeType}, nil},
		{"duplicate id", rule("a", "  rule: {name: '^a$'}\n  destinations: t\n") + rule("a", "  rule: {name: '^b$'}\n  destinations: t\n"), []string{CodeDuplicateID}, nil},
		{"unanchored", rule("a", "  rule: {stream: 'f\\d+'}\n  destinations: t\n"), []string{CodeUnanchored}, nil},
		{"match anything", rule("a", "  rule: {stream: '.*'}\n  destinations: t\n"), nil, []string{CodeUnanchored}},
		{"anchored with flags", rule("a", "  rule: {stream: '(?i)^f\\d+'}\n  destinations: t\n"), nil, []string{CodeUnanchored}},
		{"syntax", "- id: [", []string{CodeSyntax}, nil},
		{"refused", "- id: a\n", []string{CodeLoad}, nil},
		{"pattern", rule("a", "  rule: {name: '(?=a)'}\n  destinations: t\n"), []string{CodePattern}, []string{CodeLoad}},
		{"cel compile", "format: cel\nrules:\n- id: a\n  match: nope\n  destinations: '\"t\"'\n", []string{CodeCEL}, nil},
		{"cel refused", "format: cel\nrules:\n- id: a\n  match: 'true'\n", []string{CodeLoad}, []string{CodeCEL}},
		{"cel duplicate", "format: cel\nrules:\n- id: a\n  match: build.name == 'a'\n  destinations: '\"t\"'\n- id: b\n  match: build.name == 'a'\n  destinations: '\"u\"'\n", []string{CodeDuplicate}, nil},
		{"cel true is a catch-all", "format: cel\nrules:\n- id: a\n  match: 'true'\n  destinations: '\"t\"'\n- id: b\n  match: build.name == 'a'\n  destinations: '\"u\"'\n", []string{CodeUnreachable}, nil},
		{"cel other state", "format: cel\nrules:\n- id: a\n  destinations: '\"t\"'\n- id: b\n  state: done\n  destinations: '\"u\"'\n", nil, []string{CodeUnreachable}},
		{"cel cost", "format: cel\nrules:\n- id: a\n  match: data.components.rpms.all(a, data.components.rpms.all(b, data.components.rpms.all(c, a != c)))\n  destinations: '\"t\"'\n", []string{CodeCost}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(t, tt.src, Options{})
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("want %s, got %v", w, got)
				}
			}
			for _, n := range tt.not {
				for _, g := range got {
					if strings.HasPrefix(g, n) {
						t.Errorf("want no %s, got %v", n, got)
					}
				}
			}
		})
	}
}

func TestCodesDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Codes() {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		want := map[byte]Severity{'1': Error, '2': Warning, '3': Info}[c.Code[3]]
		if c.Severity != want {
			t.Errorf("%s has severity %s, want %s", c.Code, c.Severity, want)
		}
	}
	if len(seen) != 28 {
		t.Errorf("%d codes, want 28", len(seen))
	}
}

type fakeTags map[string]bool

func (f fakeTags) TagExists(_ context.Context, tag string) (bool, error) { return f[tag], nil }

func TestKojiTags(t *testing.T) {
	src := "- id: a\n  type: module\n  rule: {name: '^a$'}\n  destinations: present\n" +
		"- id: b\n  type: module\n  rule: {name: '^b$'}\n  destinations: missing\n" +
		"- id: c\n  type: module\n  rule: {name: '^(?P<x>c)$'}\n  destinations: '\\g<x>-tag'\n"
	ds, err := File(context.Background(), "r.yaml", []byte(src), Options{Tags: fakeTags{"present": true}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		if d.Code == CodeKojiTag {
			got = append(got, d.RuleID)
		}
	}
	if !slices.Equal(got, []string{"b"}) {
		t.Errorf("missing tags reported for rules %v, want [b]", got)
	}
	cel := "format: cel\nrules:\n- id: a\n  match: build.name == 'a'\n  destinations: '[\"present\", \"gone\"]'\n- id: b\n  destinations: 'build.name + \"-x\"'\n"
	ds, err = File(context.Background(), "r.yaml", []byte(cel), Options{Tags: fakeTags{"present": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Code != CodeKojiTag || !strings.Contains(ds[0].Message, `"gone"`) {
		t.Errorf("got %+v, want one MTS105 for gone", ds)
	}
}

func FuzzFile(f *testing.F) {
	f.Add([]byte("- id: a\n  type: module\n  rule: {name: '^(?P<x>a)?$', scratch: yes}\n  destinations: '\\g<x>'\n"))
	f.Add([]byte("format: cel\nrules:\n- id: a\n  match: build.name == 'a'\n  destinations: '\"t\"'\n"))
	f.Add([]byte("- id: a\n  type: module\n  rule: {dependencies: {runtime: {p: []}}}\n  destinations: t\n"))
	f.Add([]byte("- &a {id: a, type: module, destinations: t, rule: {name: *a}}"))
	f.Add([]byte("format: cel\non: build.tag\nrules:\n- {id: a, match: \"event.tag == 'x'\", destinations: \"'y'\", untag: \"['x']\"}\n- {id: b, match: \"event.tag in ['y']\", destinations: \"'x' + build.name\"}\n"))
	f.Add([]byte("format: cel\non: [build.complete, module.state.change]\nrules:\n- {id: a, state: ready, untag: \"'t'\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := File(ctx, "f.yaml", data, Options{}); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkLint lints generated mixed sets; besides wall time it reports
// the process's CPU time per run, steadier on a shared machine.
func BenchmarkLint(b *testing.B) {
	mix, _ := rulegen.MixNamed("mixed")
	for _, n := range []int{10000, 100000} {
		data := rulegen.Generate(1, n, mix).YAML
		b.Run(fmt.Sprintf("mixed-%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				if _, err := File(context.Background(), "bench.yaml", data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
