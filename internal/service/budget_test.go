package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// What an event may cost the hub: its build's getBuild (with the
// modulemd), the look before tagBuild, one request starting the build's
// and its -devel twin's tasks, and the look after them. Looks made at
// the same moment share a request, so a burst costs less per event.
const (
	loneEventRequests  = 4
	burstEventRequests = 3.5
	eventBytes         = 30 << 10
)

// TestHubBudgetPerEvent runs events with modulemd from Koji through the
// pipeline, one at a time and then as a burst through 16 workers with
// 400 tasks of ours already pending on the hub, and fails when an event
// costs the hub more requests or answer bytes than the budget (with
// modulemd documents of 1.9 KB, above the 1.2 KB of a real hub's
// average).
func TestHubBudgetPerEvent(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(serveData, "modulemd", "javapackages-tools-201801-f29.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hub := newHub(t, kojitest.WithTaskDelay(time.Hour))
	kc := newKoji(t, hub)
	event := func(i int) build.Event {
		ev := evJava
		ev.ID = int64(20000 + i)
		ev.Version = fmt.Sprint(2920190110130105 + i)
		for _, name := range []string{ev.Name, ev.Name + "-devel"} {
			hub.AddBuild(kojitest.Build{NVR: ev.NVRFor(name), Module: &kojitest.Module{
				Name: name, Stream: ev.Stream, Version: ev.Version, Context: ev.Context,
				ModulemdStr: string(doc), MBSID: ev.ID}})
		}
		return ev
	}
	svc, err := New(testCfg, nil, &fakePub{}, kc, source.Koji{Koji: kc}, loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Tasks of ours pending before: a look must not pay for them.
	for i := range 200 {
		if _, err := svc.Handle(t.Context(), &fakeDelivery{ev: event(i)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, before map[string]kojitest.MethodStats, events int, requests float64) {
		t.Helper()
		var reqs int
		var bytes int64
		for m, s := range hub.Stats() {
			reqs += s.Requests - before[m].Requests
			bytes += s.Bytes - before[m].Bytes
		}
		perReq, perBytes := float64(reqs)/float64(events), bytes/int64(events)
		t.Logf("%s: %.2f requests, %d bytes per event", what, perReq, perBytes)
		if perReq > requests || perBytes > eventBytes {
			t.Errorf("%s: %.2f requests and %d bytes per event, budget %v and %d", what, perReq, perBytes, requests, eventBytes)
		}
	}
	before := hub.Stats()
	const lone = 20
	for i := range lone {
		if _, err := svc.Handle(t.Context(), &fakeDelivery{ev: event(200 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	check("one at a time", before, lone, loneEventRequests)

	const burst = 400
	ch := make(chan bus.Delivery, burst)
	for i := range burst {
		ch <- &fakeDelivery{ev: event(1000 + i)}
	}
	close(ch)
	cfg := testCfg
	cfg.Workers = 16
	burstSvc, err := New(cfg, &chanConsumer{ch}, &fakePub{}, kc, source.Koji{Koji: kc}, loadRules(t, "fedora-mts-rules.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	before = hub.Stats()
	if err := burstSvc.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(fmt.Sprintf("burst of %d, 16 workers", burst), before, burst, burstEventRequests)
	if n := tagCalls(hub); n != 2*(220+burst) {
		t.Errorf("%d tagBuild calls for %d builds and their twins", n, 220+burst)
	}
}

// TestHubBudgetPerKojiEvent: one of Koji's events in Fedora's flat shape,
// whose rule reads the build's types, costs the hub no more than an MBS
// event: the build info, the look before tagBuild, the tagBuild and the
// look after it.
func TestHubBudgetPerKojiEvent(t *testing.T) {
	hub, evs := newKojiHub(t, kojitest.WithTaskDelay(time.Hour))
	svc, _, _ := kojiService(t, hub, "types.cel.yaml", testCfg, Options{})
	handle := func(i int) {
		nvr := fmt.Sprintf("bash-5.2.%d-1.fc40", i)
		hub.AddBuild(kojitest.Build{NVR: nvr})
		hub.Tag("f40-candidate", nvr)
		d := evs.mustTake(t, true)
		if outcome, err := svc.Handle(t.Context(), d); err != nil || outcome != OutcomeMatched {
			t.Fatalf("Handle = %q, %v", outcome, err)
		}
	}
	// Tasks of ours pending before: a look must not pay for them.
	for i := range 50 {
		handle(i)
	}
	before := hub.Stats()
	const lone = 20
	for i := range lone {
		handle(100 + i)
	}
	var reqs int
	var bytes int64
	for m, s := range hub.Stats() {
		reqs += s.Requests - before[m].Requests
		bytes += s.Bytes - before[m].Bytes
	}
	perReq, perBytes := float64(reqs)/lone, bytes/lone
	t.Logf("Koji events one at a time: %.2f requests, %d bytes per event", perReq, perBytes)
	if perReq > loneEventRequests || perBytes > eventBytes {
		t.Errorf("%.2f requests and %d bytes per Koji event, budget %v and %d", perReq, perBytes, loneEventRequests, eventBytes)
	}
	if n := tagCalls(hub); n != 50+lone {
		t.Errorf("%d tagBuild calls for %d events", n, 50+lone)
	}
}
