// Package policy is the CEL core of mts: the CEL environment that rules are
// written against, compiled rule sets, and first-match evaluation with
// traces. It knows nothing of rule file formats, buses or Koji: other
// packages turn files into Specs and decisions into actions.
package policy

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/fedora-modularity/mts/internal/build"
)

// Variables every rule can use.
const (
	VarBuild    = "build"    // the build event (build.Event)
	VarModulemd = "modulemd" // the whole modulemd document: {document, version, data}
	VarData     = "data"     // the modulemd document's data mapping
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
	envOpts := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[build.Event](), ext.ParseStructTags(true)),
		cel.Variable(VarBuild, cel.ObjectType("build.Event")),
		cel.Variable(VarModulemd, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarData, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		ext.Lists(),
		cel.OptionalTypes(),
	}
	var progOpts []cel.ProgramOption
	for _, o := range opts {
		envOpts = append(envOpts, o.Env...)
		progOpts = append(progOpts, o.Program...)
	}
	env, err := cel.NewEnv(envOpts...)
	if err != nil {
		return nil, fmt.Errorf("policy: building CEL environment: %w", err)
	}
	return &Env{cel: env, progOpts: progOpts, costLimit: DefaultCostLimit}, nil
}

// CEL returns the underlying CEL environment, for tools that type-check
// expressions outside a rule (variables, tests).
func (e *Env) CEL() *cel.Env { return e.cel }
