package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/rulediff"
	"github.com/fedora-modularity/mts/policy"
)

// Diff writes a rule diff in one of DiffFormats: text (one block per
// change), markdown (a table for a pull request) or json. Cases that could
// not be decided are listed in every format.
func Diff(w io.Writer, format string, r *rulediff.Report) error {
	switch format {
	case JSON:
		return writeJSON(w, r)
	case Markdown:
		return diffMarkdown(w, r)
	case Text:
		for _, c := range r.Changes {
			fmt.Fprintf(w, "%s %s (%s): %s\n", c.Build, c.State, c.Source, strings.Join(c.What, ", "))
			fmt.Fprintf(w, "  - %s\n  + %s\n", describe(c.Old), describe(c.New))
		}
		for _, p := range r.Errors {
			fmt.Fprintf(w, "%s: error: %s\n", p.Source, p.Error)
		}
		_, err := fmt.Fprintf(w, "%s\n", diffSummary(r))
		return err
	}
	return unknown(format, DiffFormats)
}

func diffSummary(r *rulediff.Report) string {
	s := fmt.Sprintf("%d of %d decisions change", r.Changed, r.Compared)
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("; %d of %s could not be decided", len(r.Errors), builds(r.Cases))
	}
	return s
}

func builds(n int) string { return counted(n, "build") }

// counted is n and the noun, in the plural unless n is 1.
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func describe(d rulediff.Decision) string {
	switch d.Outcome {
	case string(policy.Matched):
		if len(d.Untag) > 0 {
			return fmt.Sprintf("rule %q -> %s, untag %s", d.Rule, strings.Join(d.Destinations, ", "), strings.Join(d.Untag, ", "))
		}
		return fmt.Sprintf("rule %q -> %s", d.Rule, strings.Join(d.Destinations, ", "))
	case decision.OutcomeError:
		if d.Rule != "" {
			return fmt.Sprintf("error in rule %q: %s", d.Rule, d.Error)
		}
		return "error: " + d.Error
	}
	return d.Outcome
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func diffMarkdown(w io.Writer, r *rulediff.Report) error {
	if r.Changed == 0 {
		fmt.Fprintf(w, "**No decision changes** for %s.\n", builds(r.Compared))
	} else {
		fmt.Fprintf(w, "**%d of %d decisions change.**\n\n", r.Changed, r.Compared)
		fmt.Fprintln(w, "| Build | State | Before | After |")
		fmt.Fprintln(w, "| --- | --- | --- | --- |")
		for _, c := range r.Changes {
			fmt.Fprintf(w, "| `%s` (%s) | %s | %s | %s |\n", mdCell(c.Build), mdCell(filepath.Base(c.Source)), c.State, mdCell(describe(c.Old)), mdCell(describe(c.New)))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\n**%d of %s could not be decided:**\n\n", len(r.Errors), builds(r.Cases))
		fmt.Fprintln(w, "| Build | Error |")
		fmt.Fprintln(w, "| --- | --- |")
		for _, p := range r.Errors {
			fmt.Fprintf(w, "| %s | %s |\n", mdCell(p.Source), mdCell(p.Error))
		}
	}
	return nil
}

// Applied writes a line per build `mts replay --apply` ran through the
// pipeline, with its outcome, and returns how many are not done.
func Applied(w io.Writer, applied []history.Applied) (notDone int) {
	for _, a := range applied {
		d := a.Decision
		fmt.Fprintf(w, "mts: replay: %s %s (decision %d): %s\n", d.Build, d.State, d.ID, a.Outcome)
		if a.Settled != "ack" {
			notDone++
		}
	}
	return notDone
}
