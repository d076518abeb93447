package decision

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// BuildInfoSource finds a build's whole build info with its types, by NVR
// or id (koji.Client.GetBuildInfo).
type BuildInfoSource interface {
	GetBuildInfo(ctx context.Context, nvrOrID string) (build.KojiBuild, error)
}

// ErrNeedsBuildInfo is the cause of a Koji message that carries only its
// build's identity when a rule on its kind reads more of the build, and
// nothing was given to ask the hub for the rest.
var ErrNeedsBuildInfo = errors.New("the message carries only the build's identity")

// CompleteBuild gives m the build's whole build info from hub when m's
// build is partial and a rule on its kind reads more than its identity.
// A message that needs nothing more comes back as it was.
func CompleteBuild(ctx context.Context, rs *ruleset.Ruleset, m build.Message, hub BuildInfoSource) (build.Message, error) {
	if m.Koji == nil || m.Koji.Build.Complete || !rs.NeedsBuildInfo(m.Kind) {
		return m, nil
	}
	if hub == nil {
		return m, fmt.Errorf("%w (%s): rules on %s read %s; give --koji-profile to ask the hub",
			ErrNeedsBuildInfo, m.Koji.Build.NVR(), m.Kind, strings.Join(rs.ReadsBeyondIdentity(m.Kind), ", "))
	}
	b, err := hub.GetBuildInfo(ctx, strconv.FormatInt(m.Koji.Build.ID, 10))
	if err != nil {
		return m, fmt.Errorf("build info of %s: %w", m.Koji.Build.NVR(), err)
	}
	ev := *m.Koji
	ev.Build = b
	return build.Message{Kind: m.Kind, Koji: &ev}, nil
}

// KojiDocument is the modulemd document of a Koji module build (its
// typeinfo's modulemd_str), nil for a build that has none; limit bounds
// its size as modulemd.ParseLimit does.
func KojiDocument(b build.KojiBuild, limit int) (*modulemd.Document, error) {
	text, ok := b.ModulemdText()
	if !ok {
		return nil, nil
	}
	doc, err := modulemd.ParseLimit([]byte(text), limit)
	if err != nil {
		return nil, fmt.Errorf("modulemd of %s: %w", b.NVR(), err)
	}
	return doc, nil
}

// DecideKoji decides offline for one of Koji's build events, asking hub
// for the build when the message lacks what a rule reads (hub may be
// nil: such a message is then an error naming what is missing).
func DecideKoji(ctx context.Context, rs *ruleset.Ruleset, m build.Message, hub BuildInfoSource) Decision {
	m, err := CompleteBuild(ctx, rs, m, hub)
	if err != nil {
		return FromError(m, err)
	}
	doc, err := KojiDocument(m.Koji.Build, 0)
	if err != nil {
		return FromError(m, err)
	}
	d, err := rs.DecideMessage(m, doc)
	if err != nil {
		return FromError(m, err)
	}
	return For(m, d, d.Untag)
}
