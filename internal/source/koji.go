package source

import (
	"context"
	"fmt"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji"
)

// BuildGetter is the Koji call Koji needs; *koji.Client has it.
type BuildGetter interface {
	GetBuild(ctx context.Context, nvrOrID string) (*koji.Build, error)
}

// Koji reads the modulemd of a module build imported into Koji, from
// getBuild(NVR)'s extra.typeinfo.module.modulemd_str: for setups where
// MBS is not reachable but Koji is.
type Koji struct {
	Koji BuildGetter
}

// Dependency implements Source.
func (k Koji) Dependency() string { return DependencyKoji }

// Modulemd implements Source.
func (k Koji) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	nvr := ev.NVR()
	b, err := k.Koji.GetBuild(ctx, nvr)
	switch {
	case err == nil:
	case koji.IsNotFound(err), koji.FaultCode(err) != 0 && !koji.Retryable(err) && !koji.IsAuthError(err):
		return nil, fmt.Errorf("koji build %s: %w: %w", nvr, ErrNotFound, err)
	default:
		return nil, fmt.Errorf("koji build %s: %w", nvr, err)
	}
	mi := b.Module()
	if mi == nil || mi.ModulemdStr == "" {
		return nil, fmt.Errorf("koji build %s has no extra.typeinfo.module.modulemd_str: %w", nvr, ErrNotFound)
	}
	return []byte(mi.ModulemdStr), nil
}
