package bus

import (
	"context"
	"strconv"

	"github.com/fedora-modularity/mts/internal/build"
)

// Parker is the publisher side of parking: a bus that can take an event
// the service gave up on (retry_give_up_after) sends the original body,
// with headers saying why, to the deployment's own parking destination
// (parking_queue or parking_routing_key) rather than to the broker's
// generic dead letter queue. Park returns nil once the broker has the
// message.
type Parker interface {
	Park(ctx context.Context, body []byte, headers map[string]string) error
}

// Headers of a parked message.
const (
	HeaderParkReason     = "mts-park-reason"
	HeaderParkError      = "mts-park-error"
	HeaderParkHeldSince  = "mts-park-held-since"
	HeaderParkDependency = "mts-park-dependency"
	HeaderParkMessageID  = "mts-original-message-id"
	HeaderParkEventID    = "mts-original-event-id"
)

// EventID is what HeaderParkEventID carries for m: the MBS build id of a
// module event, the Koji build id of one of Koji's events.
func EventID(m build.Message) string {
	switch {
	case m.Module != nil:
		return strconv.FormatInt(m.Module.ID, 10)
	case m.Koji != nil:
		return strconv.FormatInt(m.Koji.Build.ID, 10)
	}
	return ""
}
