package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedora-modularity/mts/internal/build"
)

// Dir serves modulemd documents from a directory, for `mts serve --dev`.
// A document is found for an event, in this order, by the file
// <id>.yaml (or .yml) named after the MBS module build id, or by the
// document whose data.name, data.stream, data.version and data.context
// equal the event's, whatever its file name.
type Dir struct {
	path   string
	byNSVC map[string]string
}

// NewDir indexes the *.yaml and *.yml files of path.
func NewDir(path string) (*Dir, error) {
	d := &Dir{path: path, byNSVC: make(map[string]string)}
	files, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("modulemd directory: %w", err)
	}
	for _, f := range files {
		ext := filepath.Ext(f.Name())
		if f.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(path, f.Name())
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("modulemd directory: %w", err)
		}
		if key, ok := nsvc(data); ok {
			if _, dup := d.byNSVC[key]; !dup {
				d.byNSVC[key] = file
			}
		}
	}
	return d, nil
}

// Dependency implements Source.
func (d *Dir) Dependency() string { return DependencyDir }

// Len is the number of documents indexed by name, stream, version and
// context.
func (d *Dir) Len() int { return len(d.byNSVC) }

// nsvc reads a document's identity without the full modulemd parser: an
// unreadable file is simply not indexed.
func nsvc(data []byte) (string, bool) {
	var doc struct {
		Data struct {
			Name, Stream, Version, Context yaml.Node
		} `yaml:"data"`
	}
	if yaml.Unmarshal(data, &doc) != nil || doc.Data.Name.Value == "" {
		return "", false
	}
	return key(doc.Data.Name.Value, doc.Data.Stream.Value, doc.Data.Version.Value, doc.Data.Context.Value), true
}

func key(n, s, v, c string) string { return strings.Join([]string{n, s, v, c}, "\x00") }

// Modulemd returns the document for ev.
func (d *Dir) Modulemd(_ context.Context, ev build.Event) ([]byte, error) {
	id := strconv.FormatInt(ev.ID, 10)
	for _, ext := range []string{".yaml", ".yml"} {
		data, err := os.ReadFile(filepath.Join(d.path, id+ext))
		if err == nil {
			return data, nil
		}
	}
	if file, ok := d.byNSVC[key(ev.Name, ev.Stream, ev.Version, ev.Context)]; ok {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("modulemd directory: %w", err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("module build %d (%s:%s:%s:%s) in %s: %w",
		ev.ID, ev.Name, ev.Stream, ev.Version, ev.Context, d.path, ErrNotFound)
}
