package decision

import (
	"encoding/json"
	"fmt"

	"github.com/fedora-modularity/mts/internal/build"
)

// Record is one decision as the service makes it: the decision (with the
// event and the results of its actions), when it was made, the event's
// message id and the revision of the rules that decided. Its JSON is the
// service's decision log line, and what a decision store keeps: the event
// and then the decision's Result.
type Record struct {
	Time      string
	EventID   int64
	MessageID string
	Revision  string
	Decision  Decision
	DryRun    bool
	// Modulemd is the document text a module event was decided on, for a
	// decision store to decide again offline; not part of the JSON.
	Modulemd string
}

// recordJSON is the decision log line. Kind is left out for MBS events,
// whose line has their MBS event; a Koji event's line has its kind and
// the Koji event.
type recordJSON struct {
	Time      string          `json:"time"`
	EventID   int64           `json:"event_id"`
	MessageID string          `json:"message_id,omitempty"`
	Revision  string          `json:"revision"`
	Kind      build.Kind      `json:"kind,omitempty"`
	Event     json.RawMessage `json:"event"`
	Result
	DryRun bool `json:"dry_run,omitempty"`
}

// MarshalJSON writes the decision log line.
func (r Record) MarshalJSON() ([]byte, error) {
	out := recordJSON{Time: r.Time, EventID: r.EventID, MessageID: r.MessageID, Revision: r.Revision,
		Result: r.Decision.Result(), DryRun: r.DryRun}
	var ev any = build.Event{}
	switch m := r.Decision.Event; {
	case m.Koji != nil:
		out.Kind, ev = m.Kind, m.Koji
	case m.Module != nil:
		ev = m.Module
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	out.Event = b
	return json.Marshal(out)
}

// UnmarshalJSON reads a decision log line, or a kept decision.
func (r *Record) UnmarshalJSON(b []byte) error {
	var in recordJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var m build.Message
	if in.Kind != "" && in.Kind != build.KindModule {
		var ev build.KojiEvent
		if err := json.Unmarshal(in.Event, &ev); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		m = build.Message{Kind: in.Kind, Koji: &ev}
	} else {
		var ev build.Event
		if len(in.Event) > 0 {
			if err := json.Unmarshal(in.Event, &ev); err != nil {
				return fmt.Errorf("event: %w", err)
			}
		}
		m = build.ModuleMessage(ev)
	}
	*r = Record{Time: in.Time, EventID: in.EventID, MessageID: in.MessageID, Revision: in.Revision,
		Decision: in.Result.Decision(m), DryRun: in.DryRun}
	return nil
}
