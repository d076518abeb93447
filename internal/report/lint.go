package report

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/fedora-modularity/mts/internal/lint"
)

// Tool names the program in SARIF output.
type Tool struct {
	Name, Version, InformationURI string
}

// Lint writes a lint result in one of LintFormats. strict makes warnings
// failures where the format has failures (junit).
func Lint(w io.Writer, format string, r *lint.Result, strict bool, tool Tool) error {
	switch format {
	case Text:
		return lintText(w, r)
	case JSON:
		return writeJSON(w, struct {
			*lint.Result
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
			Infos    int `json:"infos"`
		}{r, r.Count(lint.Error), r.Count(lint.Warning), r.Count(lint.Info)})
	case GitHub:
		return lintGitHub(w, r)
	case SARIF:
		return lintSARIF(w, r, tool)
	case JUnit:
		return lintJUnit(w, r, strict)
	}
	return unknown(format, LintFormats)
}

func where(d lint.Diagnostic) string {
	if d.RuleID == "" {
		return ""
	}
	return fmt.Sprintf(" (rule %q)", d.RuleID)
}

func lintLine(d lint.Diagnostic) string {
	return fmt.Sprintf("%s: %s: %s [%s]%s", d.Pos, d.Severity, d.Message, d.Code, where(d))
}

func lintText(w io.Writer, r *lint.Result) error {
	src := sources{}
	for _, d := range r.Diagnostics {
		fmt.Fprintln(w, lintLine(d))
		src.snippet(w, d.Pos, false)
		if d.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", d.Hint)
		}
	}
	_, err := fmt.Fprintf(w, "%d files: %d errors, %d warnings, %d infos\n", len(r.Files), r.Count(lint.Error), r.Count(lint.Warning), r.Count(lint.Info))
	return err
}

// GitHub workflow commands: data and property values have their own
// escapes.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func lintGitHub(w io.Writer, r *lint.Result) error {
	for _, d := range r.Diagnostics {
		level := map[lint.Severity]string{lint.Error: "error", lint.Warning: "warning", lint.Info: "notice"}[d.Severity]
		msg := d.Message + where(d)
		if d.Hint != "" {
			msg += "\nhint: " + d.Hint
		}
		props := "file=" + ghProp(filepath.ToSlash(d.Pos.File))
		if d.Pos.Line > 0 {
			props += fmt.Sprintf(",line=%d", d.Pos.Line)
		}
		if d.Pos.Col > 0 {
			props += fmt.Sprintf(",col=%d", d.Pos.Col)
		}
		props += ",title=" + ghProp(d.Code)
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, props, ghData(msg)); err != nil {
			return err
		}
	}
	return nil
}

func sarifLevel(s lint.Severity) string {
	switch s {
	case lint.Error:
		return "error"
	case lint.Warning:
		return "warning"
	}
	return "note"
}

func lintSARIF(w io.Writer, r *lint.Result, tool Tool) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI(tool.Name, tool.InformationURI)
	run.Tool.Driver.WithVersion(tool.Version)
	index := map[string]int{}
	for i, c := range lint.Codes() {
		run.AddRule(c.Code).WithName(c.Name).
			WithShortDescription(sarif.NewMultiformatMessageString(c.Summary)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(c.Severity)))
		index[c.Code] = i
	}
	run.Results = []*sarif.Result{}
	for _, d := range r.Diagnostics {
		text := d.Message + where(d)
		if d.Hint != "" {
			text += ". Hint: " + d.Hint
		}
		res := run.CreateResultForRule(d.Code).WithRuleIndex(index[d.Code]).
			WithLevel(sarifLevel(d.Severity)).WithMessage(sarif.NewTextMessage(text))
		loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(fileURI(d.Pos.File)))
		if d.Pos.Line > 0 {
			region := sarif.NewRegion().WithStartLine(d.Pos.Line)
			if d.Pos.Col > 0 {
				region.WithStartColumn(d.Pos.Col)
			}
			loc.WithRegion(region)
		}
		res.AddLocation(sarif.NewLocationWithPhysicalLocation(loc))
		if d.RuleID != "" {
			pb := sarif.NewPropertyBag()
			pb.AddString("mtsRuleId", d.RuleID)
			res.AttachPropertyBag(pb)
		}
	}
	log.AddRun(run)
	return log.PrettyWrite(w)
}

// fileURI is a file's path as a URI reference, percent-encoded (a space,
// a %, a # or a non-ASCII name would otherwise make it no URI at all).
func fileURI(path string) string {
	return (&url.URL{Path: filepath.ToSlash(path)}).String()
}

// lintJUnit writes one test case per file, failing on its errors (and
// warnings when strict).
func lintJUnit(w io.Writer, r *lint.Result, strict bool) error {
	suite := junit.Testsuite{Name: "mts lint", Time: "0.000"}
	for _, f := range r.Files {
		c := junit.Testcase{Name: f, Classname: "mts.lint", Time: "0.000"}
		var fail, other strings.Builder
		nfail := 0
		for _, d := range r.Diagnostics {
			if d.Pos.File != f {
				continue
			}
			line := lintLine(d) + "\n"
			if d.Severity == lint.Error || (strict && d.Severity == lint.Warning) {
				nfail++
				fail.WriteString(line)
			} else {
				other.WriteString(line)
			}
		}
		if nfail > 0 {
			c.Failure = &junit.Result{Message: counted(nfail, "problem"), Type: "lint", Data: fail.String()}
		}
		if other.Len() > 0 {
			c.SystemOut = &junit.Output{Data: other.String()}
		}
		suite.AddTestcase(c)
	}
	all := junit.Testsuites{Time: "0.000"}
	all.AddSuite(suite)
	return all.WriteXML(w)
}
