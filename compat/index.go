package compat

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/policy"
)

// Index keys name the values a legacy criterion matches, so that a guard
// of the rule can be checked on a document (IndexValues):
//
//	s\x00K            Python str() of data[K] (a pattern for a top-level key)
//	e\x00K            the elements of data[K] if it is a list, else str()
//	                  (a pattern list for a top-level key)
//	m\x00K\x00k1...   the value reached through the mapping keys k1...
//	                  of data[K] (its first element if a list), as elements
//	d                 development, as a canonical number
const (
	keyStr      = "s\x00"
	keyElems    = "e\x00"
	keyMapping  = "m\x00"
	keyDevelopm = "d"
)

// IndexKeyStr is the index key of Python str() of data[key].
func IndexKeyStr(key string) string { return keyStr + key }

// IndexValues implements policy.Indexer for a modulemd data mapping.
func IndexValues(data *pyyaml.Map, key string, buf []string) []string {
	switch {
	case key == keyDevelopm:
		v, ok := data.Get("development")
		if !ok {
			v = false
		}
		if c, ok := canonicalNumber(v); ok {
			return append(buf, c)
		}
		return buf
	case strings.HasPrefix(key, keyStr):
		v, ok := data.Get(key[len(keyStr):])
		if !ok || v == nil {
			return buf
		}
		return append(buf, pyyaml.Str(v))
	case strings.HasPrefix(key, keyElems):
		v, ok := data.Get(key[len(keyElems):])
		if !ok || v == nil {
			return buf
		}
		return appendElems(buf, v)
	case strings.HasPrefix(key, keyMapping):
		path := strings.Split(key[len(keyMapping):], "\x00")
		v, ok := data.Get(path[0])
		if !ok || v == nil {
			return buf
		}
		if l, ok := v.([]any); ok {
			if len(l) == 0 {
				return buf
			}
			v = l[0]
		}
		for _, k := range path[1:] {
			m, ok := v.(*pyyaml.Map)
			if !ok {
				return buf
			}
			if v, ok = m.Get(k); !ok || v == nil {
				return buf
			}
		}
		return appendElems(buf, v)
	}
	return buf
}

func appendElems(buf []string, v any) []string {
	if l, ok := v.([]any); ok {
		for _, e := range l {
			buf = append(buf, pyyaml.Str(e))
		}
		return buf
	}
	return append(buf, pyyaml.Str(v))
}

// canonicalNumber writes a bool or a number the way Python equality sees
// it (True == 1 == 1.0); false for values no bool or int equals.
func canonicalNumber(v any) (string, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return "1", true
		}
		return "0", true
	case int64:
		return strconv.FormatInt(v, 10), true
	case *big.Int:
		return v.String(), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}

// guards derives the index guards of a rule: one per criterion whose
// patterns all have literal text, and the checks of its criteria that can
// fail on a document.
func guards(cs []Criterion, lib *Library) ([]policy.Guard, []policy.Check) {
	if lib == nil {
		return nil, nil
	}
	var out []policy.Guard
	var checks []policy.Check
	add := func(key string, lits []policy.Literal) {
		if len(lits) > 0 {
			out = append(out, policy.Guard{Key: key, Literals: lits})
		}
	}
	for _, c := range cs {
		switch e := c.Expected.(type) {
		case string:
			add(keyStr+c.Key, lib.literals(e))
		case []any:
			add(keyElems+c.Key, lib.listLiterals(e))
		case *pyyaml.Map:
			crit, err := lib.intern(c.Key, c.Spec, e)
			if err != nil {
				return nil, nil
			}
			checks = append(checks, crit)
			mappingGuards(e, keyMapping+c.Key, lib, add)
		default:
			if c.Key == "development" {
				if n, ok := canonicalNumber(e); ok && !isFloat(e) {
					add(keyDevelopm, []policy.Literal{{Kind: policy.Exact, Text: n}})
				}
			}
		}
	}
	return out, checks
}

func isFloat(v any) bool { _, ok := v.(float64); return ok }

// mappingGuards adds a guard for every leaf of an expected mapping: every
// key of it must match.
func mappingGuards(m *pyyaml.Map, path string, lib *Library, add func(string, []policy.Literal)) {
	for _, k := range m.Keys() {
		ks, ok := k.(string)
		if !ok || strings.Contains(ks, "\x00") {
			continue
		}
		v, _ := m.Get(k)
		p := path + "\x00" + ks
		switch v := v.(type) {
		case string:
			add(p, lib.literals(v))
		case []any:
			add(p, lib.listLiterals(v))
		case *pyyaml.Map:
			mappingGuards(v, p, lib, add)
		}
	}
}

// listLiterals are the literals of a pattern list: any alternative may
// match, so each needs literals.
func (l *Library) listLiterals(ps []any) []policy.Literal {
	var out []policy.Literal
	for _, p := range ps {
		s, ok := p.(string)
		if !ok {
			return nil
		}
		lits := l.literals(s)
		if lits == nil {
			return nil
		}
		out = append(out, lits...)
	}
	return out
}
