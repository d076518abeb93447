package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/internal/decision"
)

// Decision writes one `mts eval` result: a JSON line, or text.
func Decision(w io.Writer, format string, d decision.Decision) error {
	switch format {
	case JSON:
		return writeJSONLine(w, d.Result())
	case Text:
		return decisionText(w, d.Result())
	}
	return unknown(format, EvalFormats)
}

func decisionText(w io.Writer, r decision.Result) error {
	switch {
	case r.Outcome == decision.OutcomeError:
		where := ""
		if r.RuleID != nil {
			where = fmt.Sprintf(" in rule %d %q", *r.RuleIndex, *r.RuleID)
		}
		fmt.Fprintf(w, "error%s: %s\n", where, *r.Error)
	case r.RuleID != nil:
		fmt.Fprintf(w, "matched rule %d %q\n", *r.RuleIndex, *r.RuleID)
		fmt.Fprintf(w, "destinations: %s\n", strings.Join(r.Destinations, ", "))
		for _, tc := range r.TagCalls {
			fmt.Fprintf(w, "  tagBuild(%s, %s)\n", tc[0], tc[1])
		}
	default:
		fmt.Fprintln(w, r.Outcome)
	}
	for _, m := range r.Messages {
		b, err := json.Marshal(m.Body)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "publish %s %s\n", m.Topic, b); err != nil {
			return err
		}
	}
	return nil
}

// Explain writes an explanation in one of ExplainFormats.
func Explain(w io.Writer, format string, x decision.Explanation) error {
	switch format {
	case JSON:
		return writeJSON(w, x)
	case Text:
	default:
		return unknown(format, ExplainFormats)
	}
	ev := x.Event
	fmt.Fprintf(w, "build %s (id %d), state %s, rules revision %s\n", ev.NSVC(), ev.ID, ev.StateName, x.Revision)
	explainRules(w, "", "\n", x.Rules, ev.StateName)
	fmt.Fprintln(w)
	return decisionText(w, x.Result)
}

// explainRules writes why each rule matched or not, each line after
// indent and each rule after sep: for a legacy rule each criterion with
// the value seen, the pattern and the result; for a CEL rule the value of
// each sub-expression that decided.
func explainRules(w io.Writer, indent, sep string, rules []decision.RuleVerdict, state string) {
	if len(rules) == 0 {
		fmt.Fprintf(w, "%sno rule applies to state %q\n", indent, state)
	}
	for _, r := range rules {
		fmt.Fprintf(w, "%s%srule %d %q (%s): %s\n", sep, indent, r.Index, r.ID, r.Source, r.Verdict)
		if r.Match != "" {
			fmt.Fprintf(w, "%s  match: %s\n", indent, r.Match)
		}
		for _, s := range r.Steps {
			mark := "no"
			if s.Result {
				mark = "yes"
			}
			fmt.Fprintf(w, "%s  %-3s %s (line %d): expected %s, saw %s\n", indent, mark, s.Label, s.Source.Line, s.Expected, s.Seen)
			if s.Note != "" {
				fmt.Fprintf(w, "%s      %s\n", indent, s.Note)
			}
		}
		for _, v := range r.Values {
			fmt.Fprintf(w, "%s  %s = %s\n", indent, v.Expr, v.Value)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "%s  error: %s\n", indent, r.Error)
		}
	}
}
