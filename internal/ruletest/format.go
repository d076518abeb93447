package ruletest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
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

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test suite per test file, one test case per case.
func writeJUnit(w io.Writer, r *Report) error {
	all := junitSuites{}
	index := map[string]int{}
	for _, c := range r.Cases {
		i, ok := index[c.File]
		if !ok {
			i = len(all.Suites)
			index[c.File] = i
			all.Suites = append(all.Suites, junitSuite{Name: c.File})
		}
		s := &all.Suites[i]
		jc := junitCase{Name: c.Name, Classname: c.Section, File: c.File, Line: c.Line}
		if c.Status == Fail {
			jc.Failure = &junitFailure{Message: c.Failures[0], Type: "decision", Text: strings.Join(c.Failures, "\n")}
			s.Failures++
			all.Fails++
		}
		s.Cases = append(s.Cases, jc)
		s.Tests++
		all.Tests++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
