// Package modulemd reads modulemd documents (v1 and v2) as the reference
// implementation did: PyYAML safe_load, so YAML 1.1 scalars, into values
// that the rule engine matches with Python semantics.
// It must not fetch documents (internal/source does).
package modulemd

import (
	"errors"
	"fmt"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/policy"
)

// ErrInvalid marks a document that cannot be used for a decision.
var ErrInvalid = errors.New("invalid modulemd")

// Document is a parsed modulemd document.
type Document struct {
	// Root is the whole document; Data its data mapping.
	Root *pyyaml.Map
	Data *pyyaml.Map
}

// DefaultMaxSize bounds a document's size (max_modulemd_size): real ones
// are a few kilobytes, the largest a few hundred.
const DefaultMaxSize = 8 << 20

// ErrTooLarge marks a document over the size limit.
var ErrTooLarge = errors.New("modulemd document too large")

// Parse reads one modulemd YAML document of at most DefaultMaxSize bytes.
func Parse(text []byte) (*Document, error) {
	return ParseLimit(text, DefaultMaxSize)
}

// ParseLimit reads one modulemd YAML document of at most max bytes (zero:
// DefaultMaxSize).
func ParseLimit(text []byte, max int) (*Document, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	if len(text) > max {
		return nil, fmt.Errorf("%w: %w: %d bytes, more than max_modulemd_size (%d)", ErrInvalid, ErrTooLarge, len(text), max)
	}
	v, err := pyyaml.Load(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	root, ok := v.(*pyyaml.Map)
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a mapping", ErrInvalid)
	}
	dv, _ := root.Get("data")
	data, ok := dv.(*pyyaml.Map)
	if !ok {
		return nil, fmt.Errorf("%w: no data mapping", ErrInvalid)
	}
	return &Document{Root: root, Data: data}, nil
}

// IndexValues implements policy.Indexer with the values legacy rules
// match (compat.IndexValues).
func (d *Document) IndexValues(key string, buf []string) []string {
	return compat.IndexValues(d.Data, key, buf)
}

// Input is the rule engine's input for this document and event.
func (d *Document) Input(ev build.Event) *policy.Input {
	return &policy.Input{Event: ev, Modulemd: d.Root, Data: d.Data, Index: d}
}
