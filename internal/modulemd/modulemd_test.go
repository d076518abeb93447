package modulemd

import (
	"errors"

	"github.com/fedora-modularity/mts/compat"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/modulemd/*.yaml")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if v := doc.IndexValues(compat.IndexKeyStr("name"), nil); len(v) != 1 {
			t.Errorf("%s: no name", f)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{"", "[1, 2]", "document: modulemd\n", "data: [x]", "data: {name: [x"} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestIndexValue(t *testing.T) {
	doc, err := Parse([]byte("data: {name: x, stream: 8.10, context: null}"))
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.IndexValues(compat.IndexKeyStr("stream"), nil); len(v) != 1 || v[0] != "8.1" {
		t.Errorf("stream = %q", v)
	}
	if v := doc.IndexValues(compat.IndexKeyStr("context"), nil); len(v) != 0 {
		t.Error("null context indexed")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"dwm-6.2-f33-empty-deps-list.yaml", "legacy-v1-nodejs-8-f27.yaml", "testmodule-octal-stream-f31.yaml"} {
		data, err := os.ReadFile(filepath.Join("../../testdata/modulemd", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if doc.Data == nil {
			t.Fatal("document without data")
		}
	})
}

func TestParseLimit(t *testing.T) {
	text := []byte("data: {name: x, description: '" + strings.Repeat("y", 100) + "'}")
	if _, err := ParseLimit(text, 50); !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseLimit over the limit: %v", err)
	}
	if _, err := ParseLimit(text, len(text)); err != nil {
		t.Fatalf("ParseLimit at the limit: %v", err)
	}
}
