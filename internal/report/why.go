package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
)

// WhyFormats are the formats of `mts why`.
var WhyFormats = []string{Text, JSON}

// Why writes every recorded decision for a build, newest first: in text
// each with its tasks and the explanation as `mts explain` writes it; in
// json the history.Why itself.
func Why(w io.Writer, format string, why *history.Why) error {
	if format == JSON {
		return writeJSON(w, why)
	}
	if len(why.Decisions) == 0 {
		_, err := fmt.Fprintf(w, "no decision recorded for %s\n", why.Build)
		return err
	}
	for i, dd := range why.Decisions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		whyDecision(w, dd)
	}
	return nil
}

func whyDecision(w io.Writer, dd history.DecisionDetail) {
	d := dd.Decision
	if d.Koji != nil {
		fmt.Fprintf(w, "%s %s%s (Koji build %d), decided %s", d.Build, d.State, kojiWhere(d.Koji), d.EventID, d.Time.Format("2006-01-02 15:04:05Z"))
	} else {
		fmt.Fprintf(w, "%s %s (MBS build %d), decided %s", d.Build, d.State, d.EventID, d.Time.Format("2006-01-02 15:04:05Z"))
	}
	if d.Deliveries > 1 {
		fmt.Fprintf(w, ", %d deliveries", d.Deliveries)
	}
	fmt.Fprintf(w, "\n  decision %d in %s, message %s, rules revision %s\n", d.ID, d.Store, d.MessageID, d.Revision)
	fmt.Fprintf(w, "  outcome: %s\n", recorded(d))
	if d.DryRun {
		fmt.Fprintln(w, "  dry run: nothing was tagged or announced")
	}
	for _, t := range d.Tasks {
		task := "no task"
		if t.TaskID != nil {
			task = "task " + strconv.FormatInt(*t.TaskID, 10)
		}
		state := t.State
		switch {
		case state == "" && t.Error != "":
			state = t.Error
		case state == "" && d.DryRun:
			state = "dry run: no task"
		case state == "":
			state = "state not known yet"
		}
		fmt.Fprintf(w, "  tag %s %s: %s, %s\n", t.Tag, t.NVR, task, state)
	}
	for _, a := range d.Actions {
		if a.Op == decision.OpUntag {
			res := "no error"
			switch {
			case a.Error != "":
				res = a.Error
			case d.DryRun:
				res = "dry run: not untagged"
			}
			fmt.Fprintf(w, "  untag %s %s: %s\n", a.Tag, a.NVR, res)
		}
	}
	if dd.ExplainError != "" {
		fmt.Fprintf(w, "  cannot explain again: %s\n", dd.ExplainError)
		return
	}
	if x := dd.Explanation; x != nil {
		explainRules(w, "  ", "", x.Rules, d.State)
	}
}

// recorded is a recorded decision's outcome in a few words.
func recorded(d history.Decision) string {
	s := d.Outcome
	if d.RuleID != nil {
		s += fmt.Sprintf(", rule %q", *d.RuleID)
	}
	if len(d.Destinations) > 0 {
		s += " -> " + strings.Join(d.Destinations, ", ")
	}
	if len(d.Untag) > 0 {
		s += ", untag " + strings.Join(d.Untag, ", ")
	}
	if d.Error != nil {
		s += ": " + *d.Error
	}
	return s
}
