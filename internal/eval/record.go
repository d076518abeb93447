package eval

import "github.com/fedora-modularity/mts/internal/build"

// Record is one decision as the service makes it: the Result that `mts
// eval` prints (with the Koji task ids of the announcements), plus the
// event, its message id and the revision of the rules that decided. It is
// the service's decision log line and what a decision store keeps.
type Record struct {
	Time      string      `json:"time"`
	EventID   int64       `json:"event_id"`
	MessageID string      `json:"message_id,omitempty"`
	Revision  string      `json:"revision"`
	Event     build.Event `json:"event"`
	Result
	DryRun bool `json:"dry_run,omitempty"`
	// Modulemd is the document text the decision was made on, for a
	// decision store to decide again offline; not part of the log line.
	Modulemd string `json:"-"`
}

// SetError records why the decision could not be carried out.
func (r *Record) SetError(err error) {
	s := err.Error()
	r.Error = &s
}
