// Package pyyaml reads YAML the way the reference implementation's PyYAML
// safe_load does (YAML 1.1 scalar resolution) into Go values that behave
// like the Python ones: ordered mappings, Python str() and repr(), and
// Python equality.
//
// The Go types of decoded values are: nil (None), bool, int64, *big.Int
// (ints beyond 64 bits), float64, string, Date, DateTime, []any and *Map.
// It must not know rules or modulemd: only YAML as PyYAML reads it.
package pyyaml

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Map is a mapping that keeps its keys in document order, like a Python
// dict. Keys are scalar values (usually strings).
type Map struct {
	keys []any
	vals []any // vals[i] is the value of keys[i]
	// index finds keys once there are more than smallMap of them; smaller
	// maps (nearly all of a modulemd document's) are searched in order,
	// which is faster than hashing and allocates nothing.
	index map[any]int
}

const smallMap = 8

// NewMap returns an empty Map.
func NewMap() *Map { return &Map{} }

func newMapSize(n int) *Map { return &Map{keys: make([]any, 0, n), vals: make([]any, 0, n)} }

// Set adds or replaces a key; a new key goes last.
func (m *Map) Set(k, v any) {
	k = hashKey(k)
	if i := m.find(k); i >= 0 {
		m.vals[i] = v
		return
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
	switch {
	case m.index != nil:
		m.index[k] = len(m.keys) - 1
	case len(m.keys) > smallMap:
		m.index = make(map[any]int, 2*len(m.keys))
		for i, k := range m.keys {
			m.index[k] = i
		}
	}
}

// find is the position of a key already folded by hashKey, or -1.
func (m *Map) find(k any) int {
	if m.index != nil {
		if i, ok := m.index[k]; ok {
			return i
		}
		return -1
	}
	for i, x := range m.keys {
		if x == k {
			return i
		}
	}
	return -1
}

// Get looks a key up with Python semantics for the common key types.
func (m *Map) Get(k any) (any, bool) {
	if m == nil {
		return nil, false
	}
	if i := m.find(hashKey(k)); i >= 0 {
		return m.vals[i], true
	}
	return nil, false
}

// Keys returns the keys in order. The slice must not be changed.
func (m *Map) Keys() []any {
	if m == nil {
		return nil
	}
	return m.keys
}

// Len is the number of keys.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// hashKey folds keys that Python considers equal (1, 1.0 and True) onto one
// Go map key. Unhashable keys (lists, maps) cannot occur: YAML complex keys
// are refused by the decoder.
func hashKey(k any) any {
	switch k := k.(type) {
	case bool:
		if k {
			return int64(1)
		}
		return int64(0)
	case float64:
		if k == math.Trunc(k) && math.Abs(k) < 1<<62 {
			return int64(k)
		}
	case *big.Int:
		return k.String()
	}
	return k
}

// Date is a YAML timestamp without a time: Python's datetime.date.
type Date struct {
	Year, Month, Day int
}

// DateTime is a YAML timestamp with a time: Python's datetime.datetime,
// aware when HasZone.
type DateTime struct {
	Date
	Hour, Minute, Second, Micro int
	HasZone                     bool
	// Offset is the zone's offset from UTC in seconds; Z gives UTC.
	Offset int
	UTC    bool
}

// Time converts to a Go time (UTC when the value has no zone).
func (d DateTime) Time() time.Time {
	loc := time.UTC
	if d.HasZone && !d.UTC {
		loc = time.FixedZone("", d.Offset)
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, d.Hour, d.Minute, d.Second, d.Micro*1000, loc)
}

// Str is Python's str() of a decoded value.
func Str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case Date:
		return fmt.Sprintf("%04d-%02d-%02d", v.Year, v.Month, v.Day)
	case DateTime:
		s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", v.Year, v.Month, v.Day, v.Hour, v.Minute, v.Second)
		if v.Micro != 0 {
			s += fmt.Sprintf(".%06d", v.Micro)
		}
		if v.HasZone {
			s += zoneSuffix(v.Offset)
		}
		return s
	}
	return Repr(v)
}

func zoneSuffix(off int) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	s := fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
	if off%60 != 0 {
		s += fmt.Sprintf(":%02d", off%60)
	}
	return s
}

// Repr is Python's repr() of a decoded value.
func Repr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case *big.Int:
		return v.String()
	case float64:
		return FloatRepr(v)
	case string:
		return strRepr(v)
	case Date:
		return fmt.Sprintf("datetime.date(%d, %d, %d)", v.Year, v.Month, v.Day)
	case DateTime:
		args := []string{strconv.Itoa(v.Year), strconv.Itoa(v.Month), strconv.Itoa(v.Day), strconv.Itoa(v.Hour), strconv.Itoa(v.Minute)}
		if v.Second != 0 || v.Micro != 0 {
			args = append(args, strconv.Itoa(v.Second))
		}
		if v.Micro != 0 {
			args = append(args, strconv.Itoa(v.Micro))
		}
		s := "datetime.datetime(" + strings.Join(args, ", ")
		if v.HasZone {
			s += ", tzinfo=" + tzRepr(v)
		}
		return s + ")"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = Repr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *Map:
		parts := make([]string, 0, v.Len())
		for i, k := range v.keys {
			parts = append(parts, Repr(k)+": "+Repr(v.vals[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func tzRepr(v DateTime) string {
	if v.UTC || v.Offset == 0 {
		return "datetime.timezone.utc"
	}
	days, secs := 0, v.Offset
	if secs < 0 {
		days = -1
		secs += 86400
	}
	var td []string
	if days != 0 {
		td = append(td, fmt.Sprintf("days=%d", days))
	}
	if secs != 0 {
		td = append(td, fmt.Sprintf("seconds=%d", secs))
	}
	return "datetime.timezone(datetime.timedelta(" + strings.Join(td, ", ") + "))"
}

// FloatRepr is Python's repr() of a float: the shortest digits that read
// back to the same value, in fixed notation for exponents from -4 to 15.
func FloatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	sign := ""
	if neg {
		sign = "-"
	}
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	var s string
	switch {
	case exp < 0:
		s = "0." + strings.Repeat("0", -exp-1) + digits
	case exp+1 >= len(digits):
		s = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	default:
		s = digits[:exp+1] + "." + digits[exp+1:]
	}
	return sign + s
}

func strRepr(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Not valid UTF-8: Python would hold a surrogate escape here.
			fmt.Fprintf(&b, `\udc%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// Equal is Python's == between decoded values.
func Equal(a, b any) bool {
	// Same-type scalars, the usual case, need no numeric tower.
	switch a := a.(type) {
	case bool:
		if b, ok := b.(bool); ok {
			return a == b
		}
	case int64:
		if b, ok := b.(int64); ok {
			return a == b
		}
	case string:
		b, ok := b.(string)
		return ok && a == b
	}
	if an, ok := number(a); ok {
		bn, ok := number(b)
		return ok && an.Cmp(bn) == 0
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case Date:
		bd, ok := b.(Date)
		return ok && a == bd
	case DateTime:
		bd, ok := b.(DateTime)
		if !ok || a.HasZone != bd.HasZone {
			return false
		}
		return a.Time().Equal(bd.Time())
	case []any:
		bl, ok := b.([]any)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !Equal(a[i], bl[i]) {
				return false
			}
		}
		return true
	case *Map:
		bm, ok := b.(*Map)
		if !ok || a.Len() != bm.Len() {
			return false
		}
		for i, k := range a.keys {
			j := bm.find(k)
			if j < 0 || !Equal(a.vals[i], bm.vals[j]) {
				return false
			}
		}
		return true
	}
	return false
}

// number gives bools, ints and floats one comparable form, as Python's
// numeric tower does (True == 1 == 1.0).
func number(v any) (*big.Float, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return big.NewFloat(1), true
		}
		return big.NewFloat(0), true
	case int64:
		return new(big.Float).SetInt64(v), true
	case int:
		return new(big.Float).SetInt64(int64(v)), true
	case *big.Int:
		return new(big.Float).SetInt(v), true
	case float64:
		if math.IsNaN(v) {
			return nil, false
		}
		return big.NewFloat(v), true
	}
	return nil, false
}
