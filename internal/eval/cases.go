package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
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

// EventCase is one line of an events file: either a batch Case (an object
// with "event") or an MBS message as the service receives it (bare or as
// {"msg": {...}}), whose modulemd is looked up.
type EventCase struct {
	// Event is the line's MBS message.
	Event json.RawMessage
	// Modulemd is the document of a batch case; HasModulemd tells a batch
	// case from a bare message.
	Modulemd    string
	HasModulemd bool
}

// ModulemdSource finds the document of an event (mbs.Dir, as `serve --dev
// --modulemd-dir` uses).
type ModulemdSource interface {
	Modulemd(ctx context.Context, ev build.Event) ([]byte, error)
}

// ErrNoModulemd is the cause of a bare message that came without a way to
// find its document.
var ErrNoModulemd = errors.New("an MBS message needs --modulemd-dir to find its modulemd")

// Resolve reads the case's event and document, from src for a bare
// message.
func (c EventCase) Resolve(ctx context.Context, src ModulemdSource) (build.Event, *modulemd.Document, error) {
	ev, err := build.Decode(c.Event)
	if err != nil {
		return ev, nil, fmt.Errorf("event: %w", err)
	}
	text := []byte(c.Modulemd)
	if !c.HasModulemd {
		if src == nil {
			return ev, nil, ErrNoModulemd
		}
		if text, err = src.Modulemd(ctx, ev); err != nil {
			return ev, nil, fmt.Errorf("modulemd: %w", err)
		}
	}
	doc, err := modulemd.Parse(text)
	if err != nil {
		return ev, nil, fmt.Errorf("modulemd: %w", err)
	}
	return ev, doc, nil
}

// ReadEvents reads an events file (one JSON object per line, blank lines
// skipped) and calls fn for each line with its 1-based number; a line that
// is not a JSON object reaches fn with a non-nil err.
func ReadEvents(r io.Reader, fn func(line int, c EventCase, err error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxCaseLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var obj map[string]json.RawMessage
		var c EventCase
		var perr error
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			perr = fmt.Errorf("not a JSON object: %w", err)
		} else if ev, ok := obj["event"]; ok {
			c.Event, c.HasModulemd = ev, true
			if m, ok := obj["modulemd"]; ok {
				if err := json.Unmarshal(m, &c.Modulemd); err != nil {
					perr = fmt.Errorf("modulemd: %w", err)
				}
			}
		} else {
			c.Event = json.RawMessage(text)
		}
		if err := fn(line, c, perr); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	return nil
}
