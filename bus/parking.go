package bus

import "context"

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
