// Package build is the vocabulary of the events mts decides on, shared by
// the buses that receive them, the rules that decide on them, the
// decisions that tag and untag, and the tools that report on them: MBS's
// module build message (its Koji NVR and N:S:V:C), Koji's own build
// events (state changes, tags, untags) with the hub's build info, and the
// event kinds that name them.
// It must not decide, fetch or tag: it is vocabulary only.
package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Event is an MBS module build state change. Its fields are the text MBS
// sends; rules see them through the `cel` names.
type Event struct {
	ID      int64  `json:"id" cel:"id"`
	Name    string `json:"name" cel:"name"`
	Stream  string `json:"stream" cel:"stream"`
	Version string `json:"version" cel:"version"`
	Context string `json:"context" cel:"context"`
	// State is MBS's numeric state; StateName (ready, done, ...) is what
	// rules and build_state_msg_filter use.
	State     int    `json:"state" cel:"state_code"`
	StateName string `json:"state_name" cel:"state"`
	Scratch   bool   `json:"scratch" cel:"scratch"`
}

// NVR is the Koji NVR of the module build: stream dashes become
// underscores, and version.context is the release.
func (e Event) NVR() string { return e.NVRFor(e.Name) }

// NVRFor is the NVR of the build named name (the module itself or its
// -devel twin) with the event's stream, version and context.
func (e Event) NVRFor(name string) string {
	return name + "-" + strings.ReplaceAll(e.Stream, "-", "_") + "-" + e.Version + "." + e.Context
}

// NSVC is the build's name:stream:version:context.
func (e Event) NSVC() string {
	return e.Name + ":" + e.Stream + ":" + e.Version + ":" + e.Context
}

// ErrMalformed marks a message whose body is not an MBS event. Consumers
// log, count and acknowledge such messages so they never block a queue.
var ErrMalformed = errors.New("malformed message")

// Decode reads an MBS module build message. It accepts the MBS object
// itself and the older {"msg": {...}} wrapping; unknown fields are ignored.
func Decode(body []byte) (Event, error) {
	var probe struct {
		Msg json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(probe.Msg) > 0 && string(probe.Msg) != "null" {
		body = probe.Msg
	}
	var raw struct {
		ID        *int64          `json:"id"`
		Name      string          `json:"name"`
		Stream    json.RawMessage `json:"stream"`
		Version   json.RawMessage `json:"version"`
		Context   string          `json:"context"`
		State     int             `json:"state"`
		StateName string          `json:"state_name"`
		Scratch   bool            `json:"scratch"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if raw.ID == nil || raw.Name == "" {
		return Event{}, fmt.Errorf("%w: no module build id or name", ErrMalformed)
	}
	ev := Event{
		ID: *raw.ID, Name: raw.Name, Context: raw.Context,
		State: raw.State, StateName: raw.StateName, Scratch: raw.Scratch,
	}
	var err error
	if ev.Stream, err = scalarText(raw.Stream); err != nil {
		return Event{}, fmt.Errorf("%w: stream: %v", ErrMalformed, err)
	}
	if ev.Version, err = scalarText(raw.Version); err != nil {
		return Event{}, fmt.Errorf("%w: version: %v", ErrMalformed, err)
	}
	return ev, nil
}

// scalarText accepts a JSON string or number: MBS sends version as a string,
// but some senders write it as a number, and its digits must not change.
func scalarText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}
