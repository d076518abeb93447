package pyyaml

import (
	"testing"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// pythonYAMLScript loads each document with PyYAML's safe_load and writes
// the repr() of the value, or that it was refused (and the line PyYAML
// marks).
const pythonYAMLScript = `import json, sys, yaml
out = []
for doc in json.load(sys.stdin):
    try:
        out.append({"repr": repr(yaml.safe_load(doc))})
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        out.append({"error": str(e), "line": mark.line + 1 if mark else 0})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e), "crash": True})
json.dump(out, sys.stdout)
`

type pyYAMLResult struct {
	Repr  *string `json:"repr"`
	Error *string `json:"error"`
	Line  int     `json:"line"`
	Crash bool    `json:"crash"`
}

// TestLoadAgainstPyYAML is the differential test of the loader: every
// YAML 1.1 feature a rule file or a modulemd document can hold, loaded by
// PyYAML's safe_load and by Load, must give the same Python value (its
// repr), or be refused by both.
func TestLoadAgainstPyYAML(t *testing.T) {
	docs := []string{
		"", "---\n", "# only a comment\n", "~", "null", "a: 1\n",
		// scalars: plain forms and YAML 1.1 resolution
		"[yes, Yes, YES, no, NO, true, False, on, Off, y, n, Y, N]",
		"[~, null, Null, NULL, nul, '']",
		"[0, 010, 0o10, 0x1F, 0b101, 1_000, -1:20, 190:20:30, 09, 00000000, +12, -0, 99999999999999999999999]",
		"[8.10, 1., .5, 1.5e+3, 1e5, 1.5e3, 1.5E-3, 1_0.5, .inf, -.Inf, +.INF, .nan, .NaN, 1:30.5, 6.8523015e+5]",
		"[2019-06-01, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5, 2001-12-15T02:59:43.1Z, 2002-12-14, 2001-12-14 21:59:43]",
		"[f29, c2c572ec, 20180101000000, '8.10', \"010\", -, +, ., '', \"\"]",
		"a: b: c", "key: value with spaces  \n", "k: 'it''s'\n", `k: "tab\tnew\nline \x41 \u00e9 \U0001F600 \\ \" \0 \a \b \e \N \_ \L \P \v \f \	"`, `k: "\/"`,
		"k: \"a\\\n  b\"\n", "k: plain\n  continued\n\n  paragraph\n",
		// block scalars
		"k: |\n  line 1\n  line 2\n", "k: |-\n  stripped\n\n", "k: |+\n  kept\n\n", "k: >\n  folded\n  text\n\n  para\n",
		"k: >-\n  a\n   indented\n  b\n", "k: |2\n   two\n  one\n", "- |\n a\n- >\n b\n",
		// collections
		"[a, [b, c], {d: e}]", "{a: 1, b: [2, 3]}", "- a\n- - b\n  - c\n- d: e\n  f: g\n", "? a\n: b\n", "{? a : b}",
		"? [a, b]\n: c\n", "? {a: b}\n: c\n", "[a: b]",
		// anchors and aliases
		"a: &x 1\nb: *x\n", "a: &x [1, 2]\nb: *x\n", "a: &k key\n*k : v\n", "a: *nope\n", "- &a x\n- &a y\n- *a\n",
		// merge keys
		"base: &b {x: 1, y: 2}\nm: {<<: *b, y: 3}\n",
		"a: &a {x: 1, o: a}\nb: &b {y: 2, o: b}\nm: {<<: [*a, *b], z: 3}\n",
		"a: &a {x: 1}\nm:\n  <<: *a\n  <<: {y: 2}\n",
		"a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nm: {<<: *b}\n",
		"m: {<<: [{x: 1}, {x: 2}]}\n",
		"m: {'<<': {x: 1}}\n", "m: {<<: 1}\n", "m: {<<: [1]}\n", "m: {z: 0, <<: {a: 1, z: 9}}\n",
		// duplicate keys
		"a: 1\nb: 2\na: 3\n", "{1: a, 1.0: b, true: c}", "{a: 1, 'a': 2}",
		// tags
		"[!!str 1, !!int '7', !!float '1', !!bool 'yes', !!null '', !!str yes, !!int 0x10, !!float 1e5]",
		"!!timestamp 2019-06-01", "!!str [a]", "!foo bar", "!!python/object:os.system x", "!!set {a, b}",
		"!!omap [a: 1]", "!!map {a: 1}", "!!seq [a]", "!<tag:yaml.org,2002:str> 1", "!!int 'x'",
		// modulemd-shaped
		"document: modulemd\nversion: 2\ndata:\n  name: perl\n  stream: 5.30\n  version: 3120191201000000\n  context: 0123abcd\n  dependencies:\n  - buildrequires: {platform: [f31]}\n    requires: {platform: [-f30]}\n  xmd: {mbs: {commit: 0e1b6b3}}\n",
		// syntax errors
		"a: [b\n", "a: 'b\n", "a:\n\t- b\n", "- a\nb: c\n", "a: b: c: d\n",
	}
	var answers []pyYAMLResult
	testenv.PythonJSON(t, pythonYAMLScript, docs, &answers, "yaml")
	if len(answers) != len(docs) {
		t.Fatalf("python's answer: %d of %d documents", len(answers), len(docs))
	}
	// Deliberate differences, each documented in the README.
	refused := map[string]bool{
		// A Python set has no order of its own; ordered maps would need
		// tuples.
		"!!set {a, b}": true, "!!omap [a: 1]": true,
		// The YAML parser does not know this escape (YAML 1.2 has it).
		`k: "\/"`: true,
	}
	for i, doc := range docs {
		py := answers[i]
		v, err := Load([]byte(doc))
		if refused[doc] {
			if err == nil {
				t.Errorf("%q: read as %s, want it refused", doc, Repr(v))
			}
			continue
		}
		switch {
		case py.Error != nil && err == nil:
			t.Errorf("%q: PyYAML refuses it (%s), we read %s", doc, *py.Error, Repr(v))
		case py.Error == nil && err != nil:
			t.Errorf("%q: PyYAML reads %s, we refuse it: %v", doc, *py.Repr, err)
		case py.Error == nil && Repr(v) != *py.Repr:
			t.Errorf("%q: we read %s, PyYAML %s", doc, Repr(v), *py.Repr)
		}
	}
}
