package app_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestKojiEventsEndToEnd runs the service on Koji's own events on every
// bus they come on, sent by the stand-in hub as the real hub's plugins
// send them (protonmsg over STOMP to ActiveMQ and over AMQP 1.0 to
// RabbitMQ, koji-fedoramessaging's flat bodies over AMQP 0-9-1), with the
// rules of testdata/serve/rules-koji:
//   - imported container images (build.complete with empty btypes) are
//     tagged into the candidate tag; the echo of that tag (build.tag by
//     mts) moves them to signing-pending, whose echo tags them into the
//     index, whose echo matches nothing: one task per build and tag;
//   - a build someone tags into f40-blocked is untagged at once;
//   - a build tagged into loop-x is moved between loop-x and loop-y by
//     two rules until max_reaction_hops stops it, and the stop is
//     recorded.
//
// Every step is announced (build.tag.requested with the task ids and the
// move's from_tag, build.untag.requested) and recorded.
func TestKojiEventsEndToEnd(t *testing.T) {
	for _, b := range kojiBuses {
		t.Run(b.name, func(t *testing.T) {
			ks := newKojiStack(t, b.setup(t), kojitest.WithTaskDelay(100*time.Millisecond))
			extra := ""
			if b.name == "fedora-messaging-amqp091" {
				// The user named in the settings, not asked of the hub.
				extra = "koji_user: mts\n"
			}
			recs := &kojiRecords{}
			r := startApp(t, ks.config(t, extra), recs)

			const count = 6
			images := ks.importImages(100, count)
			blocked := []string{"bash-5.2.26-1.fc40", "bash-5.2.26-2.fc40"}
			for _, nvr := range blocked {
				ks.hub.AddBuild(kojitest.Build{NVR: nvr})
				ks.hub.Tag(tagBlocked, nvr)
			}
			const loopy = "loopy-1.0-1.fc40"
			ks.hub.AddBuild(kojitest.Build{NVR: loopy})
			ks.hub.Tag(tagLoopX, loopy)

			ks.expectChainDone(t, 60*time.Second, images)
			ks.expectChainAnnounced(t, 10*time.Second, images, true)
			for _, nvr := range images {
				for _, rule := range []string{"images", "candidate-to-pending", "pending-index"} {
					eventually(t, 10*time.Second, nvr+" decided by "+rule, func() bool { return recs.matchedBy(nvr, rule) >= 1 })
					if n := recs.matchedBy(nvr, rule); n != 1 {
						t.Errorf("%s: rule %s matched %d events, want 1", nvr, rule, n)
					}
				}
				// The follow rule's own echo (the index tag by mts) is
				// decided, and does nothing.
				eventually(t, 10*time.Second, nvr+": the echo of its index tag decided", func() bool {
					for _, rec := range recs.of(nvr) {
						if ev := rec.Decision.Event.Koji; ev.Tag == tagIndex && string(ev.Kind) == "build.tag" {
							return len(rec.Decision.Actions) == 0 && !rec.Decision.Matched() && ev.User == "mts"
						}
					}
					return false
				})
			}

			eventually(t, 30*time.Second, "the blocked builds untagged", func() bool { return len(ks.hub.Tagged(tagBlocked)) == 0 })
			untags := map[string]int{}
			for _, c := range ks.hub.UntagCalls() {
				untags[c.NVR+" "+c.Tag]++
			}
			for _, nvr := range blocked {
				if n := untags[nvr+" "+tagBlocked]; n != 1 {
					t.Errorf("%s: untagged from %s %d times, want 1", nvr, tagBlocked, n)
				}
				id := ks.buildID(t, nvr)
				eventually(t, 10*time.Second, nvr+": build.untag.requested", func() bool { return len(ks.bus.w.untagsAnnounced(id)) > 0 })
				if got := ks.bus.w.untagsAnnounced(id); !slices.Equal(got, []string{tagBlocked}) {
					t.Errorf("%s: untags announced %v, want [%s]", nvr, got, tagBlocked)
				}
			}

			expectLoopBounded(t, ks.hub, loopy)
			expectLoopStopRecorded(t, recs, loopy)
			if got := r.events(service.OutcomeLoopStopped); got != 1 {
				t.Errorf("%v events counted %s, want 1", got, service.OutcomeLoopStopped)
			}
			if got := r.events(service.OutcomeUnsettled) + r.events(service.OutcomeParked); got != 0 {
				t.Errorf("%v events unsettled or parked", got)
			}
			t.Logf("%s: %d messages from the hub, events matched %v, unmatched %v, skipped %v; hub calls %d",
				b.name, len(ks.relay.snapshot()), r.events(service.OutcomeMatched), r.events(service.OutcomeUnmatched),
				r.events(service.OutcomeSkipped), len(ks.hub.Calls()))
		})
	}
}
