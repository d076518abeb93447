package pyyaml

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds nesting so hostile documents cannot exhaust the stack.
const maxDepth = 200

// maxAliasExpansion bounds the values created through aliases (the
// "billion laughs" document).
const maxAliasExpansion = 100_000

// Error is a problem at a place in a YAML document.
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// ErrSyntax wraps YAML syntax errors.
var ErrSyntax = errors.New("YAML syntax error")

// Parse reads one YAML document into a node tree (for positions) without
// resolving scalars. An empty document gives a nil node.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	if err := uniqueAnchors(doc.Content[0], map[string]bool{}, 0); err != nil {
		return nil, err
	}
	return doc.Content[0], nil
}

// uniqueAnchors refuses an anchor defined twice, as PyYAML's composer
// does (yaml.v3 lets the second one win).
func uniqueAnchors(n *yaml.Node, seen map[string]bool, depth int) error {
	if depth > maxDepth {
		return &Error{n.Line, n.Column, "document nested too deeply"}
	}
	if n.Anchor != "" && n.Kind != yaml.AliasNode {
		if seen[n.Anchor] {
			return &Error{n.Line, n.Column, fmt.Sprintf("found duplicate anchor %q", n.Anchor)}
		}
		seen[n.Anchor] = true
	}
	for _, c := range n.Content {
		if err := uniqueAnchors(c, seen, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// Load parses a document and decodes it, as PyYAML safe_load would.
func Load(data []byte) (any, error) {
	n, err := Parse(data)
	if err != nil || n == nil {
		return nil, err
	}
	return Decode(n)
}

// Decode converts a node to Python-like values with YAML 1.1 resolution.
func Decode(n *yaml.Node) (any, error) {
	d := decoder{}
	return d.decode(n, 0)
}

type decoder struct {
	aliasValues int
}

func (d *decoder) decode(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &Error{n.Line, n.Column, "document nested too deeply"}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.decode(n.Content[0], depth+1)
	case yaml.AliasNode:
		d.aliasValues++
		if d.aliasValues > maxAliasExpansion {
			return nil, &Error{n.Line, n.Column, "too many alias expansions"}
		}
		return d.decode(n.Alias, depth+1)
	case yaml.ScalarNode:
		v, err := Scalar(n)
		if err != nil {
			return nil, &Error{n.Line, n.Column, err.Error()}
		}
		return v, nil
	case yaml.SequenceNode:
		if err := collectionTag(n, "!!seq"); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.decode(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if err := collectionTag(n, "!!map"); err != nil {
			return nil, err
		}
		m := newMapSize(len(n.Content) / 2)
		if err := d.mapping(m, n, depth); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, &Error{n.Line, n.Column, "unsupported YAML node"}
}

func (d *decoder) mapping(m *Map, n *yaml.Node, depth int) error {
	entries, _, err := Entries(n)
	if err != nil {
		return err
	}
	for _, e := range entries {
		k, err := d.decode(e.Key, depth+1)
		if err != nil {
			return err
		}
		v, err := d.decode(e.Value, depth+1)
		if err != nil {
			return err
		}
		m.Set(k, v)
	}
	return nil
}

// collectionTag refuses an explicit tag on a list or mapping that is not
// its own: safe_load refuses the tags it has no constructor for, and the
// sets and ordered pairs it has would need Python types of their own.
func collectionTag(n *yaml.Node, own string) error {
	if n.Style&yaml.TaggedStyle == 0 || n.Tag == own || n.Tag == "tag:yaml.org,2002:"+own[2:] {
		return nil
	}
	switch n.Tag {
	case "!!set", "!!omap", "!!pairs":
		return &Error{n.Line, n.Column, fmt.Sprintf("tag %s is not supported: rules and documents use plain lists and mappings", n.Tag)}
	}
	return &Error{n.Line, n.Column, fmt.Sprintf("tag %s is not allowed here (safe_load refuses it)", n.Tag)}
}

// Entry is one key of a mapping and its value.
type Entry struct {
	Key, Value *yaml.Node
	// Merged is true for an entry that came through a merge key (<<).
	Merged bool
}

// Entries are the keys and values of the mapping n as safe_load builds
// its dict: the entries of merge keys (<<) first, in PyYAML's order (of a
// list of mappings, the last one's first, so that earlier ones win),
// then the mapping's own; a key met again replaces the value and keeps
// its first place. repeated are the keys the mapping itself gives more
// than once (a merge overridden by an explicit key is not one).
func Entries(n *yaml.Node) (entries []Entry, repeated []*yaml.Node, err error) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil, &Error{n.Line, n.Column, "expected a mapping"}
	}
	flat, err := flatten(n, 0)
	if err != nil {
		return nil, nil, err
	}
	index := NewMap()
	own := NewMap()
	for _, e := range flat {
		for e.Key.Kind == yaml.AliasNode {
			e.Key = e.Key.Alias
		}
		if e.Key.Kind != yaml.ScalarNode {
			return nil, nil, &Error{e.Key.Line, e.Key.Column, "found unhashable key: mapping keys must be scalars"}
		}
		k, err := Scalar(e.Key)
		if err != nil {
			return nil, nil, &Error{e.Key.Line, e.Key.Column, err.Error()}
		}
		if !e.Merged {
			if _, seen := own.Get(k); seen {
				repeated = append(repeated, e.Key)
			}
			own.Set(k, true)
		}
		if i, seen := index.Get(k); seen {
			entries[i.(int)].Value = e.Value
			entries[i.(int)].Merged = e.Merged
			continue
		}
		index.Set(k, len(entries))
		entries = append(entries, e)
	}
	return entries, repeated, nil
}

// flatten is PyYAML's flatten_mapping: the pairs of n with its merge keys
// replaced by the pairs they merge, put first.
func flatten(n *yaml.Node, depth int) ([]Entry, error) {
	if depth > maxDepth {
		return nil, &Error{n.Line, n.Column, "merge keys nested too deeply"}
	}
	var merged, own []Entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !(k.Kind == yaml.ScalarNode && k.Tag == "!!merge") {
			own = append(own, Entry{Key: k, Value: v})
			continue
		}
		for v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.MappingNode:
			sub, err := flatten(v, depth+1)
			if err != nil {
				return nil, err
			}
			merged = append(merged, sub...)
		case yaml.SequenceNode:
			var subs [][]Entry
			for _, c := range v.Content {
				for c.Kind == yaml.AliasNode {
					c = c.Alias
				}
				if c.Kind != yaml.MappingNode {
					return nil, &Error{c.Line, c.Column, "expected a mapping for merging"}
				}
				sub, err := flatten(c, depth+1)
				if err != nil {
					return nil, err
				}
				subs = append(subs, sub)
			}
			for i := len(subs) - 1; i >= 0; i-- {
				merged = append(merged, subs[i]...)
			}
		default:
			return nil, &Error{v.Line, v.Column, "expected a mapping or list of mappings for merging"}
		}
	}
	for i := range merged {
		merged[i].Merged = true
	}
	return append(merged, own...), nil
}

var (
	reInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reTime  = regexp.MustCompile(`^(?:([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)$`)
)

// Scalar resolves one scalar node. Quoted and block scalars are strings;
// plain scalars follow YAML 1.1 (PyYAML's implicit resolvers); explicit
// standard tags are honoured.
func Scalar(n *yaml.Node) (any, error) {
	tag := ""
	if n.Style&yaml.TaggedStyle != 0 {
		tag = n.Tag
	}
	if tag == "" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value, nil
	}
	switch tag {
	case "":
		return Resolve(n.Value), nil
	case "!!str", "tag:yaml.org,2002:str":
		return n.Value, nil
	case "!!null", "tag:yaml.org,2002:null":
		return nil, nil
	case "!!bool", "tag:yaml.org,2002:bool":
		if v, ok := resolveBool(n.Value); ok {
			return v, nil
		}
	case "!!int", "tag:yaml.org,2002:int":
		if reInt.MatchString(n.Value) {
			return parseInt(n.Value), nil
		}
	case "!!float", "tag:yaml.org,2002:float":
		if reFloat.MatchString(n.Value) {
			return parseFloat(n.Value), nil
		}
		if reInt.MatchString(n.Value) {
			return toFloat(parseInt(n.Value)), nil
		}
		// PyYAML ends with Python's float(), which reads more forms.
		clean := strings.ToLower(strings.ReplaceAll(n.Value, "_", ""))
		if f, err := strconv.ParseFloat(clean, 64); err == nil && !strings.ContainsAny(clean, "xp") {
			return f, nil
		}
	case "!!timestamp", "tag:yaml.org,2002:timestamp":
		if v, ok := parseTime(n.Value); ok {
			return v, nil
		}
	case "!!binary", "tag:yaml.org,2002:binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		if err == nil {
			return string(b), nil
		}
	default:
		return nil, fmt.Errorf("tag %s is not allowed (safe_load refuses it)", n.Tag)
	}
	return nil, fmt.Errorf("cannot read %q as %s", n.Value, tag)
}

// Resolve gives the value of a plain scalar under YAML 1.1.
func Resolve(s string) any {
	if s == "" {
		return nil
	}
	switch c := s[0]; {
	case strings.IndexByte("yYnNtTfFoO", c) >= 0:
		if v, ok := resolveBool(s); ok {
			return v
		}
		if s == "null" || s == "Null" || s == "NULL" {
			return nil
		}
	case c == '~':
		if s == "~" {
			return nil
		}
	case strings.IndexByte("-+0123456789.", c) >= 0:
		if n, ok := plainDecimal(s); ok {
			return n
		}
		if reInt.MatchString(s) {
			return parseInt(s)
		}
		if reFloat.MatchString(s) {
			return parseFloat(s)
		}
		if v, ok := parseTime(s); ok {
			return v
		}
	}
	return s
}

// bools are the YAML 1.1 booleans, looked up without the regex engine:
// every plain scalar of a document starting with one of their letters
// goes through here.
var bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "no": false, "No": false, "NO": false,
	"true": true, "True": true, "TRUE": true, "false": false, "False": false, "FALSE": false,
	"on": true, "On": true, "ON": true, "off": false, "Off": false, "OFF": false,
}

func resolveBool(s string) (bool, bool) {
	v, ok := bools[s]
	return v, ok
}

// plainDecimal reads the commonest number of a document (a version, an
// id) without the regex engine or big integers: digits only, no leading
// zero (octal), within int64.
func plainDecimal(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseInt(s string) any {
	s = strings.ReplaceAll(s, "_", "")
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v *big.Int
	switch {
	case s == "0":
		v = big.NewInt(0)
	case strings.HasPrefix(s, "0b"):
		v, _ = new(big.Int).SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		v, _ = new(big.Int).SetString(s[2:], 16)
	case s[0] == '0':
		v, _ = new(big.Int).SetString(s[1:], 8)
	case strings.Contains(s, ":"):
		v = big.NewInt(0)
		for _, part := range strings.Split(s, ":") {
			p, _ := strconv.ParseInt(part, 10, 64)
			v.Mul(v, big.NewInt(60))
			v.Add(v, big.NewInt(p))
		}
	default:
		v, _ = new(big.Int).SetString(s, 10)
	}
	if v == nil { // "0b_" and the like: digits were all separators
		v = big.NewInt(0)
	}
	if neg {
		v.Neg(v)
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case *big.Int:
		f, _ := new(big.Float).SetInt(v).Float64()
		return f
	}
	return 0
}

func parseFloat(s string) float64 {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch s {
	case ".inf":
		return sign * math.Inf(1)
	case ".nan":
		return math.NaN()
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		v := 0.0
		for i, part := range parts {
			p, _ := strconv.ParseFloat(part, 64)
			if i < len(parts)-1 {
				v = (v + p) * 60
			} else {
				v += p
			}
		}
		return sign * v
	}
	// The resolver's pattern admitted s, so Go reads it too ("1.", ".5").
	f, _ := strconv.ParseFloat(s, 64)
	return sign * f
}

func parseTime(s string) (any, bool) {
	m := reTime.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	if m[1] != "" {
		return Date{atoi(m[1]), atoi(m[2]), atoi(m[3])}, true
	}
	dt := DateTime{Date: Date{atoi(m[4]), atoi(m[5]), atoi(m[6])}, Hour: atoi(m[7]), Minute: atoi(m[8]), Second: atoi(m[9])}
	if frac := m[10]; frac != "" {
		frac = (frac + "000000")[:6]
		dt.Micro = atoi(frac)
	}
	switch {
	case m[11] == "Z":
		dt.HasZone, dt.UTC = true, true
	case m[11] != "":
		off := atoi(m[13])*3600 + atoi(m[14])*60
		if m[12] == "-" {
			off = -off
		}
		dt.HasZone, dt.Offset = true, off
	}
	return dt, true
}
