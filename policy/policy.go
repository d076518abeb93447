// Package policy is the CEL core of mts: the CEL environments that rules
// are written against (MBS's module builds, and Koji's own build events),
// compiled rule sets, and first-match evaluation with traces. It knows
// nothing of rule file formats, buses or the Koji hub: other packages turn
// files into Specs and decisions into actions.
package policy

import (
	"fmt"
	"reflect"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/fedora-modularity/mts/internal/build"
)

// Variables every rule can use.
const (
	// VarBuild is the build: the MBS event (build.Event) for rules on
	// module builds, the Koji build's map (build.KojiBuild.Vars) for
	// rules on Koji's events.
	VarBuild    = "build"
	VarModulemd = "modulemd" // the whole modulemd document: {document, version, data}
	VarData     = "data"     // the modulemd document's data mapping
	// VarEvent is the Koji event's map (build.KojiEvent.Vars), only in
	// rules on Koji's events.
	VarEvent = "event"
)

// DefaultCostLimit bounds the work one rule may do in one evaluation. The
// Fedora rules cost well under 100; the limit only stops runaway
// comprehensions over large documents.
const DefaultCostLimit = 100_000

// Env is the CEL environment rules compile against. It is safe for
// concurrent use once built.
type Env struct {
	cel       *cel.Env
	progOpts  []cel.ProgramOption
	costLimit uint64

	// The environment of rules on Koji's events is built when first
	// needed: most sets have none, and loading should not pay for it.
	kojiOnce sync.Once
	kojiOpts []cel.EnvOption
	koji     *cel.Env
	kojiErr  error
}

// EnvOption extends the environment: extra CEL declarations, functions,
// type adapters and program options (for example compat's legacy
// functions and their load-time specialisation).
type EnvOption struct {
	Env     []cel.EnvOption
	Program []cel.ProgramOption
}

// NewEnv builds the environment with the standard variables plus the
// given extensions.
func NewEnv(opts ...EnvOption) (*Env, error) {
	common := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[build.Event](), ext.ParseStructTags(true)),
		cel.Variable(VarModulemd, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarData, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		ext.Lists(),
		cel.OptionalTypes(),
	}
	var progOpts []cel.ProgramOption
	for _, o := range opts {
		common = append(common, o.Env...)
		progOpts = append(progOpts, o.Program...)
	}
	mbs := append([]cel.EnvOption{cel.Variable(VarBuild, cel.ObjectType("build.Event"))}, common...)
	env, err := cel.NewEnv(mbs...)
	if err != nil {
		return nil, fmt.Errorf("policy: building CEL environment: %w", err)
	}
	koji := append([]cel.EnvOption{
		cel.Variable(VarBuild, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarEvent, cel.MapType(cel.StringType, cel.StringType)),
	}, common...)
	return &Env{cel: env, progOpts: progOpts, costLimit: DefaultCostLimit, kojiOpts: koji}, nil
}

// CEL returns the underlying CEL environment, for tools that type-check
// expressions outside a rule (variables, tests).
func (e *Env) CEL() *cel.Env { return e.cel }

// KojiCEL returns the CEL environment of rules on Koji's events: build and
// event are maps there.
func (e *Env) KojiCEL() (*cel.Env, error) {
	e.kojiOnce.Do(func() {
		e.koji, e.kojiErr = cel.NewEnv(e.kojiOpts...)
		if e.kojiErr != nil {
			e.kojiErr = fmt.Errorf("policy: building the CEL environment of Koji's events: %w", e.kojiErr)
		}
	})
	return e.koji, e.kojiErr
}

// CELFor returns the environment the rule sp compiles against.
func (e *Env) CELFor(sp *Spec) (*cel.Env, error) {
	if sp.Koji != nil {
		return e.KojiCEL()
	}
	return e.cel, nil
}
