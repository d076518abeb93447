package policy

import (
	"unicode"

	"github.com/coregx/ahocorasick"
)

// LiteralKind says how a guard's literal must appear in a value.
type LiteralKind uint8

// Literal kinds.
const (
	Exact    LiteralKind = iota // the value is the literal
	Prefix                      // the value starts with it
	Suffix                      // the value ends with it
	Contains                    // the value contains it
)

// Literal is one text a guard looks for.
type Literal struct {
	Kind LiteralKind
	Text string
	// Fold: Text is case-folded (FoldString) and is looked for in the
	// folded value.
	Fold bool
}

// Guard is a necessary condition of a rule that the rule set can check
// without evaluating the rule: one of the values the Indexer gives for
// Key has one of Literals. Rule sets index rules on their most selective
// guard so that large sets try only rules that can match.
type Guard struct {
	Key      string
	Literals []Literal
}

// Check reports whether evaluating a rule would fail on the decision's
// document. A rule the index skips must still fail the decision where a
// walk through the rules would have reached it and failed.
// Implementations are comparable (pointers) so that a check shared by
// many rules runs once per decision.
type Check interface {
	Check(st *State) error
}

// Indexer gives the values that guards of a key are checked against. It
// appends them to buf; none when the key has no value in the document.
type Indexer interface {
	IndexValues(key string, buf []string) []string
}

// FoldString maps every character of s to the smallest character of its
// case-folding orbit (the orbits RE2's (?i) uses: K, k and the Kelvin sign
// are one), so that texts equal under (?i) fold to the same string.
func FoldString(s string) string {
	foldable := false
	for _, r := range s {
		if unicode.SimpleFold(r) != r {
			foldable = true
			break
		}
	}
	if !foldable {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		out = append(out, m)
	}
	return string(out)
}

// keyIndex finds the rules whose literals for one key (and one case
// handling) a value has: exact texts in a map, prefixes in a trie, suffixes
// in a trie of reversed texts, inner texts with an Aho-Corasick automaton.
// Every structure maps to a list of rule positions, in file order.
type keyIndex struct {
	key    string
	fold   bool
	lists  [][]int32
	exact  map[string]int32
	prefix trie
	suffix trie
	inner  *ahocorasick.Automaton
	// innerList maps an automaton pattern id to its list.
	innerList []int32
	innerText []string // only while building
	innerIDs  map[string]int32
}

func newKeyIndex(key string, fold bool) *keyIndex {
	return &keyIndex{key: key, fold: fold, exact: map[string]int32{}, innerIDs: map[string]int32{}}
}

func (ki *keyIndex) newList() int32 {
	ki.lists = append(ki.lists, nil)
	return int32(len(ki.lists) - 1)
}

// add indexes the rule at pos under lit. Rules are added in file order,
// so every list stays sorted.
func (ki *keyIndex) add(lit Literal, pos int32) {
	var id int32
	switch lit.Kind {
	case Exact:
		var ok bool
		if id, ok = ki.exact[lit.Text]; !ok {
			id = ki.newList()
			ki.exact[lit.Text] = id
		}
	case Prefix:
		id = ki.prefix.insert(lit.Text, false, ki)
	case Suffix:
		id = ki.suffix.insert(lit.Text, true, ki)
	default:
		var ok bool
		if id, ok = ki.innerIDs[lit.Text]; !ok {
			id = ki.newList()
			ki.innerIDs[lit.Text] = id
			ki.innerText = append(ki.innerText, lit.Text)
			ki.innerList = append(ki.innerList, id)
		}
	}
	l := ki.lists[id]
	if n := len(l); n > 0 && l[n-1] == pos {
		return // a rule with two literals in one list
	}
	ki.lists[id] = append(l, pos)
}

func (ki *keyIndex) finish() error {
	if len(ki.innerText) > 0 {
		ac, err := ahocorasick.NewBuilder().AddStrings(ki.innerText).Build()
		if err != nil {
			return err
		}
		ki.inner = ac
	}
	ki.innerText, ki.innerIDs = nil, nil
	ki.prefix.compact()
	ki.suffix.compact()
	return nil
}

// lookup appends the lists of every literal v has.
func (ki *keyIndex) lookup(v string, out [][]int32) [][]int32 {
	if ki.fold {
		v = FoldString(v)
	}
	if id, ok := ki.exact[v]; ok {
		out = append(out, ki.lists[id])
	}
	out = ki.prefix.collect(v, false, ki.lists, out)
	out = ki.suffix.collect(v, true, ki.lists, out)
	if ki.inner != nil {
		for _, m := range ki.inner.FindAllOverlapping([]byte(v)) {
			out = append(out, ki.lists[ki.innerList[m.PatternID]])
		}
	}
	return out
}

// trie is a byte trie; reversed tries hold their texts from the end.
type trie struct {
	nodes []trieNode
}

type trieNode struct {
	edges []trieEdge
	list  int32 // -1: no literal ends here
}

type trieEdge struct {
	b    byte
	next int32
}

func (t *trie) insert(s string, rev bool, ki *keyIndex) int32 {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{list: -1})
	}
	n := int32(0)
	for i := range len(s) {
		b := s[i]
		if rev {
			b = s[len(s)-1-i]
		}
		next := int32(-1)
		for _, e := range t.nodes[n].edges {
			if e.b == b {
				next = e.next
				break
			}
		}
		if next < 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{list: -1})
			t.nodes[n].edges = append(t.nodes[n].edges, trieEdge{b: b, next: next})
		}
		n = next
	}
	if t.nodes[n].list < 0 {
		t.nodes[n].list = ki.newList()
	}
	return t.nodes[n].list
}

// compact trims the slack of the slices built by appending.
func (t *trie) compact() {
	t.nodes = t.nodes[:len(t.nodes):len(t.nodes)]
	for i := range t.nodes {
		e := t.nodes[i].edges
		t.nodes[i].edges = e[:len(e):len(e)]
	}
}

// collect appends the lists of the literals that v starts with (or ends
// with, for a reversed trie).
func (t *trie) collect(v string, rev bool, lists [][]int32, out [][]int32) [][]int32 {
	if len(t.nodes) == 0 {
		return out
	}
	n := int32(0)
	for i := range len(v) {
		b := v[i]
		if rev {
			b = v[len(v)-1-i]
		}
		next := int32(-1)
		for _, e := range t.nodes[n].edges {
			if e.b == b {
				next = e.next
				break
			}
		}
		if next < 0 {
			return out
		}
		n = next
		if l := t.nodes[n].list; l >= 0 {
			out = append(out, lists[l])
		}
	}
	return out
}

// merger yields the positions of several sorted lists in order, each
// once, without sorting them all: a decision usually stops at an early
// candidate.
type merger struct {
	heads []mergeHead
}

type mergeHead struct {
	list []int32
}

func (m *merger) reset(lists [][]int32) {
	m.heads = m.heads[:0]
	for _, l := range lists {
		if len(l) > 0 {
			m.heads = append(m.heads, mergeHead{list: l})
		}
	}
	for i := len(m.heads)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
}

// next returns the smallest position left, or -1.
func (m *merger) next() int32 {
	if len(m.heads) == 0 {
		return -1
	}
	p := m.heads[0].list[0]
	for len(m.heads) > 0 && m.heads[0].list[0] == p {
		h := &m.heads[0]
		h.list = h.list[1:]
		if len(h.list) == 0 {
			last := len(m.heads) - 1
			m.heads[0] = m.heads[last]
			m.heads = m.heads[:last]
		}
		if len(m.heads) > 0 {
			m.down(0)
		}
	}
	return p
}

func (m *merger) down(i int) {
	h := m.heads
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h[r].list[0] < h[l].list[0] {
			c = r
		}
		if h[i].list[0] <= h[c].list[0] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
