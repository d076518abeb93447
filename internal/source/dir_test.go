package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
)

func TestDir(t *testing.T) {
	d, err := NewDir("testdata/modulemd")
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 {
		t.Fatalf("Len %d, want 1", d.Len())
	}
	byID := t.TempDir()
	if err := os.WriteFile(filepath.Join(byID, "7.yml"), []byte("document: modulemd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(byID, "broken.yaml"), []byte("data: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dByID, err := NewDir(byID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  *Dir
		ev   build.Event
		want string // a prefix of the document; empty for not found
	}{
		{"by name stream version context", d, build.Event{ID: 1, Name: "javapackages-tools", Stream: "201801",
			Version: "2920190110130105", Context: "118bbc34"}, "---\ndocument: modulemd"},
		{"other context", d, build.Event{ID: 1, Name: "javapackages-tools", Stream: "201801",
			Version: "2920190110130105", Context: "00000000"}, ""},
		{"by id", dByID, build.Event{ID: 7, Name: "x"}, "document: modulemd"},
		{"unknown id", dByID, build.Event{ID: 8, Name: "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := tt.dir.Modulemd(context.Background(), tt.ev)
			if tt.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("error %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || len(doc) < len(tt.want) || string(doc[:len(tt.want)]) != tt.want {
				t.Fatalf("got %q, %v", doc, err)
			}
		})
	}
	if _, err := NewDir(filepath.Join(byID, "missing")); err == nil {
		t.Error("NewDir of a missing directory succeeded")
	}
}
