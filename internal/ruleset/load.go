package ruleset

import (
	"errors"
)

// Load reads and compiles the rule files at paths (files, or directories
// whose *.yaml and *.yml files are read in name order), in order, as one
// rule set. A refused set returns an error wrapping policy.ErrRefused whose
// policy.Errors list every problem with its FILE:LINE:COL.
func Load(paths []string, opts Options) (*Ruleset, error) {
	return nil, errors.New("ruleset: not implemented yet")
}

// LoadBytes compiles one rule file already read (for example fetched from
// rules_file_url); name is used in positions.
func LoadBytes(name string, data []byte, opts Options) (*Ruleset, error) {
	return nil, errors.New("ruleset: not implemented yet")
}
