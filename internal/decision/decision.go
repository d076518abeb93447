// Package decision is the one account of what mts decided for an event
// and what came of it: the outcome and the rule, the Koji actions in the
// order they are made (tag, untag, move) with each one's result as the
// service fills it in, the announcements that follow from them, and the
// stable JSON shapes the decision is shown and kept in (the `mts eval`
// result, the decision record, the `mts explain` explanation), with the
// reading of recorded events that `mts eval` and `mts diff` decide on,
// where a Koji message that lacks what the rules read is completed from
// a build-info source the caller gives (the hub, read-only).
// It must not tag, untag, publish or write output: the service, the
// recorders and internal/report do.
package decision

import (
	"errors"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/policy"
)

// Topics of the announcements, relative to the bus's prefix.
const (
	TopicRequested      = "build.tag.requested"
	TopicUnmatched      = "build.tag.unmatched"
	TopicUntagRequested = "build.untag.requested"
)

// OutcomeError is the outcome of an event that got no decision: bad
// input, or a rule that failed on this build. The other outcomes are
// policy's (matched, unmatched, skipped).
const OutcomeError = "error"

// Op is what one action asks of Koji.
type Op string

// Operations.
const (
	// OpTag is tagBuild(tag, nvr).
	OpTag Op = "tag"
	// OpUntag is untagBuild(tag, nvr).
	OpUntag Op = "untag"
	// OpMove is tagBuild(tag, nvr, fromtag=From): one task that tags the
	// build into Tag and takes it out of From.
	OpMove Op = "move"
)

// Action is one Koji call of a decision and, once the service made it,
// its result: the task id of a tagBuild (tag, move), or the error text
// announced when Koji refused it.
type Action struct {
	Op  Op     `json:"op"`
	Tag string `json:"tag"`
	// From is the tag a move takes the build out of.
	From   string `json:"from,omitempty"`
	NVR    string `json:"nvr"`
	TaskID *int64 `json:"task_id"`
	Error  string `json:"error,omitempty"`
}

// Rule names the rule that decided, or that failed.
type Rule struct {
	ID string
	// Index is the rule's 1-based position in its file.
	Index int
}

// Decision is what was decided for one event and what came of it. It is
// made once per event (For, ForModule, ForKoji, FromError); the service fills
// in the results of its Actions as it works, and its announcements
// (Messages) follow from the actions and their results.
type Decision struct {
	// Event is the event decided on.
	Event build.Message
	// Outcome is matched, unmatched or skipped (policy's), or
	// OutcomeError; the decision lines of `serve --dev` also show
	// events dropped before any rule as "filtered".
	Outcome string
	// Rule is the matching rule, or for OutcomeError the rule that
	// failed; nil otherwise.
	Rule *Rule
	// Destinations are the tags the build goes into; nil unless matched.
	Destinations []string
	// Untag are the tags the build is taken out of (Koji events only).
	Untag []string
	// Actions are the Koji calls, in the order they are made.
	Actions []Action
	// Error is why there is no decision (OutcomeError), or why a decision
	// was not carried out; empty otherwise.
	Error string
}

// For is the decision for event m: ForModule for an MBS module event,
// ForKoji for one of Koji's, whose matching rule takes the build out of
// the untag tags (rules on module events untag nothing: untag is not
// used for them).
func For(m build.Message, d policy.Decision, untag []string) Decision {
	if m.Koji != nil {
		return ForKoji(*m.Koji, d, untag)
	}
	var ev build.Event
	if m.Module != nil {
		ev = *m.Module
	}
	return ForModule(ev, d)
}

// ForModule is the decision for an MBS module event: when matched, the
// build and then its -devel twin, each tagged into every destination in
// order, as the reference tagged them. Other outcomes have no actions.
func ForModule(ev build.Event, d policy.Decision) Decision {
	out := decided(build.ModuleMessage(ev), d)
	if d.Outcome != policy.Matched {
		return out
	}
	for _, nvr := range []string{ev.NVR(), ev.NVRFor(ev.Name + "-devel")} {
		for _, t := range d.Destinations {
			out.Actions = append(out.Actions, Action{Op: OpTag, Tag: t, NVR: nvr})
		}
	}
	return out
}

// ForKoji is the decision for one of Koji's build events, whose matching
// rule takes the build out of the untag tags: when matched, its one build
// is tagged into every destination, then untagged from every untag tag;
// one destination with one untag tag is one move instead.
func ForKoji(ev build.KojiEvent, d policy.Decision, untag []string) Decision {
	out := decided(build.Message{Kind: ev.Kind, Koji: &ev}, d)
	if d.Outcome != policy.Matched {
		return out
	}
	out.Untag = untag
	nvr := ev.Build.NVR()
	if len(d.Destinations) == 1 && len(untag) == 1 {
		out.Actions = []Action{{Op: OpMove, Tag: d.Destinations[0], From: untag[0], NVR: nvr}}
		return out
	}
	for _, t := range d.Destinations {
		out.Actions = append(out.Actions, Action{Op: OpTag, Tag: t, NVR: nvr})
	}
	for _, t := range untag {
		out.Actions = append(out.Actions, Action{Op: OpUntag, Tag: t, NVR: nvr})
	}
	return out
}

func decided(m build.Message, d policy.Decision) Decision {
	out := Decision{Event: m, Outcome: string(d.Outcome)}
	if d.Rule != nil {
		out.Rule = &Rule{ID: d.Rule.ID, Index: d.Rule.Index}
		out.Destinations = d.Destinations
	}
	return out
}

// FromError is the decision of an event that got none: outcome error,
// with the rule that failed when a rule did. m may be the zero Message
// when the event itself could not be read.
func FromError(m build.Message, err error) Decision {
	out := Decision{Event: m, Outcome: OutcomeError, Error: err.Error()}
	var ee *policy.EvalError
	if errors.As(err, &ee) {
		out.Rule = &Rule{ID: ee.RuleID, Index: ee.RuleIndex}
	}
	return out
}

// Matched tells whether a rule matched.
func (d Decision) Matched() bool { return d.Outcome == string(policy.Matched) }

// TagResults are the results of the tagBuild calls (tag and move
// actions), in order, as announced.
func (d Decision) TagResults() []TagResult {
	var out []TagResult
	for _, a := range d.Actions {
		if a.Op == OpTag || a.Op == OpMove {
			out = append(out, a.tagResult())
		}
	}
	return out
}

func (a Action) tagResult() TagResult {
	r := TagResult{Tag: a.Tag, TaskID: a.TaskID, Error: a.Error}
	if a.Op == OpMove {
		r.FromTag = a.From
	}
	return r
}

// BuildInfo is the "build" object of an MBS module build's announcements.
type BuildInfo struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Stream  string `json:"stream"`
	Version string `json:"version"`
	Context string `json:"context"`
}

// moduleInfo is the event's build object with the given name (the module
// or its -devel twin).
func moduleInfo(ev *build.Event, name string) BuildInfo {
	return BuildInfo{ID: ev.ID, Name: name, Stream: ev.Stream, Version: ev.Version, Context: ev.Context}
}

// KojiBuildInfo is the "build" object of a Koji build's announcements.
type KojiBuildInfo struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Release string `json:"release"`
}

// TagResult is the outcome of one tagBuild call as announced: a task id,
// or a null task id and an error text. FromTag is the tag a move took the
// build out of.
type TagResult struct {
	Tag     string `json:"tag"`
	FromTag string `json:"from_tag,omitempty"`
	TaskID  *int64 `json:"task_id"`
	Error   string `json:"error,omitempty"`
}

// UntagResult is the outcome of one untagBuild call as announced: an
// error text when Koji refused it.
type UntagResult struct {
	Tag   string `json:"tag"`
	Error string `json:"error,omitempty"`
}

// Requested is the body of build.tag.requested for an MBS module build.
type Requested struct {
	Build           BuildInfo   `json:"build"`
	NVR             string      `json:"nvr"`
	DestinationTags []TagResult `json:"destination_tags"`
}

// UnmatchedBody is the body of build.tag.unmatched.
type UnmatchedBody struct {
	Build BuildInfo `json:"build"`
}

// KojiRequested is the body of build.tag.requested for a Koji build.
type KojiRequested struct {
	KojiBuildRef
	DestinationTags []TagResult `json:"destination_tags"`
}

// KojiBuildRef names the Koji build an announcement is about: its
// identity, NVR and type names (null when the message did not carry them
// and no rule needed them).
type KojiBuildRef struct {
	Build KojiBuildInfo `json:"build"`
	NVR   string        `json:"nvr"`
	Types []string      `json:"types"`
}

func kojiBuildRef(b build.KojiBuild) KojiBuildRef {
	return KojiBuildRef{
		Build: KojiBuildInfo{ID: b.ID, Name: b.Name, Version: b.Version, Release: b.Release},
		NVR:   b.NVR(), Types: b.TypeNames(),
	}
}

// KojiUnmatched is the body of build.tag.unmatched for a Koji event: the
// build, and the event (its kind, and its tag for a tag or untag).
type KojiUnmatched struct {
	KojiBuildRef
	Kind build.Kind `json:"kind"`
	Tag  string     `json:"tag,omitempty"`
}

// UntagRequested is the body of build.untag.requested.
type UntagRequested struct {
	KojiBuildRef
	UntagTags []UntagResult `json:"untag_tags"`
}

// Message is one announcement.
type Message struct {
	Topic string `json:"topic"`
	Body  any    `json:"body"`
}

// Messages are the announcements of the decision given its actions'
// results: for a matched module event one build.tag.requested per build
// (the module, then its -devel twin), for an unmatched one
// build.tag.unmatched; for a matched Koji event build.tag.requested for
// its tags and moves and build.untag.requested for its untags (an
// unmatched Koji event is not announced). Other outcomes announce
// nothing.
func (d Decision) Messages() []Message {
	switch {
	case d.Event.Module != nil:
		return d.moduleMessages(d.Event.Module)
	case d.Event.Koji != nil && d.Matched():
		return d.kojiMessages(d.Event.Koji)
	}
	return nil
}

// KojiUnmatchedMessage is the build.tag.unmatched announcement of a Koji
// event no rule matched, which the service sends only when asked to
// (announce_unmatched_koji); ok is false for any other decision.
func (d Decision) KojiUnmatchedMessage() (Message, bool) {
	ev := d.Event.Koji
	if ev == nil || d.Outcome != string(policy.Unmatched) {
		return Message{}, false
	}
	return Message{Topic: TopicUnmatched, Body: KojiUnmatched{
		KojiBuildRef: kojiBuildRef(ev.Build), Kind: ev.Kind, Tag: ev.Tag,
	}}, true
}

func (d Decision) moduleMessages(ev *build.Event) []Message {
	switch d.Outcome {
	case string(policy.Unmatched):
		return []Message{{Topic: TopicUnmatched, Body: UnmatchedBody{Build: moduleInfo(ev, ev.Name)}}}
	case string(policy.Matched):
	default:
		return nil
	}
	// One announcement per build, in the order of its first action.
	devel := ev.Name + "-devel"
	names := map[string]string{ev.NVR(): ev.Name, ev.NVRFor(devel): devel}
	var out []Message
	var cur *Requested
	for _, a := range d.Actions {
		if a.Op != OpTag {
			continue
		}
		if cur == nil || cur.NVR != a.NVR {
			if cur != nil {
				out = append(out, Message{Topic: TopicRequested, Body: *cur})
			}
			cur = &Requested{Build: moduleInfo(ev, names[a.NVR]), NVR: a.NVR}
		}
		cur.DestinationTags = append(cur.DestinationTags, a.tagResult())
	}
	if cur != nil {
		out = append(out, Message{Topic: TopicRequested, Body: *cur})
	}
	return out
}

func (d Decision) kojiMessages(ev *build.KojiEvent) []Message {
	ref := kojiBuildRef(ev.Build)
	var tags []TagResult
	var untags []UntagResult
	for _, a := range d.Actions {
		switch a.Op {
		case OpTag, OpMove:
			tags = append(tags, a.tagResult())
		case OpUntag:
			untags = append(untags, UntagResult{Tag: a.Tag, Error: a.Error})
		}
	}
	var out []Message
	if len(tags) > 0 {
		out = append(out, Message{Topic: TopicRequested, Body: KojiRequested{KojiBuildRef: ref, DestinationTags: tags}})
	}
	if len(untags) > 0 {
		out = append(out, Message{Topic: TopicUntagRequested, Body: UntagRequested{KojiBuildRef: ref, UntagTags: untags}})
	}
	return out
}
