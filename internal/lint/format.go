package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// Formats lists the output formats Write knows.
func Formats() []string { return []string{"text", "json", "github", "sarif", "junit"} }

// Write renders a result in one of Formats. strict makes warnings count as
// failures where the format has failures (junit).
func Write(w io.Writer, format string, r *Result, strict bool, version string) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			*Result
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
			Infos    int `json:"infos"`
		}{r, r.Count(Error), r.Count(Warning), r.Count(Info)})
	case "github":
		return writeGitHub(w, r)
	case "sarif":
		return writeSARIF(w, r, version)
	case "junit":
		return writeJUnit(w, r, strict)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

func (d Diagnostic) where() string {
	if d.RuleID == "" {
		return ""
	}
	return fmt.Sprintf(" (rule %q)", d.RuleID)
}

func writeText(w io.Writer, r *Result) error {
	for _, d := range r.Diagnostics {
		fmt.Fprintf(w, "%s: %s: %s [%s]%s\n", d.Pos, d.Severity, d.Message, d.Code, d.where())
		if d.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", d.Hint)
		}
	}
	_, err := fmt.Fprintf(w, "%d files: %d errors, %d warnings, %d infos\n", len(r.Files), r.Count(Error), r.Count(Warning), r.Count(Info))
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

func writeGitHub(w io.Writer, r *Result) error {
	for _, d := range r.Diagnostics {
		level := map[Severity]string{Error: "error", Warning: "warning", Info: "notice"}[d.Severity]
		msg := d.Message + d.where()
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

// SARIF 2.1.0, the subset code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string                `json:"name"`
	Version        string                `json:"version,omitempty"`
	InformationURI string                `json:"informationUri,omitempty"`
	Rules          []sarifReportingDescr `json:"rules"`
}

type sarifReportingDescr struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string            `json:"ruleId"`
	RuleIndex  int               `json:"ruleIndex"`
	Level      string            `json:"level"`
	Message    sarifMessage      `json:"message"`
	Locations  []sarifLocation   `json:"locations"`
	Properties map[string]string `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region *sarifRegion `json:"region,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

func writeSARIF(w io.Writer, r *Result, version string) error {
	drv := sarifDriver{Name: "mts lint", Version: version, InformationURI: "https://github.com/fedora-modularity/mts"}
	index := map[string]int{}
	for i, c := range Codes() {
		rd := sarifReportingDescr{ID: c.Code, Name: c.Name, ShortDescription: sarifMessage{Text: c.Summary}}
		rd.DefaultConfiguration.Level = sarifLevel(c.Severity)
		drv.Rules = append(drv.Rules, rd)
		index[c.Code] = i
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{}}
	for _, d := range r.Diagnostics {
		res := sarifResult{RuleID: d.Code, RuleIndex: index[d.Code], Level: sarifLevel(d.Severity), Message: sarifMessage{Text: d.Message + d.where()}}
		if d.Hint != "" {
			res.Message.Text += ". Hint: " + d.Hint
		}
		if d.RuleID != "" {
			res.Properties = map[string]string{"mtsRuleId": d.RuleID}
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = filepath.ToSlash(d.Pos.File)
		if d.Pos.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: d.Pos.Line, StartColumn: d.Pos.Col}
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// writeJUnit writes one test case per file, failing on its errors (and
// warnings when strict).
func writeJUnit(w io.Writer, r *Result, strict bool) error {
	suite := junit.Testsuite{Name: "mts lint"}
	for _, f := range r.Files {
		c := junit.Testcase{Name: f, Classname: "mts.lint"}
		var fail, other strings.Builder
		nfail := 0
		for _, d := range r.Diagnostics {
			if d.Pos.File != f {
				continue
			}
			line := fmt.Sprintf("%s: %s: %s [%s]%s\n", d.Pos, d.Severity, d.Message, d.Code, d.where())
			if d.Severity == Error || (strict && d.Severity == Warning) {
				nfail++
				fail.WriteString(line)
			} else {
				other.WriteString(line)
			}
		}
		if nfail > 0 {
			c.Failure = &junit.Result{Message: fmt.Sprintf("%d problems", nfail), Type: "lint", Data: fail.String()}
		}
		if other.Len() > 0 {
			c.SystemOut = &junit.Output{Data: other.String()}
		}
		suite.AddTestcase(c)
	}
	var all junit.Testsuites
	all.AddSuite(suite)
	return all.WriteXML(w)
}
