package service

import (
	"context"
	"fmt"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji"
)

// BuildGetter is the Koji call KojiModulemd needs; *koji.Client has it.
type BuildGetter interface {
	GetBuild(ctx context.Context, nvrOrID string) (*koji.Build, error)
}

// KojiModulemd reads the modulemd of a module build imported into Koji,
// from getBuild(NVR)'s extra.typeinfo.module.modulemd_str: for setups
// where MBS is not reachable but Koji is.
type KojiModulemd struct {
	Koji BuildGetter
}

// Modulemd implements ModulemdSource.
func (k KojiModulemd) Modulemd(ctx context.Context, ev build.Event) ([]byte, error) {
	nvr := ev.NVR()
	b, err := k.Koji.GetBuild(ctx, nvr)
	if err != nil {
		if koji.IsNotFound(err) {
			return nil, fmt.Errorf("koji build %s: %w: %w", nvr, ErrNoModulemd, err)
		}
		return nil, fmt.Errorf("koji build %s: %w", nvr, err)
	}
	mi := b.Module()
	if mi == nil || mi.ModulemdStr == "" {
		return nil, fmt.Errorf("koji build %s has no extra.typeinfo.module.modulemd_str: %w", nvr, ErrNoModulemd)
	}
	return []byte(mi.ModulemdStr), nil
}
