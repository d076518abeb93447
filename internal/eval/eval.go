// Package eval decides offline for recorded events, in the stable JSON
// shape that `mts eval` prints, the service's decision log uses and rule
// repositories' tools compare.
// It must not write output (internal/report does) or connect to anything.
package eval

import (
	"errors"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/plan"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// Outcome "error": the case could not be decided (bad input, or a rule
// failed on this build).
const OutcomeError = "error"

// Result is one decision, as documented in the README ("mts eval").
type Result struct {
	Outcome      string         `json:"outcome"`
	RuleID       *string        `json:"rule_id"`
	RuleIndex    *int           `json:"rule_index"`
	Destinations []string       `json:"destinations"`
	TagCalls     [][2]string    `json:"tag_calls"`
	Messages     []plan.Message `json:"messages"`
	Error        *string        `json:"error"`
}

// Decide decides for a parsed event and document.
func Decide(rs *ruleset.Ruleset, ev build.Event, doc *modulemd.Document) Result {
	d, err := rs.Decide(ev, doc)
	if err != nil {
		return FromError(err)
	}
	return FromDecision(ev, d)
}

// FromError renders a decision that failed: outcome "error", and the rule
// that failed when a rule did.
func FromError(err error) Result {
	r := ErrorResult(err)
	var ee *policy.EvalError
	if errors.As(err, &ee) {
		r.RuleID, r.RuleIndex = &ee.RuleID, &ee.RuleIndex
	}
	return r
}

// FromDecision renders a decision; Koji task ids are null since nothing
// was tagged.
func FromDecision(ev build.Event, d policy.Decision) Result {
	p := plan.For(ev, d)
	r := Result{Outcome: string(d.Outcome), TagCalls: [][2]string{}}
	if d.Rule != nil {
		r.RuleID, r.RuleIndex = &d.Rule.ID, &d.Rule.Index
		r.Destinations = d.Destinations
	}
	var results []plan.TagResult
	for _, c := range p.TagCalls() {
		r.TagCalls = append(r.TagCalls, [2]string{c.Tag, c.NVR})
		results = append(results, plan.TagResult{Tag: c.Tag})
	}
	r.Messages = p.Messages(results)
	if r.Messages == nil {
		r.Messages = []plan.Message{}
	}
	return r
}

// ErrorResult is the result of a case that got no decision.
func ErrorResult(err error) Result {
	msg := err.Error()
	return Result{Outcome: OutcomeError, TagCalls: [][2]string{}, Messages: []plan.Message{}, Error: &msg}
}
