package pyyaml

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"yes", true}, {"No", false}, {"ON", true}, {"off", false}, {"y", "y"}, {"n", "n"},
		{"~", nil}, {"null", nil}, {"Null", nil}, {"", nil},
		{"010", int64(8)}, {"0b101", int64(5)}, {"0x1F", int64(31)}, {"1_000", int64(1000)},
		{"1:20", int64(80)}, {"-1:20", int64(-80)}, {"00000000", int64(0)}, {"09", "09"},
		{"8.10", 8.1}, {"1.", 1.0}, {"1.5e+3", 1500.0}, {"1e5", "1e5"}, {"1.5e3", "1.5e3"}, {".5", 0.5},
		{"1:30.5", 90.5}, {"c2c572ec", "c2c572ec"}, {"20180101000000", int64(20180101000000)},
		{"2019-06-01", Date{2019, 6, 1}},
		{"2001-12-14 21:59:43.10 -5", DateTime{Date: Date{2001, 12, 14}, Hour: 21, Minute: 59, Second: 43, Micro: 100000, HasZone: true, Offset: -5 * 3600}},
		{"f29", "f29"}, {"8", int64(8)}, {"-", "-"}, {"+", "+"}, {".", "."},
	}
	for _, tt := range tests {
		got := Resolve(tt.in)
		if !Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Resolve(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if _, isStr := tt.want.(string); isStr {
			if _, ok := got.(string); !ok {
				t.Errorf("Resolve(%q) = %#v, want the string", tt.in, got)
			}
		}
	}
	if v := Resolve("99999999999999999999"); v.(*big.Int).String() != "99999999999999999999" {
		t.Errorf("big int = %v", v)
	}
	if v := Resolve(".inf").(float64); !math.IsInf(v, 1) {
		t.Errorf(".inf = %v", v)
	}
}

func TestStrAndRepr(t *testing.T) {
	m := NewMap()
	m.Set("b", []any{"x", int64(1), true, nil})
	m.Set("a", 8.1)
	tests := []struct {
		in        any
		str, repr string
	}{
		{8.1, "8.1", "8.1"},
		{1e16, "1e+16", "1e+16"},
		{1500.0, "1500.0", "1500.0"},
		{1.5e-5, "1.5e-05", "1.5e-05"},
		{0.0001, "0.0001", "0.0001"},
		{math.Copysign(0, -1), "-0.0", "-0.0"},
		{math.Inf(-1), "-inf", "-inf"},
		{true, "True", "True"},
		{nil, "None", "None"},
		{"it's", "it's", `"it's"`},
		{"a\nb", "a\nb", `'a\nb'`},
		{m, "{'b': ['x', 1, True, None], 'a': 8.1}", "{'b': ['x', 1, True, None], 'a': 8.1}"},
		{Date{2019, 6, 1}, "2019-06-01", "datetime.date(2019, 6, 1)"},
		{DateTime{Date: Date{2001, 12, 14}, Hour: 21, Minute: 59, Second: 43, Micro: 100000, HasZone: true, Offset: -5 * 3600},
			"2001-12-14 21:59:43.100000-05:00",
			"datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))"},
	}
	for _, tt := range tests {
		if got := Str(tt.in); got != tt.str {
			t.Errorf("Str(%#v) = %q, want %q", tt.in, got, tt.str)
		}
		if got := Repr(tt.in); got != tt.repr {
			t.Errorf("Repr(%#v) = %q, want %q", tt.in, got, tt.repr)
		}
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{true, int64(1), true}, {int64(1), 1.0, true}, {false, int64(0), true}, {false, nil, false},
		{"1", int64(1), false}, {math.NaN(), math.NaN(), false}, {[]any{int64(1)}, []any{true}, true},
		{Date{2019, 1, 1}, "2019-01-01", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v", tt.a, tt.b, got)
		}
	}
}

func TestLoadKeepsOrderAndMerges(t *testing.T) {
	v, err := Load([]byte("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  a: yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v.(*Map).Get("m")
	if got := Repr(m); got != "{'x': 1, 'y': 3, 'a': True}" {
		t.Fatalf("merged mapping = %s", got)
	}
}

// TestMapKeys: keys Python takes as equal are one key, and a later value
// replaces an earlier one in place, in small mappings and in large ones.
func TestMapKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want string
	}{
		{"small", "{1: a, b: x, 1.0: c, true: d, b: y}", "{1: 'd', 'b': 'y'}"},
		{"large", "{k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9, k10: 10, 1: a, k2: two, 1.0: b, true: c, k10: ten}",
			"{'k1': 1, 'k2': 'two', 'k3': 3, 'k4': 4, 'k5': 5, 'k6': 6, 'k7': 7, 'k8': 8, 'k9': 9, 'k10': 'ten', 1: 'c'}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Load([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			m := v.(*Map)
			if got := Repr(m); got != tc.want {
				t.Fatalf("Repr = %s, want %s", got, tc.want)
			}
			for _, k := range []any{"k9", "b"} {
				if _, ok := m.Get(k); ok != strings.Contains(tc.want, "'"+k.(string)+"'") {
					t.Errorf("Get(%q) found %v", k, ok)
				}
			}
			if got, _ := m.Get(true); got != "c" && got != "d" {
				t.Errorf("Get(True) = %v", got)
			}
			again, _ := Load([]byte(tc.doc))
			if !Equal(m, again) {
				t.Errorf("a mapping is not equal to itself read again")
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, in := range []string{"!!python/object:os.system x", "[a, b", "a: &x [*x]"} {
		if _, err := Load([]byte(in)); err == nil {
			t.Errorf("Load(%q) accepted", in)
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{"a: 1", "- [010, 8.10, yes, 2019-01-01]", "x: &a [1]\ny: *a", "{1: 2, true: 3}", "a: !!str 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Load(data)
		if err != nil {
			return
		}
		// Whatever loads can be printed and compared without panicking.
		_ = Str(v)
		_ = Equal(v, v)
	})
}

// TestPlainDecimal: the fast path for decimal integers gives what the
// YAML 1.1 integer resolution gives, and leaves everything else to it.
func TestPlainDecimal(t *testing.T) {
	for _, s := range []string{"0", "7", "10", "3120191115180204", "999999999999999999", "9999999999999999999", "010", "00", "1_000", "-1", "+1", "12a", ""} {
		n, ok := plainDecimal(s)
		if !ok {
			continue
		}
		if want := parseInt(s); !reInt.MatchString(s) || want != any(n) {
			t.Errorf("plainDecimal(%q) = %d, YAML 1.1 gives %v", s, n, want)
		}
	}
	for _, s := range []string{"010", "1_000", "9999999999999999999", "-1"} {
		if _, ok := plainDecimal(s); ok {
			t.Errorf("plainDecimal(%q) took a number that is not plain decimal", s)
		}
	}
}
