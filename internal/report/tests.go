package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/fedora-modularity/mts/internal/ruletest"
)

// Tests writes a rule test report in one of TestFormats; verbose lists
// passing cases too in text.
func Tests(w io.Writer, format string, r *ruletest.Report, verbose bool) error {
	passed, failed := r.Counts()
	switch format {
	case Text:
		for _, c := range r.Cases {
			if c.Status == ruletest.Pass {
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
	case JSON:
		return writeJSON(w, struct {
			*ruletest.Report
			Passed int `json:"passed"`
			Failed int `json:"failed"`
		}{r, passed, failed})
	case JUnit:
		return testsJUnit(w, r)
	}
	return unknown(format, TestFormats)
}

// testsJUnit writes a test suite per test file, a test case per case. A
// case that could not run is an error of its suite rather than a failure,
// as test runners report a test that did not get to its assertions.
func testsJUnit(w io.Writer, r *ruletest.Report) error {
	var suites []junit.Testsuite
	var times []time.Duration
	index := map[string]int{}
	for _, c := range r.Cases {
		i, ok := index[c.File]
		if !ok {
			i = len(suites)
			index[c.File] = i
			suites = append(suites, junit.Testsuite{Name: c.File, File: c.File})
			times = append(times, 0)
		}
		times[i] += c.Duration
		jc := junit.Testcase{Name: c.Name, Classname: c.Section, Time: seconds(c.Duration),
			SystemOut: &junit.Output{Data: fmt.Sprintf("%s:%d", c.File, c.Line)}}
		switch c.Status {
		case ruletest.Fail:
			jc.Failure = &junit.Result{Message: c.Failures[0], Type: "decision", Data: strings.Join(c.Failures, "\n")}
		case ruletest.Error:
			jc.Error = &junit.Result{Message: c.Failures[0], Type: "error", Data: strings.Join(c.Failures, "\n")}
		}
		suites[i].AddTestcase(jc)
	}
	var all junit.Testsuites
	var total time.Duration
	for i, s := range suites {
		s.Time = seconds(times[i])
		total += times[i]
		all.AddSuite(s)
	}
	all.Time = seconds(total)
	return all.WriteXML(w)
}

// seconds is a duration as JUnit writes it.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
