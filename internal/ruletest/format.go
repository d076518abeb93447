package ruletest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// Formats lists the output formats Write knows.
func Formats() []string { return []string{"text", "json", "junit"} }

// Write renders a report; verbose lists passing cases too in text.
func Write(w io.Writer, format string, r *Report, verbose bool) error {
	passed, failed := r.Counts()
	switch format {
	case "text":
		for _, c := range r.Cases {
			if c.Status == Pass {
				if verbose {
					fmt.Fprintf(w, "ok   %s:%d: %s / %s\n", c.File, c.Line, c.Section, c.Name)
				}
				continue
			}
			fmt.Fprintf(w, "FAIL %s:%d: %s / %s\n", c.File, c.Line, c.Section, c.Name)
			for _, f := range c.Failures {
				fmt.Fprintf(w, "     %s\n", f)
			}
		}
		for _, f := range r.Updated {
			fmt.Fprintf(w, "updated %s\n", f)
		}
		_, err := fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
		return err
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*Report
			Passed int `json:"passed"`
			Failed int `json:"failed"`
		}{r, passed, failed})
	case "junit":
		return writeJUnit(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// writeJUnit writes one test suite per test file, one test case per case.
// writeJUnit writes a test suite per test file, a test case per case.
func writeJUnit(w io.Writer, r *Report) error {
	var suites []junit.Testsuite
	index := map[string]int{}
	for _, c := range r.Cases {
		i, ok := index[c.File]
		if !ok {
			i = len(suites)
			index[c.File] = i
			suites = append(suites, junit.Testsuite{Name: c.File, File: c.File})
		}
		jc := junit.Testcase{Name: c.Name, Classname: c.Section,
			SystemOut: &junit.Output{Data: fmt.Sprintf("%s:%d", c.File, c.Line)}}
		if c.Status == Fail {
			jc.Failure = &junit.Result{Message: c.Failures[0], Type: "decision", Data: strings.Join(c.Failures, "\n")}
		}
		suites[i].AddTestcase(jc)
	}
	var all junit.Testsuites
	for _, s := range suites {
		all.AddSuite(s)
	}
	return all.WriteXML(w)
}
