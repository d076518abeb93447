package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxCaseLine bounds one batch line: a modulemd document with its event.
const maxCaseLine = 64 << 20

// ReadCases reads a batch (one JSON case object per line, blank lines
// skipped) and calls fn for each line with its 1-based number. A line that
// is not a case object reaches fn with a non-nil err, so callers can report
// it and go on. ReadCases stops at the first error fn returns, and returns
// read errors.
func ReadCases(r io.Reader, fn func(line int, c Case, err error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxCaseLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var c Case
		var perr error
		if err := json.Unmarshal([]byte(text), &c); err != nil {
			perr = fmt.Errorf("not a case object: %w", err)
		}
		if err := fn(line, c, perr); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading cases: %w", err)
	}
	return nil
}
