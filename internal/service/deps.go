package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
)

// Dependencies the pipeline names when they are down, besides the modulemd
// source's own (source.DependencyMBS, ...).
const (
	DependencyKoji          = "koji"
	DependencyBus           = "bus"
	DependencyDecisionStore = "decision_store"
)

// DependencyState is one dependency as the pipeline last saw it.
type DependencyState struct {
	Name string
	Up   bool
	// Since is when it went up or down (the service's start for one that
	// never failed).
	Since time.Time
	// LastError is the failure that put it down; empty while up.
	LastError string
}

// HeldEvent is an event waiting for a dependency to come back.
type HeldEvent struct {
	// Message is the event: MBS's or one of Koji's.
	Message    build.Message
	MessageID  string
	Since      time.Time
	Dependency string
	LastError  string
}

// errGiveUp ends the wait of an event held for longer than
// Config.GiveUpAfter.
var errGiveUp = errors.New("held for longer than retry_give_up_after")

// gates keeps the state of every dependency under one lock, so that a
// change of any of them wakes whoever waits on one or on intake.
type gates struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	deps    map[string]*dependency
	min     time.Duration
	max     time.Duration
	onState func(name string, up bool)
	// holding counts the events that failed on a dependency and have not
	// got past it yet: until they have, no new event is taken.
	holding int
}

func newGates(min, max time.Duration, onState func(string, bool)) *gates {
	return &gates{changed: make(chan struct{}), deps: map[string]*dependency{}, min: min, max: max, onState: onState}
}

// add registers a dependency, up.
func (g *gates) add(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dep(name)
}

// dep returns the named dependency, registering it when new; the caller
// holds g.mu.
func (g *gates) dep(name string) *dependency {
	d, ok := g.deps[name]
	if !ok {
		d = &dependency{name: name, up: true, since: time.Now(), backoff: bus.Backoff{Min: g.min, Max: g.max}}
		g.deps[name] = d
		g.onState(name, true)
	}
	return d
}

// notify wakes every waiter; the caller holds g.mu.
func (g *gates) notify() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// dependency is one thing the pipeline needs. While it is down, events
// that failed on it wait; after each pause of its backoff (shared by all
// of them, so that a burst of failures is not a burst of retries) the
// event held longest makes the next attempt, the probe. A success by
// anyone brings it up and lets every waiter go.
type dependency struct {
	name    string
	up      bool
	since   time.Time
	lastErr string
	backoff bus.Backoff
	nextTry time.Time
	prober  *hold // the event making the current probe, nil when none
	waiters []*hold
}

func (g *gates) ok(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dep(name)
	d.prober = nil
	if d.up {
		return
	}
	d.up, d.since, d.lastErr = true, time.Now(), ""
	d.backoff.Reset()
	g.onState(name, true)
	g.notify()
}

// fail records a transient failure; it reports whether the dependency
// went down with it.
func (g *gates) fail(name string, err error) (wentDown bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dep(name)
	d.lastErr = err.Error()
	switch {
	case d.up:
		d.up, d.since = false, time.Now()
		d.nextTry = time.Now().Add(d.backoff.Next())
		g.onState(name, false)
		wentDown = true
	case d.prober != nil:
		d.nextTry = time.Now().Add(d.backoff.Next())
	}
	d.prober = nil
	g.notify()
	return wentDown
}

// abandon hands the probe back when its attempt ended with the caller's
// context, neither a success nor the dependency's failure.
func (g *gates) abandon(name string, h *hold) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := g.dep(name); d.prober == h {
		d.prober = nil
		g.notify()
	}
}

// await returns when h may try again: the dependency is up, or it is h's
// turn to probe. It returns errGiveUp once h has been held longer than
// giveUp (when positive), or ctx's error.
func (g *gates) await(ctx context.Context, name string, h *hold, giveUp time.Duration) error {
	g.mu.Lock()
	d := g.dep(name)
	d.waiters = append(d.waiters, h)
	defer func() {
		d.waiters = slices.DeleteFunc(d.waiters, func(w *hold) bool { return w == h })
		g.notify()
		g.mu.Unlock()
	}()
	for {
		if d.up {
			return nil
		}
		now := time.Now()
		if giveUp > 0 && now.Sub(h.first) >= giveUp {
			return errGiveUp
		}
		oldest := slices.MinFunc(d.waiters, func(a, b *hold) int { return a.first.Compare(b.first) })
		if d.prober == nil && oldest == h && !now.Before(d.nextTry) {
			d.prober = h
			return nil
		}
		wait := time.Until(d.nextTry)
		if d.prober != nil || wait <= 0 {
			wait = time.Second
		}
		if giveUp > 0 {
			wait = min(wait, time.Until(h.first.Add(giveUp)))
		}
		if err := g.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// hold counts an event that failed on a dependency; unhold, once it got
// past it (or gave up).
func (g *gates) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding++
}

func (g *gates) unhold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding--
	g.notify()
}

// sleep releases g.mu until a change, d or the end of ctx; the caller
// holds g.mu, and holds it again on return.
func (g *gates) sleep(ctx context.Context, d time.Duration) error {
	changed := g.changed
	g.mu.Unlock()
	defer g.mu.Lock()
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-t.C:
	}
	return nil
}

// waitIntake blocks while events wait on a dependency: no new event is
// taken then, and those held are retried first. A
// dependency down with no waiter lets events in, so that one of them
// probes it.
func (g *gates) waitIntake(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		// Events held on a dependency that came back are still counted
		// until their next attempt has ended: they go on before any new
		// event.
		closed := g.holding > 0
		for _, d := range g.deps {
			if len(d.waiters) > 0 {
				closed = true
			}
		}
		if !closed {
			return nil
		}
		if err := g.sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (g *gates) states() []DependencyState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]DependencyState, 0, len(g.deps))
	for _, d := range g.deps {
		out = append(out, DependencyState{Name: d.name, Up: d.up, Since: d.since, LastError: d.lastErr})
	}
	slices.SortFunc(out, func(a, b DependencyState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// hold is the waiting state of one event in the pipeline.
type hold struct {
	s     *Service
	msg   build.Message
	msgID string
	first time.Time // first held, zero while never held
	since time.Time // held now since, zero while not held
	dep   string
	err   string
	// parking: the event is on its way to the parking destination and
	// waits for that without a limit.
	parking bool
}

func (h *hold) held(dep string, err error) {
	h.s.heldMu.Lock()
	defer h.s.heldMu.Unlock()
	now := time.Now()
	if h.first.IsZero() {
		h.first = now
	}
	if h.since.IsZero() {
		h.since = now
		h.s.held[h] = struct{}{}
		h.s.m.held.Inc()
	}
	h.dep, h.err = dep, err.Error()
}

func (h *hold) release() {
	h.s.heldMu.Lock()
	defer h.s.heldMu.Unlock()
	if h.since.IsZero() {
		return
	}
	h.s.m.heldTime.Observe(time.Since(h.since).Seconds())
	h.s.m.held.Dec()
	delete(h.s.held, h)
	h.since = time.Time{}
}

// Held returns the events waiting for a dependency, held longest first.
func (s *Service) Held() []HeldEvent {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	out := make([]HeldEvent, 0, len(s.held))
	for h := range s.held {
		out = append(out, HeldEvent{Message: h.msg, MessageID: h.msgID, Since: h.since, Dependency: h.dep, LastError: h.err})
	}
	slices.SortFunc(out, func(a, b HeldEvent) int { return a.Since.Compare(b.Since) })
	return out
}

// Dependencies returns the state of every dependency, by name.
func (s *Service) Dependencies() []DependencyState { return s.gates.states() }
