package amqp10

import (
	"sync"
	"time"
)

// creditIssuer is the part of a receiving link that takes credit.
type creditIssuer interface {
	IssueCredit(credit uint32) error
}

// credit is the link credit bookkeeping of one connection's consumer,
// computed from what the consumer itself holds (room: prefetch minus the
// messages taken and not yet settled, on any link), never from counters
// the broker can push out of step.
//
// A link is topped up only once it has delivered all it was granted, with
// the room there is then. RabbitMQ 3's AMQP 1.0 plugin hands the credit of
// a flow to its queue as an absolute figure, without counting the messages
// already on their way to the client, so a flow sent while the link still
// has credit makes the broker send more than granted. go-amqp adds issued
// credit to its own count of the link's credit, which such transfers push
// below zero, and then sends a flow with nothing or a wrapped, huge credit
// (or none at all, for a sum of zero: the credit issued is lost and the
// link stalls). With nothing on its way when a flow is sent, the broker's
// figure and the client's agree.
//
// A broker may overrun all the same: the overrun is seen here (more
// messages taken from the link than granted), the link gets no more credit,
// and the consumer attaches a fresh link, whose count both sides agree on,
// at once. The old link is read no more and ends once what was taken from
// it is settled; whatever the broker still sent on it goes back to the
// queue then. A link with room that delivers nothing for a while is
// replaced the same way, which restores a credit lost any other way.
type credit struct {
	prefetch uint64

	mu        sync.Mutex
	unsettled uint64 // taken and not yet settled, on every link
	cur       *linkCredit
}

// linkCredit is what one link has been granted and has delivered.
type linkCredit struct {
	rcv         creditIssuer
	granted     uint64 // credit issued on the link since it was attached
	arrived     uint64 // messages taken from the link
	settled     uint64 // of those, settled
	overrun     bool   // the broker sent more than granted
	lastArrival time.Time
}

func newCredit(prefetch int) *credit {
	return &credit{prefetch: uint64(max(prefetch, 1))}
}

// attach makes rcv, attached at now, the current link and issues it the
// room there is.
func (c *credit) attach(rcv creditIssuer, now time.Time) (*linkCredit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &linkCredit{rcv: rcv, lastArrival: now}
	c.cur = l
	return l, c.topUp()
}

func (c *credit) room() uint64 {
	if c.unsettled >= c.prefetch {
		return 0
	}
	return c.prefetch - c.unsettled
}

// topUp gives the current link the room there is, once it has delivered
// all it was granted and did not overrun. An error means the link is gone.
func (c *credit) topUp() error {
	l := c.cur
	if l == nil || l.overrun || l.arrived != l.granted {
		return nil
	}
	room := c.room()
	if room == 0 {
		return nil
	}
	l.granted += room
	return l.rcv.IssueCredit(uint32(room))
}

// arrive counts one message taken from l at now, and tops the link up if
// that was the last it was granted. It reports true the first time l has
// delivered more than it was granted.
func (c *credit) arrive(l *linkCredit, now time.Time) (overrun bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsettled++
	l.arrived++
	l.lastArrival = now
	if l.arrived > l.granted && !l.overrun {
		l.overrun = true
		return true, nil
	}
	return false, c.topUp()
}

// settle counts one settled message of l and tops the current link up
// when it has delivered all it was granted. An error means the current
// link is gone; the settlement itself was sent.
func (c *credit) settle(l *linkCredit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsettled--
	l.settled++
	return c.topUp()
}

// replace reports whether the current link should be replaced by a fresh
// one at now, and why: "overrun" as soon as it overran; "idle" once every
// message taken from it is settled, there is room, and it has delivered
// nothing for idle.
func (c *credit) replace(now time.Time, idle time.Duration) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.cur
	switch {
	case l == nil:
		return false, ""
	case l.overrun:
		return true, "overrun"
	case l.arrived == l.settled && c.room() > 0 && now.Sub(l.lastArrival) >= idle:
		return true, "idle"
	}
	return false, ""
}

// done reports whether every message taken from l is settled.
func (c *credit) done(l *linkCredit) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.arrived == l.settled
}

// state is the credit the broker holds on the current link by this side's
// count, and the messages taken and not yet settled.
func (c *credit) state() (credit, unsettled uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.cur; l != nil && l.granted > l.arrived {
		credit = l.granted - l.arrived
	}
	return credit, c.unsettled
}
