// Package report writes every command's output a person or a program
// reads, in the formats each offers (a file per command; the format names
// and each command's list are below): text for people, json for programs,
// github workflow commands, SARIF for code scanning, JUnit for CI test
// reports and markdown for pull requests. It covers lint, test, diff,
// eval, explain, compile, why, replay, `serve --check-config`, the koji
// commands and `serve --dev`'s lines. Each writer takes the result of the
// package that computed it; nothing here decides, connects or reads files.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format names.
const (
	Text     = "text"
	JSON     = "json"
	GitHub   = "github"
	SARIF    = "sarif"
	JUnit    = "junit"
	Markdown = "markdown"
)

// Formats per command; the first is the default.
var (
	LintFormats    = []string{Text, JSON, GitHub, SARIF, JUnit}
	TestFormats    = []string{Text, JSON, JUnit}
	DiffFormats    = []string{Text, Markdown, JSON}
	EvalFormats    = []string{Text, JSON}
	ExplainFormats = []string{Text, JSON}
)

// writeJSON writes v as one indented JSON document: what programs read
// should also be readable in a terminal.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONLine writes v as one JSON line.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func unknown(format string, formats []string) error {
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(formats, ", "))
}
