// Package source gives the final modulemd document of a module build from
// where a deployment keeps it: the Module Build Service (the default),
// Koji's build information (modulemd_source: koji), or a directory of
// files for development. Each makes one attempt per call; the pipeline
// decides about trying again.
package source

import (
	"context"
	"errors"

	"github.com/fedora-modularity/mts/internal/build"
)

// Source returns the final modulemd document of an event's build. An error
// wrapping ErrNotFound is permanent; any other is transient: the
// dependency may answer later.
type Source interface {
	Modulemd(ctx context.Context, ev build.Event) ([]byte, error)
	// Dependency names what the source needs to answer, as the pipeline
	// reports it when it is down: DependencyMBS, DependencyKoji or
	// DependencyDir.
	Dependency() string
}

// Dependency names.
const (
	DependencyMBS  = "mbs"
	DependencyKoji = "koji"
	DependencyDir  = "modulemd_dir"
)

// ErrNotFound marks a build whose modulemd cannot be had: unknown to the
// source, without a document, or refused for good. Asking again will not
// help.
var ErrNotFound = errors.New("no modulemd for the build")
