package app_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
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
			o := newOutageRun(t, b, tt.first, newWatcher)
			o.sendHalf(t, 0, o.s.send)
			o.waitFifth(t)
			tt.away(o.hub, o.mbs, true)
			start := time.Now()
			o.sendHalf(t, 1, o.s.send)
			eventually(t, 30*time.Second, "events held", func() bool { return gathered(o.r.reg, "mts_events_held", "", "") > 0 })
			code, body := get(t, "http://"+o.r.app.Addr()+"/readyz")
			if code != 503 || !slices.ContainsFunc(o.r.app.Service().Dependencies(), func(d service.DependencyState) bool { return d.Name == tt.dep && !d.Up }) {
				t.Errorf("/readyz during the outage: %d %q", code, body)
			}
			heldDuring := gathered(o.r.reg, "mts_events_held", "", "")
			time.Sleep(tt.outage - time.Since(start))
			matchedDuring := o.r.events(service.OutcomeMatched)
			tt.away(o.hub, o.mbs, false)
			o.expectEachTaggedOnce(t)
			t.Logf("held during the outage: %v; matched by its end: %v; koji calls: %d; mbs calls: %d",
				heldDuring, matchedDuring, len(o.hub.Calls()), o.mbs.calls.Load())
		})
	}
}

// TestBrokerRestartIn500Events kills ActiveMQ in the middle of 500 events
// and starts it again while the rest are being sent: every event is
// tagged by exactly one task and announced with it, nothing is parked or
// dead-lettered. Unlike the outages of Koji and MBS this one cannot share
// the broker with other tests, so it runs on its own.
func TestBrokerRestartIn500Events(t *testing.T) {
	b := needBroker(t)
	o := newOutageRun(t, b, 40000, newQueueWatcher)
	rs := newResilientSender(t, b, o.n)
	send := func(_ testing.TB, ev build.Event) { rs.send(ev) }
	o.sendHalf(t, 0, send)
	o.waitFifth(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	restarted := make(chan error, 1)
	go func() {
		b.Kill()
		restarted <- b.Start(ctx)
	}()
	// These wait for the broker to come back.
	o.sendHalf(t, 1, send)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	o.expectEachTaggedOnce(t)
	if got := gathered(o.r.reg, bus.MetricReconnects, "bus", "stomp"); got < 1 {
		t.Errorf("%s = %v, want a reconnection", bus.MetricReconnects, got)
	}
	t.Logf("%v events matched, %d sends retried, koji calls: %d", o.r.events(service.OutcomeMatched), len(rs.twice), len(o.hub.Calls()))
}

// outageRun is one service taking outageEvents events, with the stand-ins
// it uses and a watcher of what it announces.
type outageRun struct {
	b   *testenv.ActiveMQ
	n   busNames
	hub *kojitest.Hub
	mbs *mbsStandIn
	w   *watcher
	r   *running
	s   *sender
	ids []int64
}

// newOutageRun starts the service on queues of its own, with the hub and
// MBS knowing the builds of ids first, first+1, ...
func newOutageRun(t *testing.T, b *testenv.ActiveMQ, first int64, watch func(*testing.T, *testenv.ActiveMQ, busNames) *watcher) *outageRun {
	o := &outageRun{b: b, n: newBusNames("outage"), hub: newHub(t), mbs: newMBS(t)}
	o.w = watch(t, b, o.n)
	createQueue(t, b, o.n)
	cfg := baseConfig(t, o.n, o.hub, o.mbs)
	// Backoff as in production, shortened: probes of a dependency that is
	// away are spaced out up to 5 s.
	cfg.RetryMinBackoff, cfg.RetryMaxBackoff = config.Duration(200*time.Millisecond), config.Duration(5*time.Second)
	o.r = startApp(t, cfg)
	o.s = newSender(t, b, o.n)
	o.ids = make([]int64, outageEvents)
	for i := range o.ids {
		o.ids[i] = first + int64(i)
		addJava(o.hub, o.mbs, javaEvent(o.ids[i], "ready"))
	}
	return o
}

// sendHalf sends the first (half 0) or the second half (1) of the events.
func (o *outageRun) sendHalf(t *testing.T, half int, send func(testing.TB, build.Event)) {
	for _, id := range o.ids[half*outageEvents/2 : (half+1)*outageEvents/2] {
		send(t, javaEvent(id, "ready"))
	}
}

// waitFifth waits until a fifth of the events are handled: the outage
// starts there.
func (o *outageRun) waitFifth(t *testing.T) {
	eventually(t, 2*time.Minute, "a fifth handled", func() bool { return o.r.events(service.OutcomeMatched) >= outageEvents/5 })
}

// expectEachTaggedOnce waits until every event is handled, then checks
// that each build was tagged by one task that was not cancelled, that
// each was announced naming a task, that nothing was parked or
// dead-lettered, and that the service is ready.
func (o *outageRun) expectEachTaggedOnce(t *testing.T) {
	t.Helper()
	eventually(t, 2*time.Minute, "every event handled", func() bool {
		return o.r.events(service.OutcomeMatched) >= outageEvents
	})
	if err := o.hub.WaitTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	canceled := o.hub.Canceled()
	perNVR := map[string][]int{}
	for _, c := range o.hub.TagCalls() {
		if c.TaskID != 0 && !slices.Contains(canceled, c.TaskID) {
			perNVR[c.NVR] = append(perNVR[c.NVR], c.TaskID)
		}
	}
	for _, id := range o.ids {
		ev := javaEvent(id, "ready")
		for _, nvr := range []string{ev.NVR(), ev.NVRFor(ev.Name + "-devel")} {
			if len(perNVR[nvr]) != 1 {
				t.Errorf("%s: tasks %v, want one", nvr, perNVR[nvr])
			}
		}
		eventually(t, 10*time.Second, "announced", func() bool { return len(o.w.forBuild(id)) >= 2 })
		for _, a := range o.w.forBuild(id) {
			dt := a.Body["destination_tags"].([]any)[0].(map[string]any)
			if dt["task_id"] == nil {
				t.Errorf("build %d announced without a task: %v", id, dt)
			}
		}
	}
	if got := len(o.hub.Tagged("f29-modular-ursamajor")); got != 2*outageEvents {
		t.Errorf("%d builds tagged, want %d", got, 2*outageEvents)
	}
	if got := gathered(o.r.reg, "mts_events_parked_total", "", ""); got != 0 {
		t.Errorf("%v events parked", got)
	}
	if code, body := get(t, "http://"+o.r.app.Addr()+"/readyz"); code != 200 {
		t.Errorf("/readyz after the outage: %d %q", code, body)
	}
	expectNotDeadLettered(t, o.b, o.ids)
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
