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
// computed from what the consumer itself holds: the current link is
// granted, over its life, what it has delivered plus the room left
// (prefetch - messages taken and not yet settled, on any link), so the
// broker may always send exactly as many messages as there is room for.
//
// Credit goes to the broker through go-amqp, which adds what is issued to
// its own count of the link's credit and sends the sum. That count is
// lowered by every transfer, and RabbitMQ 3's AMQP 1.0 plugin often sends
// more transfers than granted (its queue applies the credit of a flow
// without counting the messages already on their way). The library's count
// then goes below zero, and a flow that should carry the consumer's room
// carries nothing (for a sum of zero the library sends no flow and the
// credit issued is lost) or a wrapped, huge credit. Nothing brings the count
// back, so such a link gets no more credit: the overrun is seen here (more
// messages taken from the link than granted) and the consumer attaches a
// fresh link, whose count both sides agree on, at once. The old link is
// read no more and ends once what was taken from it is settled; whatever
// the broker still sent on it goes back to the queue then. A link with
// room that delivers nothing for a while is replaced the same way, which
// also restores a lost credit that no overrun revealed.
type credit struct {
	prefetch uint64
	batch    uint64

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

// newCredit keeps the link credit at prefetch, returned in batches of a
// quarter of it, at least 2: fewer flows make fewer of the races in which
// RabbitMQ 3 sends too much, and a transfer more than granted that the
// consumer has not seen yet then costs the library's count one of a batch
// (the flow still carries the rest, and both sides agree again) instead of
// the whole of it. The prefetch is at least two batches, so that credit
// comes back while messages are still held.
func newCredit(prefetch int) *credit {
	batch := max(2, uint64(prefetch)/4)
	return &credit{prefetch: max(uint64(prefetch), 2*batch), batch: batch}
}

// attach makes rcv, attached at now, the current link and issues it the
// room there is.
func (c *credit) attach(rcv creditIssuer, now time.Time) (*linkCredit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &linkCredit{rcv: rcv, lastArrival: now}
	c.cur = l
	if room := c.room(); room > 0 {
		l.granted = room
		if err := rcv.IssueCredit(uint32(room)); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (c *credit) room() uint64 {
	if c.unsettled >= c.prefetch {
		return 0
	}
	return c.prefetch - c.unsettled
}

// arrive counts one message taken from l at now. It reports true the first
// time l has delivered more than it was granted.
func (c *credit) arrive(l *linkCredit, now time.Time) (overrun bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsettled++
	l.arrived++
	l.lastArrival = now
	if l.arrived > l.granted && !l.overrun {
		l.overrun = true
		return true
	}
	return false
}

// settle counts one settled message of l and gives the current link the
// room there is, once at least a batch is owed, unless it overran. An
// error means the current link is gone; the settlement itself was sent.
func (c *credit) settle(l *linkCredit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsettled--
	l.settled++
	cur := c.cur
	if cur == nil || cur.overrun {
		return nil
	}
	want := cur.arrived + c.room()
	if want < cur.granted+c.batch {
		return nil
	}
	n := want - cur.granted
	cur.granted = want
	return cur.rcv.IssueCredit(uint32(n))
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
