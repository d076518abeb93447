package bus

import (
	"log/slog"
	"sync/atomic"
)

// Link is what every broker consumer keeps besides its wire: the hand-off
// to the workers, its logger and metrics under the bus's name, and whether
// it is connected now. A consumer embeds it and starts Keep.
type Link struct {
	*Handoff
	log       *slog.Logger
	metrics   *Metrics
	connected atomic.Bool
}

// NewLink is the link of a consumer of the bus called name (attrs name
// what it reads, for its logs).
func NewLink(opts []Option, name string, attrs ...any) *Link {
	log, metrics := Named(opts, name, attrs...)
	return &Link{Handoff: NewHandoff(), log: log, metrics: metrics}
}

// Log is the consumer's logger.
func (l *Link) Log() *slog.Logger { return l.log }

// Metrics are the bus's metrics.
func (l *Link) Metrics() *Metrics { return l.metrics }

// Connected reports whether the consumer reads on a live connection now,
// for readiness checks.
func (l *Link) Connected() bool { return l.connected.Load() }

// SetConnected records that the consumer started or stopped reading on a
// live connection.
func (l *Link) SetConnected(up bool) { l.connected.Store(up) }

// Keep keeps l's consumer connected with r, in the background, until it
// is closed; r's logger and metrics are l's.
func Keep[E, C any](l *Link, r Redial[E, C]) {
	r.Log, r.Metrics = l.log, l.metrics
	l.Go(r.Run)
}
