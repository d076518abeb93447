// Package service is the pipeline of `mts serve`: it takes module build
// events from a bus, drops those no rule should see, fetches the build's
// modulemd, decides with the current rule set, tags the build and its
// -devel twin in Koji, announces the result on the bus, and only then
// acknowledges the event. Transient failures are retried and then handed
// back to the broker; a redelivered event does not tag twice.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/eval"
	"github.com/fedora-modularity/mts/internal/mbs"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/plan"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/policy"
)

// Tagger is what the service needs from Koji; *koji.Client has it.
type Tagger interface {
	// TagBuild starts a tagBuild task and returns its id.
	TagBuild(ctx context.Context, tag, nvr string) (int, error)
	// IsTagged reports whether nvr is already in tag (listTagged with a
	// package filter).
	IsTagged(ctx context.Context, tag, nvr string) (bool, error)
}

// ModulemdSource returns the final modulemd document of an event's build.
// Errors wrapping ErrNoModulemd, mbs.ErrNotFound or a non-retryable Koji
// fault are permanent; others are retried.
type ModulemdSource interface {
	Modulemd(ctx context.Context, ev build.Event) ([]byte, error)
}

// Rules gives the rule set in use; *reload.Coordinator has it.
type Rules interface {
	Current() *ruleset.Ruleset
}

// ErrNoModulemd marks a build that has no modulemd document to be had.
var ErrNoModulemd = errors.New("no modulemd for the build")

// errNoRules is transient: events wait on the broker until rules load.
var errNoRules = errors.New("no rule set loaded")

// AlreadyTagged is the error text announced for a destination where the
// build already was, so no tagBuild task was started (a redelivered event,
// or a retry that found the first attempt had reached the hub).
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
	// CheckTagged skips destinations where the build already is.
	CheckTagged bool
	// RetryAttempts is how many times a step that fails transiently is
	// tried before the event is handed back; RetryMin and RetryMax bound
	// the pause between tries.
	RetryAttempts      int
	RetryMin, RetryMax time.Duration
	// ShutdownTimeout bounds how long events in flight may take to finish
	// after Run's context ends; 30s by default.
	ShutdownTimeout time.Duration
	// ModulemdCacheSize is how many parsed modulemd documents are kept.
	ModulemdCacheSize int
}

// Options carry the service's collaborators besides the pipeline's ends.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// DecisionLog, when set, gets one JSON line per decision.
	DecisionLog io.Writer
	// Recorder, when set, keeps every decision before its event is
	// acknowledged; when it fails, the event goes back to the broker.
	Recorder Recorder
}

// Recorder keeps decisions durably; *history.Store has it.
type Recorder interface {
	Record(ctx context.Context, r eval.Record) error
}

// Service is the pipeline. Build it with New, then call Run.
type Service struct {
	cfg      Config
	consumer bus.Consumer
	pub      bus.Publisher
	tagger   Tagger
	source   ModulemdSource
	rules    Rules
	log      *slog.Logger
	m        *metrics
	docs     *lru.Cache[int64, document] // nil: no cache
	recorder Recorder
	filter   map[string]bool

	dlogMu sync.Mutex
	dlog   io.Writer

	// busy has a lock for each module build being handled: two copies of
	// one event in this process (a redelivery racing the original, a
	// sender's retry stored twice) run one after the other, so that the
	// second finds the build tagged instead of starting a second task.
	busyMu sync.Mutex
	busy   map[string]*buildLock
	// started remembers the tagBuild tasks this process started: until a
	// task has run, Koji does not show the build in the tag, and a second
	// copy of the event would start a second task.
	started *expirable.LRU[[2]string, int64]
}

// startedTaskTTL bounds how long a started task stands for the build
// being tagged; tagBuild tasks run within seconds, and one that failed
// should not stop a later event from trying again for long.
const startedTaskTTL = 10 * time.Minute

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
// messages are logged instead); tagger may be nil only with DryRun.
func New(cfg Config, c bus.Consumer, pub bus.Publisher, tagger Tagger, src ModulemdSource, rules Rules, opts Options) (*Service, error) {
	switch {
	case c == nil:
		return nil, errors.New("service: no consumer")
	case src == nil:
		return nil, errors.New("service: no modulemd source")
	case rules == nil:
		return nil, errors.New("service: no rules")
	case tagger == nil && !cfg.DryRun:
		return nil, errors.New("service: no Koji client")
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if len(cfg.StateFilter) == 0 {
		cfg.StateFilter = []string{"ready", "done"}
	}
	if cfg.RetryAttempts < 1 {
		cfg.RetryAttempts = 1
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var docs *lru.Cache[int64, document]
	if cfg.ModulemdCacheSize > 0 {
		var err error
		if docs, err = lru.New[int64, document](cfg.ModulemdCacheSize); err != nil {
			return nil, fmt.Errorf("service: modulemd cache: %w", err)
		}
	}
	filter := make(map[string]bool, len(cfg.StateFilter))
	for _, s := range cfg.StateFilter {
		filter[s] = true
	}
	return &Service{
		cfg: cfg, consumer: c, pub: pub, tagger: tagger, source: src, rules: rules,
		log: log, m: newMetrics(opts.Registerer), filter: filter,
		docs: docs, dlog: opts.DecisionLog, recorder: opts.Recorder, busy: make(map[string]*buildLock),
		started: expirable.NewLRU[[2]string, int64](4096, nil, startedTaskTTL),
	}, nil
}

// Run handles events with cfg.Workers workers until ctx ends or the
// consumer is closed or exhausted. When ctx ends, no new event is taken;
// events in flight are finished and settled, for at most
// cfg.ShutdownTimeout, after which their work is cancelled and they are
// handed back. Run does not close the consumer or the publisher.
func (s *Service) Run(ctx context.Context) error {
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		s.log.Info("stopping: no new events; finishing those in flight", "deadline", s.cfg.ShutdownTimeout.String())
		t := time.NewTimer(s.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.log.Warn("shutdown deadline passed; events still in flight go back to the broker")
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
		d, err := s.consumer.Receive(ctx)
		switch {
		case err == nil:
			backoff.Reset()
			s.Handle(work, d)
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

// Handle takes one event through the pipeline and settles it: Ack once
// the outcome is durable, Nack after a transient failure outlasted the
// retries. It returns the outcome (one of the Outcome constants).
func (s *Service) Handle(ctx context.Context, d bus.Delivery) string {
	start := time.Now()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	ev := d.Event()
	log := s.log.With("event_id", ev.ID, "message_id", d.MessageID(),
		"module", ev.Name+":"+ev.Stream+":"+ev.Version+":"+ev.Context, "state", ev.StateName)
	unlock := s.lockBuild(ev.Name + ":" + ev.Stream + ":" + ev.Version + ":" + ev.Context)
	outcome, err := s.process(ctx, d, ev, log)
	unlock()
	// Settle even when ctx was cancelled by the shutdown deadline: a Nack
	// that reaches the broker beats waiting for the connection to drop.
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err != nil {
		outcome = OutcomeRequeued
		log.Warn("handing the event back to the broker", "error", err)
		if nerr := d.Nack(settle); nerr != nil {
			log.Error("nack failed; the broker delivers the event again once the connection is gone", "error", nerr)
		}
	} else if aerr := d.Ack(settle); aerr != nil {
		// The outcome is durable; a redelivery finds the build tagged.
		log.Error("ack failed; the broker may deliver the event again", "error", aerr)
	}
	s.m.events.WithLabelValues(outcome).Inc()
	s.m.eventDuration.Observe(time.Since(start).Seconds())
	return outcome
}

// process returns the outcome, or an error when the event must go back to
// the broker.
func (s *Service) process(ctx context.Context, d bus.Delivery, ev build.Event, log *slog.Logger) (string, error) {
	if !s.filter[ev.StateName] {
		log.Debug("event dropped: state not in build_state_msg_filter")
		return OutcomeFiltered, nil
	}
	if ev.Scratch {
		log.Debug("event dropped: scratch build")
		return OutcomeFiltered, nil
	}
	rs := s.rules.Current()
	if rs == nil {
		return "", errNoRules
	}
	log = log.With("revision", rs.Revision)
	md, err := s.document(ctx, ev, log)
	if err != nil {
		if modulemdTransient(err) || ctx.Err() != nil {
			return "", err
		}
		s.m.modulemdErrors.Inc()
		log.Error("no usable modulemd; nothing tagged", "error", err)
		line := eval.Record{EventID: ev.ID, MessageID: d.MessageID(), Revision: rs.Revision, Event: ev, DryRun: s.cfg.DryRun,
			Result: eval.ErrorResult(fmt.Errorf("modulemd: %w", err))}
		if err := s.writeDecision(ctx, line); err != nil {
			return "", err
		}
		return OutcomeModulemdError, nil
	}
	pev := ev
	t0 := time.Now()
	dec, err := rs.Decide(pev, md.doc)
	s.m.decision.Observe(time.Since(t0).Seconds())
	line := eval.Record{EventID: ev.ID, MessageID: d.MessageID(), Revision: rs.Revision, Event: ev, DryRun: s.cfg.DryRun,
		Modulemd: md.text}
	if err != nil {
		line.Result = eval.FromError(err)
		s.m.ruleErrors.Inc()
		attrs := []any{"error", err}
		var ee *policy.EvalError
		if errors.As(err, &ee) {
			attrs = append(attrs, "rule_id", ee.RuleID, "rule_index", ee.RuleIndex, "at", ee.Source.String())
		}
		log.Error("rule evaluation failed; nothing tagged, nothing announced", attrs...)
		if err := s.writeDecision(ctx, line); err != nil {
			return "", err
		}
		return OutcomeRuleError, nil
	}
	p := plan.For(pev, dec)
	line.Result = eval.FromDecision(pev, dec)
	if dec.Rule != nil {
		log = log.With("rule_id", dec.Rule.ID, "destinations", dec.Destinations)
	}
	var results []plan.TagResult
	switch dec.Outcome {
	case policy.Skipped:
		log.Info("no rule applies to this state")
		if err := s.writeDecision(ctx, line); err != nil {
			return "", err
		}
		return OutcomeSkipped, nil
	case policy.Matched:
		s.m.matched.Inc()
		s.m.ruleHits.WithLabelValues(dec.Rule.ID).Inc()
		if results, err = s.tag(ctx, p, log); err != nil {
			line.SetError(err)
			s.logDecision(line)
			return "", err
		}
	}
	msgs := p.Messages(results)
	line.Messages = msgs
	if err := s.announce(ctx, msgs, log); err != nil {
		line.SetError(err)
		s.logDecision(line)
		return "", err
	}
	if err := s.writeDecision(ctx, line); err != nil {
		return "", err
	}
	if dec.Outcome == policy.Matched {
		msg := "build tagged"
		if s.cfg.DryRun {
			msg = "build would be tagged (dry run)"
		}
		log.Info(msg, "nvr", p.Builds[0].NVR, "results", results)
		return OutcomeMatched, nil
	}
	log.Info("no rule matched")
	return OutcomeUnmatched, nil
}

// document is a parsed modulemd document with its text, which decision
// records keep.
type document struct {
	doc  *modulemd.Document
	text string
}

func (s *Service) document(ctx context.Context, ev build.Event, log *slog.Logger) (document, error) {
	if s.docs != nil {
		if doc, ok := s.docs.Get(ev.ID); ok {
			return doc, nil
		}
	}
	var text []byte
	err := s.retry(ctx, "modulemd", modulemdTransient, log, func(ctx context.Context) error {
		var err error
		text, err = s.source.Modulemd(ctx, ev)
		return err
	})
	if err != nil {
		return document{}, err
	}
	parsed, err := modulemd.Parse(text)
	if err != nil {
		return document{}, err
	}
	doc := document{doc: parsed, text: string(text)}
	if s.docs != nil {
		s.docs.Add(ev.ID, doc)
	}
	return doc, nil
}

func modulemdTransient(err error) bool {
	switch {
	case errors.Is(err, ErrNoModulemd), errors.Is(err, modulemd.ErrInvalid),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case koji.FaultCode(err) != 0:
		return koji.Retryable(err)
	}
	return mbs.Transient(err)
}

// kojiPermanent reports a fault that belongs in the announcement: the
// request itself is wrong (unknown tag or build, not allowed, tag error)
// and a retry cannot help. Authentication and TLS problems are not: they
// are the service's own and the event waits on the broker for a fix.
func kojiPermanent(err error) bool {
	return koji.FaultCode(err) != 0 && !koji.Retryable(err) && !koji.IsAuthError(err)
}

func (s *Service) tag(ctx context.Context, p plan.Plan, log *slog.Logger) ([]plan.TagResult, error) {
	calls := p.TagCalls()
	results := make([]plan.TagResult, len(calls))
	for i, c := range calls {
		r := plan.TagResult{Tag: c.Tag}
		if s.cfg.DryRun {
			log.Info("dry run: tagBuild not called", "tag", c.Tag, "nvr", c.NVR)
			one := int64(1)
			r.TaskID = &one
			results[i] = r
			continue
		}
		if s.cfg.CheckTagged {
			var tagged bool
			err := s.retry(ctx, "koji", koji.Retryable, log, func(ctx context.Context) error {
				var err error
				tagged, err = s.tagger.IsTagged(ctx, c.Tag, c.NVR)
				return err
			})
			switch {
			case err == nil && tagged:
				s.m.alreadyTagged.Inc()
				log.Info("build already in the tag; no new task", "tag", c.Tag, "nvr", c.NVR)
				r.Error = AlreadyTagged
				results[i] = r
				continue
			case err != nil && !kojiPermanent(err):
				return nil, fmt.Errorf("checking %s in %s: %w", c.NVR, c.Tag, err)
			}
			// A permanent fault here (an unknown tag) comes back from
			// tagBuild too, where it is reported.
		}
		if id, ok := s.started.Get([2]string{c.Tag, c.NVR}); ok {
			log.Info("tagBuild task already started; no new task", "tag", c.Tag, "nvr", c.NVR, "task_id", id)
			r.TaskID = &id
			results[i] = r
			continue
		}
		var id int
		err := s.retry(ctx, "koji", koji.Retryable, log, func(ctx context.Context) error {
			var err error
			id, err = s.tagger.TagBuild(ctx, c.Tag, c.NVR)
			return err
		})
		switch {
		case err == nil:
			id64 := int64(id)
			r.TaskID = &id64
			s.started.Add([2]string{c.Tag, c.NVR}, id64)
		case errors.Is(err, koji.ErrAlreadyTagged):
			s.m.alreadyTagged.Inc()
			r.Error = AlreadyTagged
		case kojiPermanent(err):
			s.m.failedTag.Inc()
			log.Error("tagBuild refused", "tag", c.Tag, "nvr", c.NVR, "fault", koji.FaultCode(err), "error", err)
			r.Error = faultText(err)
		default:
			return nil, fmt.Errorf("tagging %s into %s: %w", c.NVR, c.Tag, err)
		}
		results[i] = r
	}
	return results, nil
}

// faultText is the hub's own text of the fault, as the reference put in
// the announcement.
func faultText(err error) string {
	var f *koji.Fault
	if errors.As(err, &f) {
		return f.Error()
	}
	return err.Error()
}

func (s *Service) announce(ctx context.Context, msgs []plan.Message, log *slog.Logger) error {
	for _, m := range msgs {
		body, err := json.Marshal(m.Body)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", m.Topic, err)
		}
		if s.pub == nil {
			log.Info("dry run: not published", "topic", m.Topic, "body", json.RawMessage(body))
			continue
		}
		err = s.retry(ctx, "publish", func(error) bool { return true }, log, func(ctx context.Context) error {
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

// retry runs fn until it succeeds, fails permanently, or has been tried
// RetryAttempts times, pausing with a growing, jittered delay.
func (s *Service) retry(ctx context.Context, step string, transient func(error) bool, log *slog.Logger, fn func(context.Context) error) error {
	backoff := bus.Backoff{Min: s.cfg.RetryMin, Max: s.cfg.RetryMax}
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !transient(err) || attempt >= s.cfg.RetryAttempts || ctx.Err() != nil {
			return err
		}
		s.m.retries.WithLabelValues(step).Inc()
		log.Warn("transient failure, trying again", "step", step, "attempt", attempt, "error", err)
		if backoff.Wait(ctx) != nil {
			return err
		}
	}
}

// writeDecision logs a decision whose event will be acknowledged and keeps
// it in the decision store; an error there holds the event.
func (s *Service) writeDecision(ctx context.Context, l eval.Record) error {
	l.Time = time.Now().UTC().Format(time.RFC3339Nano)
	s.logDecision(l)
	if s.recorder == nil {
		return nil
	}
	if err := s.recorder.Record(ctx, l); err != nil {
		return fmt.Errorf("recording the decision: %w", err)
	}
	return nil
}

func (s *Service) logDecision(l eval.Record) {
	if s.dlog == nil {
		return
	}
	if l.Time == "" {
		l.Time = time.Now().UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(l)
	if err != nil {
		s.log.Error("decision log", "error", err)
		return
	}
	s.dlogMu.Lock()
	defer s.dlogMu.Unlock()
	if _, err := s.dlog.Write(append(b, '\n')); err != nil {
		s.log.Error("decision log", "error", err)
	}
}
