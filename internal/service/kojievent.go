package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/policy"
)

// processKoji takes one of Koji's own build events through the pipeline,
// with the guarantees of an MBS event's: it returns the outcome once it
// is durable, or an error when the event must stay unacknowledged.
func (s *Service) processKoji(ctx context.Context, h *hold, d bus.Delivery, ev build.KojiEvent, log *slog.Logger) (string, error) {
	rs, err := s.ruleset(ctx, h, log)
	if err != nil {
		return "", err
	}
	if !slices.Contains(rs.Kinds(), ev.Kind) {
		reason := fmt.Sprintf("no rule decides on %s events", ev.Kind)
		log.Debug("event dropped", "reason", reason)
		s.observe(ev)
		if s.dropped != nil {
			s.dropped(build.Message{Kind: ev.Kind, Koji: &ev}, reason)
		}
		return OutcomeFiltered, nil
	}
	log = log.With("revision", rs.Revision)
	rec := decision.Record{EventID: ev.Build.ID, MessageID: d.MessageID(), Revision: rs.Revision, DryRun: s.cfg.DryRun}
	msg := func() build.Message { return build.Message{Kind: ev.Kind, Koji: &ev} }

	if !ev.Build.Complete && rs.NeedsBuildInfo(ev.Kind) {
		b, err := s.buildInfo(ctx, h, rs, ev, log)
		if err != nil {
			if errors.Is(err, errBuildInfo) {
				rec.Decision = decision.FromError(msg(), err)
				return OutcomeBuildInfoError, s.record(ctx, h, rec, log)
			}
			return "", err
		}
		ev.Build = b
	}

	md, err := s.kojiDocument(ev.Build)
	if err != nil {
		s.m.modulemdErrors.Inc()
		log.Error("the module build's modulemd cannot be read; nothing done", "error", err)
		rec.Decision = decision.FromError(msg(), fmt.Errorf("no modulemd: %w", err))
		return OutcomeModulemdError, s.record(ctx, h, rec, log)
	}
	rec.Modulemd = md.text

	t0 := time.Now()
	pd, err := rs.DecideMessage(msg(), md.doc)
	s.m.decision.Observe(time.Since(t0).Seconds())
	if err != nil {
		rec.Decision = decision.FromError(msg(), err)
		s.ruleFailed(err, log)
		s.observe(ev)
		return OutcomeRuleError, s.record(ctx, h, rec, log)
	}
	rec.Decision = decision.For(msg(), pd, pd.Untag)
	dec := &rec.Decision
	switch pd.Outcome {
	case policy.Skipped:
		s.observe(ev)
		log.Info("no rule applies to this event")
		return OutcomeSkipped, s.record(ctx, h, rec, log)
	case policy.Unmatched:
		s.observe(ev)
		log.Info("no rule matched")
		if m, ok := dec.KojiUnmatchedMessage(); ok && s.cfg.AnnounceUnmatchedKoji {
			if err := s.announce(ctx, h, []decision.Message{m}, log); err != nil {
				return "", err
			}
		}
		return OutcomeUnmatched, s.record(ctx, h, rec, log)
	}
	log = log.With("rule_id", pd.Rule.ID, "destinations", pd.Destinations, "untag", pd.Untag)
	if len(dec.Actions) > 0 {
		if !s.cfg.DryRun {
			if err := s.learnUser(ctx, h, log); err != nil {
				return "", err
			}
		}
		if lerr := s.react(ev, pd.Rule.ID, log); lerr != nil {
			stopped := decision.FromError(msg(), lerr)
			stopped.Rule = dec.Rule
			rec.Decision = stopped
			return OutcomeLoopStopped, s.record(ctx, h, rec, log)
		}
	}
	s.m.matched.Inc()
	s.m.ruleHits.WithLabelValues(pd.Rule.ID).Inc()
	if err := s.carryOut(ctx, h, dec, log); err != nil {
		return "", err
	}
	if len(dec.Actions) > 0 {
		s.reacted(ev, pd.Rule.ID)
	}
	if err := s.announce(ctx, h, dec.Messages(), log); err != nil {
		return "", err
	}
	if err := s.record(ctx, h, rec, log); err != nil {
		return "", err
	}
	done := "Koji event acted on"
	if s.cfg.DryRun {
		done = "Koji event would be acted on (dry run)"
	}
	log.Info(done, "actions", dec.Actions)
	return OutcomeMatched, nil
}

// errBuildInfo marks a build the hub cannot give: the event is decided
// as an error.
var errBuildInfo = errors.New("no build info")

// buildInfo asks the hub for the whole build of an event whose message
// carried only its identity (one request), holding the event while the
// hub does not answer.
func (s *Service) buildInfo(ctx context.Context, h *hold, rs *ruleset.Ruleset, ev build.KojiEvent, log *slog.Logger) (build.KojiBuild, error) {
	nvr := ev.Build.NVR()
	if s.tagger == nil {
		return build.KojiBuild{}, fmt.Errorf("%w: the message carries only the build's identity, the rules on %s read %s, and no hub is asked in this mode",
			errBuildInfo, ev.Kind, strings.Join(rs.ReadsBeyondIdentity(ev.Kind), ", "))
	}
	gone := func(err error) bool { return errors.Is(err, koji.ErrNotFound) || kojiPermanent(err) }
	var b build.KojiBuild
	err := s.do(ctx, h, DependencyKoji, gone, log, func(ctx context.Context) error {
		var err error
		b, err = s.tagger.GetBuildInfo(ctx, nvr)
		return err
	})
	switch {
	case err == nil:
		s.m.buildInfo.WithLabelValues("ok").Inc()
		return b, nil
	case errors.Is(err, koji.ErrNotFound):
		s.m.buildInfo.WithLabelValues("not_found").Inc()
		log.Error("the hub does not know the build; nothing done", "error", err)
		return build.KojiBuild{}, fmt.Errorf("%w: %w", errBuildInfo, err)
	case kojiPermanent(err):
		s.m.buildInfo.WithLabelValues("refused").Inc()
		log.Error("the hub refused the build's info; nothing done", "error", err)
		return build.KojiBuild{}, fmt.Errorf("%w: %w", errBuildInfo, err)
	}
	return build.KojiBuild{}, err
}

// kojiDocument is a module build's modulemd as the hub keeps it in the
// build's type info; the zero document for other builds.
func (s *Service) kojiDocument(b build.KojiBuild) (document, error) {
	text, ok := b.ModulemdText()
	if !ok {
		return document{}, nil
	}
	if s.kojiDocs != nil {
		if d, ok := s.kojiDocs.Get(b.ID); ok && d.text == text {
			return d, nil
		}
	}
	doc, err := decision.KojiDocument(b, s.cfg.MaxModulemdSize)
	if err != nil {
		return document{}, err
	}
	d := document{doc: doc, text: text}
	if s.kojiDocs != nil {
		s.kojiDocs.Add(b.ID, d)
	}
	return d, nil
}

// carryOut makes a Koji event's actions, filling in their results: the
// tags and moves first, with the look and the at-most-one-task rule of
// MBS events; then, once every one of them is done (its task closed),
// the untags, in one request. The look tells which untags and moves are
// done already, so that an event delivered again does nothing twice.
func (s *Service) carryOut(ctx context.Context, h *hold, d *decision.Decision, log *slog.Logger) error {
	var tagIdx, untagIdx []int
	var targets []koji.TagTarget
	for i, a := range d.Actions {
		switch a.Op {
		case decision.OpTag, decision.OpMove:
			tagIdx = append(tagIdx, i)
			targets = append(targets, koji.TagTarget{Tag: a.Tag, NVR: a.NVR, From: a.From})
		case decision.OpUntag:
			untagIdx = append(untagIdx, i)
		}
	}
	var look []koji.TagState
	if len(targets) > 0 {
		results, states, err := s.tagAll(ctx, h, targets, log)
		if err != nil {
			return err
		}
		look = states
		for j, i := range tagIdx {
			a := &d.Actions[i]
			a.TaskID, a.Error = results[j].TaskID, results[j].Error
			if a.Op == decision.OpMove && results[j].FromTag == "" {
				log.Info("the build is no longer in the move's source tag: tagged instead", "tag", a.Tag, "from", a.From)
				a.Op, a.From = decision.OpTag, ""
			}
		}
	}
	if len(untagIdx) == 0 {
		return nil
	}
	if s.cfg.DryRun {
		for _, i := range untagIdx {
			log.Info("dry run: untagBuild not called", "tag", d.Actions[i].Tag, "nvr", d.Actions[i].NVR)
		}
		return nil
	}
	if why, err := s.tagsDone(ctx, h, d, tagIdx, log); err != nil {
		return err
	} else if why != "" {
		for _, i := range untagIdx {
			d.Actions[i].Error = "not done: " + why
		}
		log.Warn("untags not done: a tag of the event failed", "reason", why)
		return nil
	}
	nvr := d.Actions[untagIdx[0]].NVR
	if look == nil {
		// Only untags, or the first look was refused: one look of its own.
		err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
			var err error
			look, err = s.tagger.TagStates(ctx, []koji.TagTarget{{NVR: nvr}})
			return err
		})
		if err != nil && !kojiPermanent(err) {
			return err
		}
	}
	todo := untagIdx
	if len(look) > 0 {
		todo = slices.DeleteFunc(slices.Clone(untagIdx), func(i int) bool {
			if look[0].InTag(d.Actions[i].Tag) {
				return false
			}
			log.Info("build not in the tag; nothing to untag", "tag", d.Actions[i].Tag)
			return true
		})
	}
	if len(todo) == 0 {
		return nil
	}
	return s.untagAll(ctx, h, d, todo, log)
}

// tagsDone waits until the tasks of the tag and move actions finished and
// returns why the untags must not be made: a tag refused, or a task that
// did not tag the build; "" when every one is done.
func (s *Service) tagsDone(ctx context.Context, h *hold, d *decision.Decision, tagIdx []int, log *slog.Logger) (string, error) {
	for _, i := range tagIdx {
		a := d.Actions[i]
		switch {
		case a.Error == AlreadyTagged:
			continue
		case a.Error != "":
			return fmt.Sprintf("%s into %s failed: %s", a.Op, a.Tag, a.Error), nil
		case a.TaskID == nil:
			return fmt.Sprintf("%s into %s has no task", a.Op, a.Tag), nil
		}
		task, err := s.waitTask(ctx, h, int(*a.TaskID), log)
		if err != nil {
			return "", err
		}
		if task.State != koji.TaskClosed && !task.AlreadyTagged() {
			why := fmt.Sprintf("%s into %s: task %d did not tag the build", a.Op, a.Tag, task.ID)
			if task.Fault != nil {
				why += ": " + task.Fault.Error()
			}
			return why, nil
		}
	}
	return "", nil
}

// untagAll takes the build out of the tags of the untag actions at idx,
// in one request, holding the event while the hub fails otherwise than
// with a refusal; a refusal is that action's error.
func (s *Service) untagAll(ctx context.Context, h *hold, d *decision.Decision, idx []int, log *slog.Logger) error {
	pending := idx
	err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
		targets := make([]koji.TagTarget, len(pending))
		for j, i := range pending {
			targets[j] = koji.TagTarget{Tag: d.Actions[i].Tag, NVR: d.Actions[i].NVR}
		}
		errs, err := s.tagger.UntagBuilds(ctx, targets)
		if err != nil {
			return err
		}
		var again []int
		var first error
		for j, i := range pending {
			switch e := errs[j]; {
			case e == nil:
				log.Info("build untagged", "tag", d.Actions[i].Tag)
			case kojiPermanent(e):
				s.refusedUntag(d, i, e, log)
			default:
				again = append(again, i)
				first = cmp.Or(first, e)
			}
		}
		pending = again
		return first
	})
	if err != nil && kojiPermanent(err) {
		// The request as a whole was refused: each untag is.
		for _, i := range pending {
			s.refusedUntag(d, i, err, log)
		}
		return nil
	}
	if err != nil {
		tags := make([]string, 0, len(pending))
		for _, i := range pending {
			tags = append(tags, d.Actions[i].Tag)
		}
		return fmt.Errorf("untagging %s from %s: %w", d.Actions[idx[0]].NVR, strings.Join(tags, ", "), err)
	}
	return nil
}

func (s *Service) refusedUntag(d *decision.Decision, i int, err error, log *slog.Logger) {
	s.m.untagRefused.Inc()
	log.Error("untagBuild refused", "tag", d.Actions[i].Tag, "fault", koji.FaultCode(err), "error", err)
	d.Actions[i].Error = faultText(err)
}
