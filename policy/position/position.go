// Package position is the place in a file that every problem mts reports
// names: rule load errors (policy, ruleset), lint diagnostics and
// configuration problems all carry a Position, so that each is written as
// FILE:LINE:COL the same way. It must not import anything of mts.
package position

import "fmt"

// Position is a place in a file. Line and Col are 1-based, Col counting
// characters; zero means unknown.
type Position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}
