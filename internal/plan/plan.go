// Package plan turns a rule decision into what the service does about it:
// the Koji tagBuild calls, in the reference's order, and the messages to
// announce. It is pure: no I/O, so the service, `mts eval` and the tests
// share one definition of the output.
package plan

import (
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/policy"
)

// Topics, relative to the bus's prefix.
const (
	TopicRequested = "build.tag.requested"
	TopicUnmatched = "build.tag.unmatched"
)

// Build is one Koji build to tag: the module build itself or its -devel
// twin.
type Build struct {
	// Name is N for the build and N-devel for its twin.
	Name string
	NVR  string
	Tags []string
}

// Plan is what to do for one decision.
type Plan struct {
	Outcome policy.Outcome
	Event   build.Event
	// Builds are tagged in order, each into every tag of Tags in order.
	Builds []Build
}

// For computes the plan of a decision. Skipped decisions plan nothing.
func For(ev build.Event, d policy.Decision) Plan {
	p := Plan{Outcome: d.Outcome, Event: ev}
	if d.Outcome != policy.Matched {
		return p
	}
	devel := ev.Name + "-devel"
	p.Builds = []Build{
		{Name: ev.Name, NVR: ev.NVR(), Tags: d.Destinations},
		{Name: devel, NVR: ev.NVRFor(devel), Tags: d.Destinations},
	}
	return p
}

// TagCall is one Koji tagBuild(tag, nvr) call.
type TagCall struct {
	Tag string
	NVR string
}

// TagCalls lists the calls in the order the reference made them.
func (p Plan) TagCalls() []TagCall {
	var out []TagCall
	for _, b := range p.Builds {
		for _, t := range b.Tags {
			out = append(out, TagCall{Tag: t, NVR: b.NVR})
		}
	}
	return out
}

// BuildInfo is the "build" object of the announced messages.
type BuildInfo struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Stream  string `json:"stream"`
	Version string `json:"version"`
	Context string `json:"context"`
}

// TagResult is the outcome of one tagBuild call as announced: a task id,
// or a null task id and an error text.
type TagResult struct {
	Tag    string `json:"tag"`
	TaskID *int64 `json:"task_id"`
	Error  string `json:"error,omitempty"`
}

// Requested is the body of build.tag.requested.
type Requested struct {
	Build           BuildInfo   `json:"build"`
	NVR             string      `json:"nvr"`
	DestinationTags []TagResult `json:"destination_tags"`
}

// UnmatchedBody is the body of build.tag.unmatched.
type UnmatchedBody struct {
	Build BuildInfo `json:"build"`
}

// Message is one message to publish.
type Message struct {
	Topic string `json:"topic"`
	Body  any    `json:"body"`
}

// Info is the event's build object with the given name.
func Info(ev build.Event, name string) BuildInfo {
	return BuildInfo{ID: ev.ID, Name: name, Stream: ev.Stream, Version: ev.Version, Context: ev.Context}
}

// RequestedMessage is the announcement for build b once its tagBuild calls
// returned; results are in the order of b.Tags.
func (p Plan) RequestedMessage(b Build, results []TagResult) Message {
	return Message{Topic: TopicRequested, Body: Requested{
		Build: Info(p.Event, b.Name), NVR: b.NVR, DestinationTags: results,
	}}
}

// UnmatchedMessage is the announcement for an unmatched build.
func (p Plan) UnmatchedMessage() Message {
	return Message{Topic: TopicUnmatched, Body: UnmatchedBody{Build: Info(p.Event, p.Event.Name)}}
}

// Messages are the announcements of the plan given each tagBuild call's
// result, indexed like TagCalls. Skipped plans announce nothing.
func (p Plan) Messages(results []TagResult) []Message {
	switch p.Outcome {
	case policy.Unmatched:
		return []Message{p.UnmatchedMessage()}
	case policy.Matched:
	default:
		return nil
	}
	out := make([]Message, 0, len(p.Builds))
	i := 0
	for _, b := range p.Builds {
		n := len(b.Tags)
		out = append(out, p.RequestedMessage(b, results[i:i+n]))
		i += n
	}
	return out
}
