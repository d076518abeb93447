// Package rulegen writes large legacy rule files shaped like production
// ones, and modulemd documents to decide on them, for benchmarks and for
// the tests that compare the indexed engine with a plain walk. Output is
// a pure function of the seed, the size and the mix.
// It is for benchmarks and tests only: no command or service code imports
// it.
package rulegen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Shape is one kind of rule that real rule files contain.
type Shape int

// Shapes.
const (
	// ExactName: name: '^perl-12$' with stream, dependencies and development.
	ExactName Shape = iota
	// NameList: name: ['^perl-12$', '^perl-12-compat$'].
	NameList
	// PrefixSuffix: name: ['^perl-12', '-addons-12$'].
	PrefixSuffix
	// SuffixOnly: name: '-ursamajor-12$'.
	SuffixOnly
	// Fragment: an unanchored part of a name: name: 'erl-12'.
	Fragment
	// Alternation: name: '^(nodejs-12|python3-12)$'.
	Alternation
	// FoldCase: name: '(?i)^Perl-12$'.
	FoldCase
	// LateKey: development, scratch, version or stream first, the
	// selective key later.
	LateKey
	// StreamFamily: no name; stream: ['^foo-12-\d+$', '^foo-12-rhel\d+$'].
	StreamFamily
	// VersionContext: a name with version and context patterns
	// ('^(?P<release>\d{2})\d{14}$', '^[0-9a-f]{8}$').
	VersionContext
	// OtherState: any of the above with build_state: done.
	OtherState
	// Platform: platform-only rules (f, el[67], buildrequires and
	// requires together, EL release groups), the catching rules of a file.
	Platform
	// NoLiteral: criteria without any literal text (version, context,
	// development and fillers only).
	NoLiteral
	nShapes
)

var shapeNames = [...]string{"exact-name", "name-list", "prefix-suffix", "suffix-only", "fragment",
	"alternation", "fold-case", "late-key", "stream-family", "version-context", "other-state", "platform", "no-literal"}

func (s Shape) String() string { return shapeNames[s] }

// Mix gives each shape's share of the rules. Platform and NoLiteral rules
// are placed at the end of the file, as catching rules are, and there are
// at most MaxCatching of them whatever the size: each catches every build
// of its platform or kind, so a real file has a handful, not one in a
// hundred.
type Mix struct {
	Name    string
	Weights [nShapes]int
}

// Mixes are the rule mixes benchmarks and tests use.
var Mixes = []Mix{
	{Name: "mixed", Weights: [nShapes]int{
		ExactName: 30, NameList: 12, PrefixSuffix: 6, SuffixOnly: 4, Fragment: 4, Alternation: 6, FoldCase: 2,
		LateKey: 12, StreamFamily: 8, VersionContext: 6, OtherState: 6, Platform: 3, NoLiteral: 1}},
	{Name: "lists", Weights: [nShapes]int{
		NameList: 40, PrefixSuffix: 20, Alternation: 20, StreamFamily: 15, Platform: 4, NoLiteral: 1}},
	{Name: "unanchored", Weights: [nShapes]int{
		Fragment: 40, SuffixOnly: 20, FoldCase: 15, LateKey: 15, OtherState: 5, Platform: 4, NoLiteral: 1}},
	{Name: "late-keys", Weights: [nShapes]int{
		LateKey: 50, VersionContext: 25, StreamFamily: 15, OtherState: 6, Platform: 3, NoLiteral: 1}},
}

// MixNamed returns the mix with that name.
func MixNamed(name string) (Mix, bool) {
	for _, m := range Mixes {
		if m.Name == name {
			return m, true
		}
	}
	return Mix{}, false
}

// bases are module names of real rule files; a rule's module is a base
// with its number, so that rules share prefixes as real names do.
var bases = []string{"perl", "perl-DBI", "nodejs", "python3", "javapackages-tools", "ant", "maven",
	"eclipse", "container-tools", "idm", "ruby", "php", "postgresql", "mariadb", "httpd", "nginx",
	"go-toolset", "rust-toolset", "llvm-toolset", "flatpak-runtime", "gimp", "inkscape", "dwm", "avocado"}

// Module is the module name of rule number i of a set.
func Module(i int) string { return fmt.Sprintf("%s-%d", bases[i%len(bases)], i/len(bases)) }

// Set is a generated rule file and the documents to decide on it.
type Set struct {
	YAML []byte
	// Docs are modulemd documents: builds that match rules early, late
	// and never, builds for every platform family, development builds,
	// and documents that make a criterion fail.
	Docs []Doc
	// Shapes are the rules' shapes, in file order.
	Shapes []Shape
}

// Doc is one modulemd document of the corpus.
type Doc struct {
	Name  string // what the document is, for test messages
	YAML  []byte
	Event Event
}

// Event is the build event of a document.
type Event struct {
	Name, Stream, Version, Context, State string
}

// MaxCatching bounds the Platform and NoLiteral rules of a set.
const MaxCatching = 32

// Generate writes n rules of the mix from seed.
func Generate(seed uint64, n int, mix Mix) *Set {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	total := 0
	for _, w := range mix.Weights {
		total += w
	}
	pick := func() Shape {
		r := rng.IntN(total)
		for s, w := range mix.Weights {
			if r < w {
				return Shape(s)
			}
			r -= w
		}
		return ExactName
	}
	var body, tail []Shape
	for len(body)+len(tail) < n {
		s := pick()
		switch {
		case s != Platform && s != NoLiteral:
			body = append(body, s)
		case len(tail) < MaxCatching:
			tail = append(tail, s)
		}
	}
	set := &Set{Shapes: append(body, tail...)}
	var b strings.Builder
	for i, s := range set.Shapes {
		writeRule(&b, rng, i, s)
	}
	set.YAML = []byte(b.String())
	set.Docs = documents(rng, n)
	return set
}

func writeRule(b *strings.Builder, rng *rand.Rand, i int, s Shape) {
	m := Module(i)
	fmt.Fprintf(b, "- id: rule %d %s\n  type: module\n  rule:\n", i, s)
	crit := func(k, v string) { fmt.Fprintf(b, "    %s: %s\n", k, v) }
	grouped := false // a platform group is captured
	deps := func() {
		switch rng.IntN(4) {
		case 0:
			crit("dependencies", `{requires: {platform: '^(?P<platform>f\d+)$'}}`)
		case 1:
			crit("dependencies", `{buildrequires: {platform: '^.*$'}, requires: {platform: '^(?P<platform>f\d+)$'}}`)
		case 2:
			crit("dependencies", `{requires: {platform: '^(?P<platform>el[67])$'}}`)
		default:
			return
		}
		grouped = true
	}
	dev := func() {
		if rng.IntN(2) == 0 {
			crit("development", "no")
		}
	}
	dest := fmt.Sprintf("dest-%d", i)
	platformDest := func() { dest = `\g<platform>-` + dest }
	switch s {
	case ExactName, OtherState:
		crit("name", q("^"+m+"$"))
		if rng.IntN(2) == 0 {
			crit("stream", q(".*"))
		}
		deps()
		dev()
		if s == OtherState {
			crit("build_state", "done")
		}
	case NameList:
		crit("name", fmt.Sprintf("[%s, %s]", q("^"+m+"$"), q("^"+m+"-compat$")))
		deps()
	case PrefixSuffix:
		crit("name", fmt.Sprintf("[%s, %s]", q("^"+m), q("-addons-"+m+"$")))
		dev()
	case SuffixOnly:
		crit("name", q("-ursamajor-"+m+"$"))
	case Fragment:
		crit("name", q(m[1:]))
	case Alternation:
		other := Module(i + len(bases)*7)
		crit("name", q("^("+m+"|"+other+")$"))
		crit("stream", q("^.*$"))
	case FoldCase:
		crit("name", q("(?i)^"+strings.ToUpper(m[:1])+m[1:]+"$"))
	case LateKey:
		switch rng.IntN(4) {
		case 0:
			crit("development", "no")
		case 1:
			crit("scratch", "no")
		case 2:
			crit("version", q(`^\d+$`))
		default:
			crit("stream", q(".*"))
		}
		crit("name", q("^"+m+"$"))
		deps()
	case StreamFamily:
		crit("stream", fmt.Sprintf("[%s, %s]", q(`^`+m+`-\d+$`), q(`^`+m+`-rhel\d+$`)))
		dev()
	case VersionContext:
		crit("name", q("^"+m+"$"))
		crit("version", q(`^(?P<release>\d{2})\d{14}$`))
		crit("context", q(`^[0-9a-f]{8}$`))
		dest = `r\g<release>-` + dest
	case Platform:
		switch rng.IntN(4) {
		case 0:
			crit("dependencies", `{requires: {platform: '^(?P<platform>f\d+)$'}}`)
		case 1:
			crit("dependencies", `{buildrequires: {platform: '^(?P<platform>f3\d)$'}, requires: {platform: '^f3\d$'}}`)
		case 2:
			crit("dependencies", `{requires: {platform: '^(?P<platform>el[67])$'}}`)
		default:
			crit("dependencies", `{requires: {platform: '^el(?P<elrel>\d+\.\d+\.\d+)(?:\.z)?$'}}`)
			dest = `\g<elrel>-` + dest
		}
		crit("development", "no")
		if dest[0] != '\\' {
			platformDest()
		}
	case NoLiteral:
		crit("version", q(`^(?P<release>\d{2})\d{14}$`))
		crit("context", q(`^[0-9a-f]{8}$`))
		crit("development", "yes")
		dest = `r\g<release>-` + dest
	}
	if grouped {
		platformDest()
	}
	fmt.Fprintf(b, "  destinations: %s\n", q(dest))
}

// q quotes a YAML scalar in single quotes.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// documents builds the corpus for a set of n rules.
func documents(rng *rand.Rand, n int) []Doc {
	var docs []Doc
	platforms := []string{"f31", "f39", "el8", "el8.4.0", "eln"}
	add := func(what, name, stream, deps string, dev bool) {
		version := fmt.Sprintf("%02d%014d", 30+rng.IntN(10), rng.Int64N(1e14))
		context := fmt.Sprintf("%08x", rng.Uint32())
		devText := ""
		if dev {
			devText = "  development: true\n"
		}
		y := fmt.Sprintf("document: modulemd\nversion: 2\ndata:\n  name: %s\n  stream: %q\n  version: %s\n  context: %s\n  arch: x86_64\n  summary: %s\n  description: A generated module build.\n  license:\n    module: [MIT]\n%s  dependencies: %s\n",
			name, stream, version, context, what, devText, deps)
		docs = append(docs, Doc{Name: fmt.Sprintf("%s (%s)", what, name), YAML: []byte(y),
			Event: Event{Name: name, Stream: stream, Version: version, Context: context, State: "ready"}})
	}
	depsFor := func(p string) string {
		return fmt.Sprintf("[{buildrequires: {platform: [%s]}, requires: {platform: [%s]}}]", p, p)
	}
	for k, at := range []int{0, n / 10, n / 2, n - n/10, n - 1} {
		m := Module(max(at, 0))
		p := platforms[k%len(platforms)]
		add("module of a rule", m, "1", depsFor(p), false)
		add("compat or addons of a rule", m+"-compat", "1", depsFor(p), false)
	}
	add("stream family", "other", Module(n/3)+"-7", depsFor("el8"), false)
	add("ursamajor", "bar-ursamajor-"+Module(n/4), "master", depsFor("f31"), false)
	add("fragment", "x"+Module(n/5)+"y", "1", depsFor("f31"), false)
	add("development build", Module(n/2), "1", depsFor("f39"), true)
	add("multi-platform", "javapackages-tools", "201902", "[{buildrequires: {platform: [f30, f31]}, requires: {platform: [f30, f31]}}]", false)
	add("matches nothing", "nothing-matches-this", "1", depsFor("eln"), false)
	add("matches nothing, EL release", "nothing-matches-this", "rhel8", depsFor("el8.4.0"), false)
	add("empty dependencies", "nothing-matches-this", "1", "[]", false)
	add("empty dependencies, named", Module(n-1), "1", "[]", false)
	add("requires not a mapping", "nothing-matches-this", "1", "[{requires: f31}]", false)
	return docs
}
