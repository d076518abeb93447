package decision

import (
	"context"

	"github.com/fedora-modularity/mts/compat"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// Explanation says why a build got its decision: every rule of the
// event's state group that was tried, with each criterion it checked.
type Explanation struct {
	Event build.Event `json:"event"`
	// Kind and Koji are set for one of Koji's build events (Event is
	// then empty).
	Kind     build.Kind       `json:"kind,omitempty"`
	Koji     *build.KojiEvent `json:"koji,omitempty"`
	Revision string           `json:"revision"`
	Rules    []RuleVerdict    `json:"rules"`
	Result   Result           `json:"result"`
}

// RuleVerdict is one rule's part in an explanation.
type RuleVerdict struct {
	ID     string          `json:"id"`
	Index  int             `json:"index"`
	Source policy.Position `json:"source"`
	// Verdict: "matched", "no match", "error", or "not tried" when the
	// rule index showed it could not match.
	Verdict string `json:"verdict"`
	// Match is the rule's CEL condition, shown for CEL rules.
	Match string        `json:"match,omitempty"`
	Steps []policy.Step `json:"criteria,omitempty"`
	// Values are, for a CEL rule, the value of each sub-expression of its
	// condition that decided.
	Values []policy.ExprValue `json:"values,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// Explain decides like Decide and records why.
func Explain(rs *ruleset.Ruleset, ev build.Event, doc *modulemd.Document) Explanation {
	x := Explanation{Event: ev}
	explain(rs, &x, build.ModuleMessage(ev), doc.Input(ev))
	return x
}

// ExplainKoji decides like DecideKoji for one of Koji's build events and
// records why; the error is a message that lacks what a rule reads (with
// hub nil or failing) or a module build whose modulemd does not read.
func ExplainKoji(ctx context.Context, rs *ruleset.Ruleset, m build.Message, hub BuildInfoSource) (Explanation, error) {
	m, err := CompleteBuild(ctx, rs, m, hub)
	if err != nil {
		return Explanation{}, err
	}
	doc, err := KojiDocument(m.Koji.Build, 0)
	if err != nil {
		return Explanation{}, err
	}
	x := Explanation{Kind: m.Kind, Koji: m.Koji}
	explain(rs, &x, m, rs.Input(m, doc))
	return x, nil
}

// explain fills in x's revision, result and rules for message m, whose
// rule engine input is in.
func explain(rs *ruleset.Ruleset, x *Explanation, m build.Message, in *policy.Input) {
	d, trace, err := rs.Set.Explain(in)
	x.Revision, x.Rules = rs.Revision, []RuleVerdict{}
	if err != nil {
		x.Result = FromError(m, err).Result()
	} else {
		x.Result = For(m, d, d.Untag).Result()
	}
	for _, t := range trace {
		v := RuleVerdict{ID: t.Rule.ID, Index: t.Rule.Index, Source: t.Rule.Source, Steps: t.Steps}
		switch {
		case t.Skipped:
			v.Verdict = "not tried"
		case t.Err != nil:
			v.Verdict, v.Error = "error", t.Err.Error()
		case t.Matched:
			v.Verdict = "matched"
		default:
			v.Verdict = "no match"
		}
		if meta, ok := t.Rule.Meta.(*compat.RuleMeta); ok {
			for i := range v.Steps {
				for _, c := range meta.Criteria {
					if c.Key == v.Steps[i].Label {
						v.Steps[i].Source = c.Source
					}
				}
			}
		} else {
			v.Match = t.Rule.Match
			if !t.Skipped {
				v.Values = celValues(rs, t.Rule, in)
			}
		}
		x.Rules = append(x.Rules, v)
	}
}

// celValues re-evaluates a CEL rule's condition to show its values; an
// expression that cannot be re-evaluated shows none (its verdict and error
// are reported anyway).
func celValues(rs *ruleset.Ruleset, r *policy.Rule, in *policy.Input) []policy.ExprValue {
	env, err := ruleset.NewEnv()
	if err != nil {
		return nil
	}
	vals, err := env.MatchValues(rs.Set, r, in)
	if err != nil {
		return nil
	}
	return vals
}
