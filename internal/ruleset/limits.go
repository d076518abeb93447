package ruleset

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fedora-modularity/mts/policy"
)

// Limits bound what a rule set may hold, so that a hostile or broken rule
// file is refused with a clear error instead of taking the service's
// memory. A zero field takes its default.
type Limits struct {
	// MaxFileSize is the size of one rule file in bytes
	// (max_rules_file_size).
	MaxFileSize int64
	// MaxRules is the number of rules of the whole set (max_rules).
	MaxRules int
	// MaxPatternLength is the length in bytes of one legacy pattern or one
	// CEL expression (max_pattern_length).
	MaxPatternLength int
}

// Default limits: far above production rule sets (Fedora's file is 2 KB
// with patterns under 50 bytes), far below what exhausts memory.
const (
	DefaultMaxFileSize      = 64 << 20
	DefaultMaxRules         = 250_000
	DefaultMaxPatternLength = 4096
)

// ErrLimit marks a rule set refused for exceeding a limit.
var ErrLimit = errors.New("limit exceeded")

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxRules <= 0 {
		l.MaxRules = DefaultMaxRules
	}
	if l.MaxPatternLength <= 0 {
		l.MaxPatternLength = DefaultMaxPatternLength
	}
	return l
}

// fileTooLarge is the problem of a rule file over the size limit.
func (l Limits) fileTooLarge(name string, size int64) *policy.Error {
	if size <= l.MaxFileSize {
		return nil
	}
	return &policy.Error{Source: policy.Position{File: name, Line: 1},
		Msg: fmt.Sprintf("%v: the file has %d bytes, more than max_rules_file_size (%d)", ErrLimit, size, l.MaxFileSize)}
}

// readLimited reads a rule file, refusing it beyond the size limit without
// reading more than one byte past it.
func (l Limits) readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, l.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	return data, nil
}

// tooManyRules is the problem of a set with more rules than the limit, at
// the first rule past it.
func (l Limits) tooManyRules(specs []policy.Spec) *policy.Error {
	if len(specs) <= l.MaxRules {
		return nil
	}
	sp := specs[l.MaxRules]
	return &policy.Error{Source: sp.Source, RuleID: sp.ID,
		Msg: fmt.Sprintf("%v: the rule set has %d rules, more than max_rules (%d)", ErrLimit, len(specs), l.MaxRules)}
}

// longExpressions lists the CEL expressions of specs over the length limit.
func (l Limits) longExpressions(specs []policy.Spec) policy.Errors {
	var errs policy.Errors
	for _, sp := range specs {
		untag, untagPos := sp.UntagExpr()
		for _, e := range []struct {
			what, text string
			pos        policy.Position
		}{{"match", sp.Match, sp.MatchPos}, {"destinations", sp.Destinations, sp.DestinationsPos}, {"untag", untag, untagPos}} {
			if len(e.text) > l.MaxPatternLength {
				errs = append(errs, policy.Error{Source: e.pos, RuleID: sp.ID,
					Msg: fmt.Sprintf("%v: %s has %d bytes, more than max_pattern_length (%d)", ErrLimit, e.what, len(e.text), l.MaxPatternLength)})
			}
		}
	}
	return errs
}
