package report

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/policy"
)

// sarifSchema is the OASIS SARIF 2.1.0 schema (errata 01), from
// oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json, with
// its formats asserted (uri, uri-reference).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSARIFSchema: the SARIF log is valid against the SARIF 2.1.0 schema,
// formats included, for file names that are not URIs as they are (a
// space, %, #, non-ASCII) and for a clean result; and the validator does
// reject a URI that is not percent-encoded.
func TestSARIFSchema(t *testing.T) {
	schema := sarifSchema(t)
	d := func(file string, line int) lint.Diagnostic {
		return lint.Diagnostic{Code: lint.CodeLoad, Severity: lint.Error, Pos: policy.Position{File: file, Line: line, Col: 1}, Message: "m"}
	}
	results := map[string]*lint.Result{
		"odd names": {Files: []string{"rules/my rules/a%b#c.yaml", "rules/é.yaml"}, Diagnostics: []lint.Diagnostic{
			d("rules/my rules/a%b#c.yaml", 3), d("rules/é.yaml", 0), d("a:b.yaml", 1)}},
		"clean": {Files: []string{"rules/fedora/fedora.yaml"}, Diagnostics: []lint.Diagnostic{}},
	}
	for name, r := range results {
		var b bytes.Buffer
		if err := Lint(&b, SARIF, r, false, Tool{Name: "mts lint", Version: "v1.0.0", InformationURI: "https://github.com/fedora-modularity/mts"}); err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s: the SARIF log is not valid: %v\n%s", name, err, b.String())
		}
		if name == "odd names" && !strings.Contains(b.String(), `"uri": "rules/my%20rules/a%25b%23c.yaml"`) {
			t.Errorf("%s: the URI is not percent-encoded:\n%s", name, b.String())
		}
	}
	var b bytes.Buffer
	_ = Lint(&b, SARIF, results["odd names"], false, Tool{Name: "mts lint", InformationURI: "https://github.com/fedora-modularity/mts"})
	raw := strings.ReplaceAll(b.String(), "rules/my%20rules/a%25b%23c.yaml", "rules/my rules/a%b#c.yaml")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if schema.Validate(doc) == nil {
		t.Error("the schema accepts a URI with a space: formats are not asserted")
	}
}

// TestLintJSONEmptyLists: a clean result has empty lists, not null.
func TestLintJSONEmptyLists(t *testing.T) {
	var b bytes.Buffer
	if err := Lint(&b, JSON, &lint.Result{Files: []string{"a.yaml"}, Diagnostics: []lint.Diagnostic{}}, false, Tool{}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if l, ok := got["diagnostics"].([]any); !ok || len(l) != 0 {
		t.Errorf("diagnostics = %#v, want []", got["diagnostics"])
	}
}
