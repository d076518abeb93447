package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/fedora-modularity/mts/internal/build"
)

// DefaultMaxReactionHops is max_reaction_hops's default.
const DefaultMaxReactionHops = 5

// chainCacheSize bounds the builds whose reaction chains are kept: a
// build forgotten starts again from nothing, which only delays a stop.
const chainCacheSize = 8192

// chain is a build's run of reactions to events made by the service's
// own Koji user, since the last event made by anyone else.
type chain struct {
	hops int
	// rules are the ids of the rules that reacted, oldest first.
	rules []string
}

// errNoUser holds Koji events while the hub names no logged-in user: until
// the service knows its own events it cannot bound its reactions.
var errNoUser = errors.New("the hub names no logged-in user")

// errLoop is the error recorded for an event not acted on.
type errLoop struct {
	hops int
	nvr  string
}

func (e errLoop) Error() string {
	return fmt.Sprintf("stopped after %d of its own reactions on %s (a rule loop?)", e.hops, e.nvr)
}

// ownEvent tells whether the event was made by the service's own user:
// one of its tags, untags or moves coming back. Until the user is known
// nothing was acted on, so no chain has begun.
func (s *Service) ownEvent(ev build.KojiEvent) bool {
	s.userMu.Lock()
	defer s.userMu.Unlock()
	return s.user != "" && ev.User == s.user
}

// learnUser asks WhoAmI for the service's Koji user when it is not known
// yet, before the first reaction, holding the event while the hub does
// not answer.
func (s *Service) learnUser(ctx context.Context, h *hold, log *slog.Logger) error {
	s.askMu.Lock()
	defer s.askMu.Unlock()
	s.userMu.Lock()
	known := s.user != "" || s.whoAmI == nil
	s.userMu.Unlock()
	if known {
		return nil
	}
	var name string
	err := s.do(ctx, h, DependencyKoji, kojiPermanent, log, func(ctx context.Context) error {
		var err error
		name, err = s.whoAmI(ctx)
		if err == nil && name == "" {
			err = errNoUser
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("asking the hub who we are: %w", err)
	}
	s.userMu.Lock()
	s.user = name
	s.userMu.Unlock()
	log.Info("Koji events made by this user are our own", "koji_user", name)
	return nil
}

// react tells whether the service may react to ev, a matched event with
// actions to carry out: the error to record instead when the build's
// chain of reactions to the service's own events is full. Reacted counts
// the reaction once it is carried out, so that an event held and
// delivered again counts once. An event made by anyone else starts a new
// chain. The caller holds the build's lock, so that the check and the
// count are one step.
func (s *Service) react(ev build.KojiEvent, rule string, log *slog.Logger) error {
	nvr := ev.Build.NVR()
	if !s.ownEvent(ev) {
		s.chains.Add(nvr, chain{})
		return nil
	}
	c, _ := s.chains.Get(nvr)
	if c.hops >= s.cfg.MaxReactionHops {
		s.m.loopStops.Inc()
		log.Warn("not acting on an event of our own: too many reactions in a row on the build (a rule loop?)",
			"hops", c.hops, "max_reaction_hops", s.cfg.MaxReactionHops, "chain_rule_ids", c.rules, "rule_id", rule)
		return errLoop{hops: c.hops, nvr: nvr}
	}
	return nil
}

// reacted counts a reaction by rule to ev, one of the service's own
// events, in its build's chain.
func (s *Service) reacted(ev build.KojiEvent, rule string) {
	if !s.ownEvent(ev) {
		return
	}
	nvr := ev.Build.NVR()
	c, _ := s.chains.Get(nvr)
	c.rules = append(append([]string(nil), c.rules...), rule)
	c.hops++
	s.chains.Add(nvr, c)
}

// observe notes an event that is not acted on: one made by anyone else
// still starts a new chain for its build.
func (s *Service) observe(ev build.KojiEvent) {
	if !s.ownEvent(ev) {
		nvr := ev.Build.NVR()
		if s.chains.Contains(nvr) {
			s.chains.Add(nvr, chain{})
		}
	}
}
