// Package service is the pipeline of `mts serve`: it takes module build
// events from a bus, drops those no rule should see, fetches the build's
// modulemd, decides with the current rule set, tags the build and its
// -devel twin in Koji, announces the result on the bus, records the
// decision, and only then acknowledges the event. Koji's own build events
// (completed, tagged, untagged) take the same path: the build's info is
// asked of the hub only when the message lacks what the rules read, and a
// decision may tag, move and untag the build; reactions to the service's
// own tags are bounded per build (loop.go).
//
// The pipeline is the only owner of retries. A step that fails on
// something that comes back (Koji, MBS, the broker, the decision store)
// holds the event, unacknowledged, and tries again for as long as it
// takes, with a backoff shared by every event waiting on the same
// dependency; while a dependency is down with events waiting on it, no new
// event is taken. Only Config.GiveUpAfter, when set, ends a wait: the
// event then goes to the parking destination, and is acknowledged once it
// is there. Nothing is ever handed back to the broker (no NACK, which
// ActiveMQ turns into its dead letter queue).
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/policy"
)

// Tagger is what the pipeline needs from Koji; *koji.Client has it.
type Tagger interface {
	// TagStates says, in one request, whether each build is in its tag
	// and which tagBuild task of ours is pending (or closed) for it.
	TagStates(ctx context.Context, targets []koji.TagTarget) ([]koji.TagState, error)
	// TagBuild starts a tagBuild task and returns its id.
	TagBuild(ctx context.Context, tag, nvr string) (int, error)
	// TagBuilds starts several in one request: per target the task id
	// or the fault; an error when the request as a whole failed.
	TagBuilds(ctx context.Context, targets []koji.TagTarget) ([]int, []error, error)
	// TaskStates returns, in one request, the states of tasks and the
	// faults they failed with (nil for an unknown task).
	TaskStates(ctx context.Context, ids []int) ([]*koji.Task, error)
	// CancelTask cancels a task of ours that lost a race to a twin.
	CancelTask(ctx context.Context, id int) error
	// MoveBuild starts a tagBuild task with fromtag: one task that takes
	// the build out of from and puts it into tag.
	MoveBuild(ctx context.Context, from, tag, nvr string) (int, error)
	// UntagBuilds takes builds out of tags in one request (strict=False):
	// per target nil or the fault; an error when the request as a whole
	// failed.
	UntagBuilds(ctx context.Context, targets []koji.TagTarget) ([]error, error)
	// GetBuildInfo returns a build with its types in one request.
	GetBuildInfo(ctx context.Context, nvrOrID string) (build.KojiBuild, error)
}

// Recorder keeps decisions. The pipeline calls every Recorder for each
// outcome it is about to acknowledge (matched, after tagging and
// announcing; unmatched; skipped; rule error; modulemd error), before the
// Ack. An error is a transient failure of the dependency
// DependencyDecisionStore: the event is held and the Record tried again.
type Recorder interface {
	Record(ctx context.Context, r decision.Record) error
}

// Rules gives the rule set in use; *reload.Coordinator has it.
type Rules interface {
	Current() *ruleset.Ruleset
}

// dependencyRules is what an event waits on while no rule set is loaded.
const dependencyRules = "rules"

// errNoRules is transient: events wait until rules load.
var errNoRules = errors.New("no rule set loaded")

// errStopping ends the wait of a held event when the service stops: it
// stays unacknowledged and the broker delivers it again.
var errStopping = errors.New("service stopping")

// AlreadyTagged is the error text announced for a destination where the
// build already was and no task of ours explains it (tagged by someone
// else, or longer ago than koji.FinishedWindow).
const AlreadyTagged = "already tagged"

// Config tunes the pipeline.
type Config struct {
	// Workers is how many events are handled at once, which is also the
	// bound on events in flight in this process; 1 by default.
	Workers int
	// StateFilter lists the build states let through
	// (build_state_msg_filter); ready and done by default.
	StateFilter []string
	// DryRun decides and logs, but calls no Koji method: each tagBuild is
	// logged and reported with task id 1, as the reference did.
	DryRun bool
	// RetryMin and RetryMax bound the backoff between attempts on a
	// dependency that is down; 1s and 30s by default.
	RetryMin, RetryMax time.Duration
	// GiveUpAfter, when positive, parks an event held that long
	// (retry_give_up_after); never by default.
	GiveUpAfter time.Duration
	// TaskPoll is how often the pending tagBuild tasks that events wait
	// on are asked about (all in one request); 1s by default.
	TaskPoll time.Duration
	// ShutdownTimeout bounds how long events in flight may take to finish
	// after Run's context ends; 30s by default.
	ShutdownTimeout time.Duration
	// ModulemdCacheSize is how many parsed modulemd documents are kept.
	ModulemdCacheSize int
	// MaxModulemdSize bounds a modulemd document (0: the default).
	MaxModulemdSize int
	// KojiUser is the Koji user the service tags as: a Koji event made
	// by it is an echo of the service's own work (koji_user, or asked of
	// the hub at start). Empty: no event is known as an echo, and
	// MaxReactionHops stops nothing.
	KojiUser string
	// MaxReactionHops bounds, per build, the consecutive reactions to
	// events the service's own user made (max_reaction_hops); 5 by
	// default.
	MaxReactionHops int
	// AnnounceUnmatchedKoji publishes build.tag.unmatched for Koji
	// events no rule matched (announce_unmatched_koji).
	AnnounceUnmatchedKoji bool
}

// Options carry the service's collaborators besides the pipeline's ends.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Recorders keep every decision before its event is acknowledged.
	Recorders []Recorder
	// Parker takes the events held longer than Config.GiveUpAfter;
	// required when that is set.
	Parker bus.Parker
	// Dropped, when set, is told of each event the pipeline drops before
	// deciding (a state build_state_msg_filter leaves out, a scratch
	// build), with the reason: the decisions the recorders keep never
	// include these. Koji's events with no rule on their kind are
	// dropped too.
	Dropped func(m build.Message, reason string)
	// WhoAmI, when Config.KojiUser is empty, names the service's Koji
	// user: asked once, when the first Koji event is about to be acted
	// on (the event is held while it fails).
	WhoAmI func(ctx context.Context) (string, error)
}

// Service is the pipeline. Build it with New, then call Run, or Handle
// for one event.
type Service struct {
	cfg       Config
	consumer  bus.Consumer
	pub       bus.Publisher
	tagger    Tagger
	source    source.Source
	rules     Rules
	recorders []Recorder
	parker    bus.Parker
	dropped   func(build.Message, string)
	log       *slog.Logger
	m         *metrics
	docs      *lru.Cache[int64, document] // nil: no cache
	// kojiDocs are the documents of Koji module builds, by Koji build id
	// (a number space of its own, apart from MBS's).
	kojiDocs *lru.Cache[int64, document] // nil: no cache
	// chains counts, per build, the reactions to the service's own
	// events (see loop.go); per process.
	chains *lru.Cache[string, chain]
	whoAmI func(context.Context) (string, error)
	// askMu lets one worker ask the hub who we are while the others
	// wait for its answer, instead of every worker asking.
	askMu    sync.Mutex
	userMu   sync.Mutex
	user     string // the Koji user, once known
	filter   map[string]bool
	gates    *gates
	stopping chan struct{}
	stopOnce sync.Once
	poll     *poller

	heldMu sync.Mutex
	held   map[*hold]struct{}

	// busy has a lock for each module build being handled: two copies of
	// one event in this process run one after the other, so that the
	// second finds the first one's task instead of racing it.
	busyMu sync.Mutex
	busy   map[string]*buildLock
}

type buildLock struct {
	mu      sync.Mutex
	waiters int
}

// lockBuild waits until no other worker handles the build key and returns
// the function that lets the next one in.
func (s *Service) lockBuild(key string) (unlock func()) {
	s.busyMu.Lock()
	l := s.busy[key]
	if l == nil {
		l = &buildLock{}
		s.busy[key] = l
	}
	l.waiters++
	s.busyMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.busyMu.Lock()
		defer s.busyMu.Unlock()
		if l.waiters--; l.waiters == 0 {
			delete(s.busy, key)
		}
	}
}

// New assembles a service. A nil pub announces nothing (dry run: the
// messages are logged instead); tagger may be nil only with DryRun; c may
// be nil for a service used only through Handle.
func New(cfg Config, c bus.Consumer, pub bus.Publisher, tagger Tagger, src source.Source, rules Rules, opts Options) (*Service, error) {
	switch {
	case src == nil:
		return nil, errors.New("service: no modulemd source")
	case rules == nil:
		return nil, errors.New("service: no rules")
	case tagger == nil && !cfg.DryRun:
		return nil, errors.New("service: no Koji client")
	case cfg.GiveUpAfter > 0 && opts.Parker == nil:
		return nil, errors.New("service: retry_give_up_after needs a parking destination")
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if len(cfg.StateFilter) == 0 {
		cfg.StateFilter = []string{"ready", "done"}
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(cfg.RetryMin, 30*time.Second)
	}
	if cfg.TaskPoll <= 0 {
		cfg.TaskPoll = time.Second
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxReactionHops <= 0 {
		cfg.MaxReactionHops = DefaultMaxReactionHops
	}
	var docs, kojiDocs *lru.Cache[int64, document]
	if cfg.ModulemdCacheSize > 0 {
		var err error
		if docs, err = lru.New[int64, document](cfg.ModulemdCacheSize); err != nil {
			return nil, fmt.Errorf("service: modulemd cache: %w", err)
		}
		if kojiDocs, err = lru.New[int64, document](cfg.ModulemdCacheSize); err != nil {
			return nil, fmt.Errorf("service: modulemd cache: %w", err)
		}
	}
	chains, err := lru.New[string, chain](chainCacheSize)
	if err != nil {
		return nil, fmt.Errorf("service: reaction chains: %w", err)
	}
	filter := make(map[string]bool, len(cfg.StateFilter))
	for _, s := range cfg.StateFilter {
		filter[s] = true
	}
	m := newMetrics(opts.Registerer)
	s := &Service{
		cfg: cfg, consumer: c, pub: pub, tagger: tagger, source: src, rules: rules,
		recorders: opts.Recorders, parker: opts.Parker, dropped: opts.Dropped,
		log: log, m: m, filter: filter, docs: docs, kojiDocs: kojiDocs, chains: chains,
		whoAmI: opts.WhoAmI, user: cfg.KojiUser,
		gates: newGates(cfg.RetryMin, cfg.RetryMax, func(name string, up bool) {
			v := 0.0
			if up {
				v = 1
			}
			m.depUp.WithLabelValues(name).Set(v)
		}),
		stopping: make(chan struct{}),
		held:     map[*hold]struct{}{},
		busy:     make(map[string]*buildLock),
	}
	s.poll = newPoller(tagger, cfg.TaskPoll, s.stopping)
	s.gates.add(src.Dependency())
	s.gates.add(dependencyRules)
	if tagger != nil && !cfg.DryRun {
		s.gates.add(DependencyKoji)
	}
	if pub != nil || opts.Parker != nil {
		s.gates.add(DependencyBus)
	}
	if len(opts.Recorders) > 0 {
		s.gates.add(DependencyDecisionStore)
	}
	return s, nil
}

// Run handles events with cfg.Workers workers until ctx ends or the
// consumer is closed or exhausted. When ctx ends, no new event is taken
// and held events stop waiting (they stay unacknowledged, and the broker
// delivers them again); events being worked on are finished and settled,
// for at most cfg.ShutdownTimeout, after which their work is cancelled.
// Run does not close the consumer or the publisher.
func (s *Service) Run(ctx context.Context) error {
	if s.consumer == nil {
		return errors.New("service: no consumer")
	}
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		s.stopOnce.Do(func() { close(s.stopping) })
		s.log.Info("stopping: no new events; finishing those in flight", "deadline", s.cfg.ShutdownTimeout.String())
		t := time.NewTimer(s.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.log.Warn("shutdown deadline passed; events still in flight stay unacknowledged for the broker to deliver again")
			abandon()
		}
	}()
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.worker(ctx, work) })
	}
	wg.Wait()
	close(done)
	return nil
}

func (s *Service) worker(ctx, work context.Context) {
	backoff := bus.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		if s.gates.waitIntake(ctx) != nil {
			return
		}
		d, err := s.consumer.Receive(ctx)
		switch {
		case err == nil:
			backoff.Reset()
			_, _ = s.Handle(work, d)
		case ctx.Err() != nil, errors.Is(err, bus.ErrClosed):
			return
		default:
			s.log.Error("receiving from the bus", "error", err)
			if backoff.Wait(ctx) != nil {
				return
			}
		}
	}
}

// Handle takes one event through the pipeline and settles it: it returns
// once the outcome is durable and the event acknowledged, or, with an
// error, when ctx ended or the service stopped first, leaving the event
// unacknowledged. The outcome is one of the Outcome constants.
func (s *Service) Handle(ctx context.Context, d bus.Delivery) (string, error) {
	start := time.Now()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	msg := d.Message()
	var ev build.Event
	if m := msg.Module; m != nil {
		ev = *m
	}
	var log *slog.Logger
	key := ev.NSVC()
	if k := msg.Koji; k != nil {
		log = s.log.With("event_id", k.Build.ID, "message_id", d.MessageID(), "kind", string(k.Kind), "nvr", k.Build.NVR())
		if k.Tag != "" {
			log = log.With("tag", k.Tag)
		}
		if k.User != "" {
			log = log.With("user", k.User)
		}
		// Apart from module keys (N:S:V:C), which never look like an NVR
		// with this prefix.
		key = "koji:" + k.Build.NVR()
	} else {
		log = s.log.With("event_id", ev.ID, "message_id", d.MessageID(), "module", ev.NSVC(), "state", ev.StateName)
	}
	h := &hold{s: s, msg: msg, msgID: d.MessageID()}
	defer h.release()
	unlock := s.lockBuild(key)
	var outcome string
	var err error
	if msg.Koji != nil {
		outcome, err = s.processKoji(ctx, h, d, *msg.Koji, log)
	} else {
		outcome, err = s.process(ctx, h, d, ev, log)
	}
	unlock()
	if errors.Is(err, errGiveUp) {
		outcome, err = s.park(ctx, h, d, log)
	}
	if err != nil {
		s.m.events.WithLabelValues(OutcomeUnsettled).Inc()
		log.Warn("event left unacknowledged; the broker delivers it again", "error", err)
		return OutcomeUnsettled, err
	}
	// Settle even when ctx was cancelled by the shutdown deadline.
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if aerr := d.Ack(settle); aerr != nil {
		// The outcome is durable; a redelivery finds the build tagged.
		log.Error("ack failed; the broker may deliver the event again", "error", aerr)
	}
	if !h.first.IsZero() {
		s.m.heldTotal.Observe(time.Since(h.first).Seconds())
	}
	s.m.events.WithLabelValues(outcome).Inc()
	s.m.eventDuration.Observe(time.Since(start).Seconds())
	return outcome, nil
}

// do runs fn until it succeeds or fails permanently (its error is then
// returned), holding the event while fn fails otherwise: the dependency
// is marked down and fn is tried again when it is back or it is this
// event's turn to probe it.
func (s *Service) do(ctx context.Context, h *hold, dep string, permanent func(error) bool, log *slog.Logger, fn func(context.Context) error) error {
	held := false
	defer func() {
		if held {
			s.gates.unhold()
		}
	}()
	for {
		err := fn(ctx)
		if err == nil || (permanent != nil && permanent(err)) {
			s.gates.ok(dep)
			h.release()
			return err
		}
		if ctx.Err() != nil {
			s.gates.abandon(dep, h)
			return ctx.Err()
		}
		if s.gates.fail(dep, err) {
			log.Warn("dependency down; holding events until it answers", "dependency", dep, "error", err)
		} else {
			log.Debug("dependency still down", "dependency", dep, "error", err)
		}
		h.held(dep, err)
		if !held {
			held = true
			s.gates.hold()
		}
		s.m.retries.WithLabelValues(dep).Inc()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.stopping:
				cancel()
			case <-wctx.Done():
			}
		}()
		giveUp := s.cfg.GiveUpAfter
		if h.parking {
			giveUp = 0
		}
		werr := s.gates.await(wctx, dep, h, giveUp)
		cancel()
		switch {
		case werr == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(werr, errGiveUp):
			return fmt.Errorf("%w: %s: %w", errGiveUp, dep, err)
		default:
			return fmt.Errorf("%w: %w", errStopping, err)
		}
	}
}

// process returns the outcome once it is durable, or an error when the
// event must stay unacknowledged.
func (s *Service) process(ctx context.Context, h *hold, d bus.Delivery, ev build.Event, log *slog.Logger) (string, error) {
	reason := ""
	switch {
	case !s.filter[ev.StateName]:
		reason = fmt.Sprintf("state %q is not in build_state_msg_filter (%s)", ev.StateName, strings.Join(s.cfg.StateFilter, ", "))
	case ev.Scratch:
		reason = "scratch builds are never tagged"
	}
	if reason != "" {
		log.Debug("event dropped", "reason", reason)
		if s.dropped != nil {
			s.dropped(build.ModuleMessage(ev), reason)
		}
		return OutcomeFiltered, nil
	}
	rs, err := s.ruleset(ctx, h, log)
	if err != nil {
		return "", err
	}
	log = log.With("revision", rs.Revision)
	msg := build.ModuleMessage(ev)
	rec := decision.Record{EventID: ev.ID, MessageID: d.MessageID(), Revision: rs.Revision, DryRun: s.cfg.DryRun}
	md, err := s.document(ctx, h, ev, log)
	if err != nil {
		if !modulemdPermanent(err) {
			return "", err
		}
		s.m.modulemdErrors.Inc()
		log.Error("no usable modulemd; nothing tagged", "error", err)
		rec.Decision = decision.FromError(msg, fmt.Errorf("no modulemd: %w", err))
		return OutcomeModulemdError, s.record(ctx, h, rec, log)
	}
	t0 := time.Now()
	rec.Modulemd = md.text
	pd, err := rs.Decide(ev, md.doc)
	s.m.decision.Observe(time.Since(t0).Seconds())
	if err != nil {
		rec.Decision = decision.FromError(msg, err)
		s.ruleFailed(err, log)
		return OutcomeRuleError, s.record(ctx, h, rec, log)
	}
	rec.Decision = decision.For(msg, pd, nil)
	dec := &rec.Decision
	if pd.Rule != nil {
		log = log.With("rule_id", pd.Rule.ID, "destinations", pd.Destinations)
	}
	switch pd.Outcome {
	case policy.Skipped:
		log.Info("no rule applies to this state")
		return OutcomeSkipped, s.record(ctx, h, rec, log)
	case policy.Matched:
		s.m.matched.Inc()
		s.m.ruleHits.WithLabelValues(pd.Rule.ID).Inc()
		if err := s.tag(ctx, h, dec, log); err != nil {
			return "", err
		}
	}
	if err := s.announce(ctx, h, dec.Messages(), log); err != nil {
		return "", err
	}
	if err := s.record(ctx, h, rec, log); err != nil {
		return "", err
	}
	if pd.Outcome == policy.Matched {
		done := "build tagged"
		if s.cfg.DryRun {
			done = "build would be tagged (dry run)"
		}
		log.Info(done, "nvr", ev.NVR(), "results", dec.TagResults())
		return OutcomeMatched, nil
	}
	log.Info("no rule matched")
	return OutcomeUnmatched, nil
}

// ruleset is the rule set in use, waiting (the event held) while none
// is loaded.
func (s *Service) ruleset(ctx context.Context, h *hold, log *slog.Logger) (*ruleset.Ruleset, error) {
	var rs *ruleset.Ruleset
	err := s.do(ctx, h, dependencyRules, nil, log, func(context.Context) error {
		if rs = s.rules.Current(); rs == nil {
			return errNoRules
		}
		return nil
	})
	return rs, err
}

// ruleFailed counts and logs a decision that failed, naming the rule.
func (s *Service) ruleFailed(err error, log *slog.Logger) {
	s.m.ruleErrors.Inc()
	attrs := []any{"error", err}
	var ee *policy.EvalError
	if errors.As(err, &ee) {
		attrs = append(attrs, "rule_id", ee.RuleID, "rule_index", ee.RuleIndex, "at", ee.Source.String())
	}
	log.Error("rule evaluation failed; nothing done, nothing announced", attrs...)
}

// document is a build's modulemd: parsed for the rules, and its text for
// the decision records, so that a decision can be made again offline.
type document struct {
	doc  *modulemd.Document
	text string
}

func (s *Service) document(ctx context.Context, h *hold, ev build.Event, log *slog.Logger) (document, error) {
	if s.docs != nil {
		if d, ok := s.docs.Get(ev.ID); ok {
			return d, nil
		}
	}
	var text []byte
	err := s.do(ctx, h, s.source.Dependency(), modulemdPermanent, log, func(ctx context.Context) error {
		var err error
		text, err = s.source.Modulemd(ctx, ev)
		return err
	})
	if err != nil {
		return document{}, err
	}
	doc, err := modulemd.ParseLimit(text, s.cfg.MaxModulemdSize)
	if err != nil {
		return document{}, err
	}
	d := document{doc: doc, text: string(text)}
	if s.docs != nil {
		s.docs.Add(ev.ID, d)
	}
	return d, nil
}

func modulemdPermanent(err error) bool {
	return errors.Is(err, source.ErrNotFound) || errors.Is(err, modulemd.ErrInvalid)
}

func (s *Service) announce(ctx context.Context, h *hold, msgs []decision.Message, log *slog.Logger) error {
	for _, m := range msgs {
		body, err := json.Marshal(m.Body)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", m.Topic, err)
		}
		if s.pub == nil {
			log.Info("dry run: not published", "topic", m.Topic, "body", json.RawMessage(body))
			continue
		}
		err = s.do(ctx, h, DependencyBus, nil, log, func(ctx context.Context) error {
			err := s.pub.Publish(ctx, m.Topic, body)
			if err != nil {
				s.m.txFailed.Inc()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("publishing %s: %w", m.Topic, err)
		}
	}
	return nil
}

func (s *Service) record(ctx context.Context, h *hold, r decision.Record, log *slog.Logger) error {
	r.Time = time.Now().UTC().Format(time.RFC3339Nano)
	for _, rec := range s.recorders {
		err := s.do(ctx, h, DependencyDecisionStore, nil, log, func(ctx context.Context) error {
			return rec.Record(ctx, r)
		})
		if err != nil {
			return fmt.Errorf("recording the decision: %w", err)
		}
	}
	return nil
}

// park sends an event held longer than GiveUpAfter to the parking
// destination and acknowledges it there; a failed send is tried again
// (the event stays held) until it succeeds.
func (s *Service) park(ctx context.Context, h *hold, d bus.Delivery, log *slog.Logger) (string, error) {
	reason := fmt.Sprintf("held since %s: %s", h.first.UTC().Format(time.RFC3339), h.err)
	headers := map[string]string{
		bus.HeaderParkReason:     "retry_give_up_after: " + h.dep + " down",
		bus.HeaderParkError:      h.err,
		bus.HeaderParkHeldSince:  h.first.UTC().Format(time.RFC3339Nano),
		bus.HeaderParkMessageID:  d.MessageID(),
		bus.HeaderParkEventID:    bus.EventID(d.Message()),
		bus.HeaderParkDependency: h.dep,
	}
	h.parking = true
	err := s.do(ctx, h, DependencyBus, nil, log, func(ctx context.Context) error {
		return s.parker.Park(ctx, d.Body(), headers)
	})
	if err != nil {
		return "", err
	}
	s.m.parked.WithLabelValues(h.dep).Inc()
	log.Error("event parked: it waited longer than retry_give_up_after", "dependency", h.dep, "reason", reason)
	return OutcomeParked, nil
}
