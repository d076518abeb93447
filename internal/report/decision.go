package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
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
		if len(r.Untag) > 0 {
			fmt.Fprintf(w, "untag: %s\n", strings.Join(r.Untag, ", "))
		}
		if r.Actions != nil {
			actionsText(w, r.Actions)
			break
		}
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

// actionsText writes a Koji event's calls as the service makes them.
func actionsText(w io.Writer, actions []decision.Action) {
	for _, a := range actions {
		switch a.Op {
		case decision.OpMove:
			fmt.Fprintf(w, "  tagBuild(%s, %s, fromtag=%s)\n", a.Tag, a.NVR, a.From)
		case decision.OpUntag:
			fmt.Fprintf(w, "  untagBuild(%s, %s)\n", a.Tag, a.NVR)
		default:
			fmt.Fprintf(w, "  tagBuild(%s, %s)\n", a.Tag, a.NVR)
		}
	}
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
	if k := x.Koji; k != nil {
		fmt.Fprintf(w, "build %s (id %d), %s%s, rules revision %s\n", k.Build.NVR(), k.Build.ID, k.Kind, kojiWhere(k), x.Revision)
		if len(x.Rules) == 0 {
			fmt.Fprintf(w, "no rule is on %s\n", k.Kind)
		}
		explainRules(w, "", "\n", x.Rules, "")
		fmt.Fprintln(w)
		return decisionText(w, x.Result)
	}
	ev := x.Event
	fmt.Fprintf(w, "build %s (id %d), state %s, rules revision %s\n", ev.NSVC(), ev.ID, ev.StateName, x.Revision)
	explainRules(w, "", "\n", x.Rules, ev.StateName)
	fmt.Fprintln(w)
	return decisionText(w, x.Result)
}

// kojiWhere is the tag of a tag or untag event and who did it, or the
// states of a state change.
func kojiWhere(k *build.KojiEvent) string {
	switch {
	case k.Tag != "" && k.User != "":
		return fmt.Sprintf(" %s by %s", k.Tag, k.User)
	case k.Tag != "":
		return " " + k.Tag
	case k.New != "" && k.Old != "":
		return fmt.Sprintf(" (%s -> %s)", k.Old, k.New)
	}
	return ""
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
