package app_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// outageEvents is how many events each outage test sends; the outage
// starts once a fifth of them are handled, and the rest are sent while
// the dependency is away.
const outageEvents = 500

// TestOutages takes 500 events through an outage of Koji (20 s, and 3
// minutes) or of MBS (1 minute) in the middle of the stream: every event
// is tagged by exactly one task and announced with it, nothing is parked
// or dead-lettered, and the service is ready again afterwards.
func TestOutages(t *testing.T) {
	b := needBroker(t)
	tests := []struct {
		name   string
		first  int64
		outage time.Duration
		away   func(hub *kojitest.Hub, m *mbsStandIn, away bool)
		dep    string
	}{
		// The longest first: go test runs two parallel tests at a time on
		// two cores, and the others fit in its shadow.
		{"koji away 3min", 20000, 3 * time.Minute, func(h *kojitest.Hub, _ *mbsStandIn, away bool) { h.SetAway(away) }, "koji"},
		{"koji away 20s", 10000, 20 * time.Second, func(h *kojitest.Hub, _ *mbsStandIn, away bool) { h.SetAway(away) }, "koji"},
		{"mbs away 1min", 30000, time.Minute, func(_ *kojitest.Hub, m *mbsStandIn, away bool) { m.down.Store(away) }, "mbs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newBusNames("outage")
			hub := newHub(t)
			m := newMBS(t)
			w := newWatcher(t, b, n)
			createQueue(t, b, n)
			cfg := baseConfig(t, n, hub, m)
			// Backoff as in production, shortened: probes of a dependency
			// that is away are spaced out up to 5 s.
			cfg.RetryMinBackoff, cfg.RetryMaxBackoff = config.Duration(200*time.Millisecond), config.Duration(5*time.Second)
			r := startApp(t, cfg)
			s := newSender(t, b, n)
			ids := make([]int64, outageEvents)
			for i := range ids {
				ids[i] = tt.first + int64(i)
				addJava(hub, m, javaEvent(ids[i], "ready"))
			}
			for _, id := range ids[:outageEvents/2] {
				s.send(t, javaEvent(id, "ready"))
			}
			eventually(t, 2*time.Minute, "a fifth handled", func() bool { return r.events(service.OutcomeMatched) >= outageEvents/5 })
			tt.away(hub, m, true)
			start := time.Now()
			for _, id := range ids[outageEvents/2:] {
				s.send(t, javaEvent(id, "ready"))
			}
			eventually(t, 30*time.Second, "events held", func() bool { return gathered(r.reg, "mts_events_held", "", "") > 0 })
			code, body := get(t, "http://"+r.app.Addr()+"/readyz")
			if code != 503 || !slices.ContainsFunc(r.app.Service().Dependencies(), func(d service.DependencyState) bool { return d.Name == tt.dep && !d.Up }) {
				t.Errorf("/readyz during the outage: %d %q", code, body)
			}
			heldDuring := gathered(r.reg, "mts_events_held", "", "")
			time.Sleep(tt.outage - time.Since(start))
			matchedDuring := r.events(service.OutcomeMatched)
			tt.away(hub, m, false)

			eventually(t, 2*time.Minute, "every event handled", func() bool {
				return r.events(service.OutcomeMatched) >= outageEvents
			})
			if err := hub.WaitTasks(t.Context()); err != nil {
				t.Fatal(err)
			}
			canceled := hub.Canceled()
			perNVR := map[string][]int{}
			for _, c := range hub.TagCalls() {
				if c.TaskID != 0 && !slices.Contains(canceled, c.TaskID) {
					perNVR[c.NVR] = append(perNVR[c.NVR], c.TaskID)
				}
			}
			for _, id := range ids {
				ev := javaEvent(id, "ready")
				for _, nvr := range []string{ev.NVR(), ev.NVRFor(ev.Name + "-devel")} {
					if len(perNVR[nvr]) != 1 {
						t.Errorf("%s: tasks %v, want one", nvr, perNVR[nvr])
					}
				}
				eventually(t, 10*time.Second, "announced", func() bool { return len(w.forBuild(id)) >= 2 })
				for _, a := range w.forBuild(id) {
					dt := a.Body["destination_tags"].([]any)[0].(map[string]any)
					if dt["task_id"] == nil {
						t.Errorf("build %d announced without a task: %v", id, dt)
					}
				}
			}
			if got := len(hub.Tagged("f29-modular-ursamajor")); got != 2*outageEvents {
				t.Errorf("%d builds tagged, want %d", got, 2*outageEvents)
			}
			if got := gathered(r.reg, "mts_events_parked_total", "", ""); got != 0 {
				t.Errorf("%v events parked", got)
			}
			if code, body := get(t, "http://"+r.app.Addr()+"/readyz"); code != 200 {
				t.Errorf("/readyz after the outage: %d %q", code, body)
			}
			expectNotDeadLettered(t, b, ids)
			t.Logf("held during the outage: %v; matched by its end: %v; koji calls: %d; mbs calls: %d",
				heldDuring, matchedDuring, len(hub.Calls()), m.calls.Load())
		})
	}
}

// expectNotDeadLettered reads ActiveMQ's dead letter queue for a moment
// and fails if any of ids is there.
func expectNotDeadLettered(t *testing.T, b *testenv.ActiveMQ, ids []int64) {
	t.Helper()
	conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Disconnect() }()
	sub, err := conn.Subscribe("/queue/ActiveMQ.DLQ", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	timeout := time.After(time.Second)
	for {
		select {
		case m := <-sub.C:
			if m == nil || m.Err != nil {
				return
			}
			var ev struct {
				ID int64 `json:"id"`
			}
			if json.Unmarshal(m.Body, &ev) == nil && slices.Contains(ids, ev.ID) {
				t.Errorf("event %d is in ActiveMQ.DLQ", ev.ID)
			}
		case <-timeout:
			return
		}
	}
}
