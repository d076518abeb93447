package decision

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fedora-modularity/mts/compat/pyyaml"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// maxCaseLine bounds one batch line: a modulemd document with its event.
const maxCaseLine = 64 << 20

// EventCase is one line of an events file: a batch case (an object
// with "event" and "modulemd"), an MBS message as the service receives it
// (bare or as {"msg": {...}}), whose modulemd is looked up, or a message as
// a bus delivers it ({"topic": T, "body": B}: one of Koji's build events,
// or MBS's when T names MBS's topic).
type EventCase struct {
	// Topic and Body are a bus message's topic (address, routing key)
	// and body; Topic is empty for the other lines.
	Topic string
	Body  json.RawMessage

	// Event is the line's MBS message.
	Event json.RawMessage
	// Modulemd is the document of a batch case; HasModulemd tells a batch
	// case from a bare message.
	Modulemd    string
	HasModulemd bool
	// EventFile and ModulemdFile, when set, are the files the event and
	// the document were read from, named in errors with the place of the
	// mistake.
	EventFile, ModulemdFile string
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
	ev, err := DecodeEvent(c.Event)
	if err != nil {
		if c.EventFile != "" {
			return ev, nil, fmt.Errorf("%s: event: %w", c.EventFile, err)
		}
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
		if c.ModulemdFile != "" {
			return ev, nil, documentError(c.ModulemdFile, text, err)
		}
		return ev, nil, fmt.Errorf("modulemd: %w", err)
	}
	return ev, doc, nil
}

// documentError names the file and the place of a mistake in a modulemd
// document: FILE:LINE:COL: modulemd: message.
func documentError(file string, text []byte, err error) error {
	var pe *pyyaml.Error
	if !errors.Is(err, pyyaml.ErrSyntax) && !errors.As(err, &pe) {
		return fmt.Errorf("%s: modulemd: %w", file, err)
	}
	msg := strings.TrimPrefix(ruleset.SyntaxMessage(err), modulemd.ErrInvalid.Error()+": ")
	if pe != nil {
		msg = pe.Msg
	}
	return &placedError{pos: ruleset.SyntaxPos(file, text, err).String(), msg: msg, err: err}
}

// placedError is a mistake at a place of a file; it wraps its cause.
type placedError struct {
	pos, msg string
	err      error
}

func (e *placedError) Error() string { return e.pos + ": modulemd: " + e.msg }
func (e *placedError) Unwrap() error { return e.err }

// ErrTopic is the cause of a bus message on a topic that carries no build
// event mts decides on.
var ErrTopic = errors.New("not a topic of build events (module.state.change, build.complete, build.tag, buildsys.tag, ...)")

// Decide decides offline for the case: a Koji event with hub asked for
// what its message lacks (hub may be nil), an MBS event with its document
// from the line or from src.
func (c EventCase) Decide(ctx context.Context, rs *ruleset.Ruleset, src ModulemdSource, hub BuildInfoSource) Decision {
	if c.Topic != "" {
		if _, ok := build.TopicKind(c.Topic); !ok {
			return FromError(build.Message{}, fmt.Errorf("topic %q: %w", c.Topic, ErrTopic))
		}
		m, err := build.DecodeMessage(c.Topic, "", c.Body)
		if err != nil {
			return FromError(build.Message{}, err)
		}
		if m.Koji != nil {
			return DecideKoji(ctx, rs, m, hub)
		}
		c.Event, c.Topic = c.Body, ""
	}
	ev, doc, err := c.Resolve(ctx, src)
	if err != nil {
		return FromError(build.ModuleMessage(ev), err)
	}
	return Decide(rs, ev, doc)
}

// DecodeEvent reads an MBS message (bare or wrapped as {"msg": ...}),
// telling which field has a value of the wrong JSON type in the message's
// own words rather than the decoder's.
func DecodeEvent(body []byte) (build.Event, error) {
	var probe struct {
		Msg json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(body, &probe) == nil && len(probe.Msg) > 0 && string(probe.Msg) != "null" {
		body = probe.Msg
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		want := map[string]string{"id": "a whole number", "state": "a whole number", "name": "a string", "context": "a string",
			"state_name": "a string", "scratch": "true or false", "stream": "a string or a number", "version": "a string or a number"}
		for _, k := range []string{"id", "name", "stream", "version", "context", "state", "state_name", "scratch"} {
			v, ok := fields[k]
			if !ok || string(v) == "null" {
				continue
			}
			if got := jsonKind(v); !fits(want[k], got, v) {
				return build.Event{}, fmt.Errorf("%w: %s must be %s, not %s", build.ErrMalformed, k, want[k], got)
			}
		}
	}
	return build.Decode(body)
}

func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "true or false"
	}
	return "a number"
}

func fits(want, got string, v json.RawMessage) bool {
	switch want {
	case "a whole number":
		var n int64
		return got == "a number" && json.Unmarshal(v, &n) == nil
	case "a string or a number":
		return got == "a string" || got == "a number"
	}
	return want == got
}

// ParseCase reads one line of an events file (or a whole event file): a
// batch case, a bus message or a bare MBS message. The error is a text
// that is not a JSON object, or a batch case's modulemd or a bus
// message's topic that is not a string; the case is usable otherwise.
func ParseCase(text []byte) (EventCase, error) {
	var obj map[string]json.RawMessage
	var c EventCase
	if err := json.Unmarshal(text, &obj); err != nil {
		return c, fmt.Errorf("not a JSON object: %w", err)
	}
	if topic, ok := obj["topic"]; ok && obj["body"] != nil {
		if err := json.Unmarshal(topic, &c.Topic); err != nil || c.Topic == "" {
			return c, errors.New("topic: must be a non-empty string")
		}
		c.Body = obj["body"]
		return c, nil
	}
	if ev, ok := obj["event"]; ok {
		c.Event, c.HasModulemd = ev, true
		if m, ok := obj["modulemd"]; ok {
			if err := json.Unmarshal(m, &c.Modulemd); err != nil {
				return c, fmt.Errorf("modulemd: %w", err)
			}
		}
		return c, nil
	}
	c.Event = json.RawMessage(text)
	return c, nil
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
		c, perr := ParseCase([]byte(text))
		if err := fn(line, c, perr); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	return nil
}
