package decision

import (
	"encoding/json"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// Result is a decision in the JSON shape documented in the README ("mts
// eval"): what `mts eval` prints, the decision part of the decision log
// line and of a kept decision, what rule repositories' tools compare.
// The fields added for Koji events (untag, actions) are left out for MBS
// events, whose shape does not change.
type Result struct {
	Outcome      string      `json:"outcome"`
	RuleID       *string     `json:"rule_id"`
	RuleIndex    *int        `json:"rule_index"`
	Destinations []string    `json:"destinations"`
	Untag        []string    `json:"untag,omitempty"`
	TagCalls     [][2]string `json:"tag_calls"`
	// Actions are a Koji event's actions with their results; an MBS
	// event's are its tag_calls with the results in its messages.
	Actions  []Action  `json:"actions,omitempty"`
	Messages []Message `json:"messages"`
	Error    *string   `json:"error"`
}

// Result renders the decision.
func (d Decision) Result() Result {
	r := Result{Outcome: d.Outcome, Destinations: d.Destinations, Untag: d.Untag, TagCalls: [][2]string{}, Messages: d.Messages()}
	if d.Rule != nil {
		id, idx := d.Rule.ID, d.Rule.Index
		r.RuleID, r.RuleIndex = &id, &idx
	}
	for _, a := range d.Actions {
		if a.Op == OpTag || a.Op == OpMove {
			r.TagCalls = append(r.TagCalls, [2]string{a.Tag, a.NVR})
		}
	}
	if d.Event.Koji != nil {
		r.Actions = d.Actions
	}
	if r.Messages == nil {
		r.Messages = []Message{}
	}
	// An error outcome's error is always a string, as `mts eval` has
	// always printed it.
	if d.Error != "" || d.Outcome == OutcomeError {
		e := d.Error
		r.Error = &e
	}
	return r
}

// Decision reads a rendered decision back, for the event m it was made
// for. An MBS event's actions are its tag calls, each with the result its
// build.tag.requested announced (the shape keeps them nowhere else).
func (r Result) Decision(m build.Message) Decision {
	d := Decision{Event: m, Outcome: r.Outcome, Destinations: r.Destinations, Untag: r.Untag, Actions: r.Actions}
	if r.RuleID != nil {
		d.Rule = &Rule{ID: *r.RuleID}
		if r.RuleIndex != nil {
			d.Rule.Index = *r.RuleIndex
		}
	}
	if r.Error != nil {
		d.Error = *r.Error
	}
	if d.Actions != nil || len(r.TagCalls) == 0 {
		return d
	}
	announced := r.announcedTags()
	d.Actions = make([]Action, len(r.TagCalls))
	for i, c := range r.TagCalls {
		d.Actions[i] = Action{Op: OpTag, Tag: c[0], NVR: c[1]}
		if i < len(announced) && announced[i].Tag == c[0] {
			d.Actions[i].TaskID, d.Actions[i].Error = announced[i].TaskID, announced[i].Error
		}
	}
	return d
}

// announcedTags are the destination tags of the build.tag.requested
// messages in order: one per tag call. A message decoded from JSON has a
// map for its body, read again as the body it was.
func (r Result) announcedTags() []TagResult {
	var out []TagResult
	for _, m := range r.Messages {
		if m.Topic != TopicRequested {
			continue
		}
		req, ok := m.Body.(Requested)
		if !ok {
			b, err := json.Marshal(m.Body)
			if err != nil || json.Unmarshal(b, &req) != nil {
				continue
			}
		}
		out = append(out, req.DestinationTags...)
	}
	return out
}

// Decide decides offline for a parsed MBS event and its document; Koji
// task ids are null since nothing is tagged.
func Decide(rs *ruleset.Ruleset, ev build.Event, doc *modulemd.Document) Decision {
	d, err := rs.Decide(ev, doc)
	if err != nil {
		return FromError(build.ModuleMessage(ev), err)
	}
	return ForModule(ev, d)
}
