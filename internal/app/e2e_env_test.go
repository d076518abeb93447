package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const serveData = "../../testdata/serve"

// broker is the ActiveMQ shared by the end-to-end tests; each test uses
// queues and topics of its own.
var broker *testenv.ActiveMQ

func TestMain(m *testing.M) {
	code := func() int {
		if testenv.ActiveMQAvailable() == nil {
			dir, err := os.MkdirTemp("", "mts-service-activemq-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			broker, err = testenv.StartActiveMQ(ctx, dir)
			cancel()
			if err != nil {
				fmt.Fprintln(os.Stderr, "starting ActiveMQ:", err)
				return 1
			}
			defer broker.Stop()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needBroker(t *testing.T) *testenv.ActiveMQ {
	t.Helper()
	if broker == nil {
		testenv.Missing(t, "activemq: %v", testenv.ActiveMQAvailable())
	}
	return broker
}

// mbsStandIn answers GET /module-builds/{id}?verbose=true with the
// modulemd document named for the id, as MBS does, and can fail on demand.
type mbsStandIn struct {
	*httptest.Server
	mu    sync.Mutex
	docs  map[int64]string
	fail  atomic.Int64 // answer this many requests with 503
	down  atomic.Bool  // refuse every request while set
	calls atomic.Int64
	busy  atomic.Int64 // nanoseconds spent answering
}

func newMBS(t testing.TB) *mbsStandIn {
	m := &mbsStandIn{docs: map[int64]string{}}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.calls.Add(1)
		start := time.Now()
		defer func() { m.busy.Add(int64(time.Since(start))) }()
		if m.down.Load() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/module-build-service/1/module-builds/"), 10, 64)
		if err != nil || r.URL.Query().Get("verbose") != "true" {
			http.Error(w, `{"status": 400, "error": "Bad Request"}`, http.StatusBadRequest)
			return
		}
		if m.fail.Load() > 0 {
			m.fail.Add(-1)
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		m.mu.Lock()
		file, ok := m.docs[id]
		m.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"status": 404, "error": "Not Found", "message": "No such module found."}`)
			return
		}
		doc, err := os.ReadFile(filepath.Join(serveData, "modulemd", file))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "modulemd": string(doc), "state_name": "ready"})
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *mbsStandIn) URL() string { return m.Server.URL + "/module-build-service/1/" }

func (m *mbsStandIn) add(id int64, file string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs[id] = file
}

// javaEvent is a javapackages-tools build; each version is its own build.
func javaEvent(id int64, state string) build.Event {
	return build.Event{ID: id, Name: "javapackages-tools", Stream: "201801",
		Version: strconv.FormatInt(2920190110130000+id, 10), Context: "118bbc34", State: 5, StateName: state}
}

func nvrs(ev build.Event) (string, string) {
	rel := ev.Stream + "-" + ev.Version + "." + ev.Context
	return ev.Name + "-" + rel, ev.Name + "-devel-" + rel
}

// addJava makes the hub and MBS know the build of ev.
func addJava(hub *kojitest.Hub, m *mbsStandIn, ev build.Event) {
	n, d := nvrs(ev)
	hub.AddBuild(kojitest.Build{NVR: n})
	hub.AddBuild(kojitest.Build{NVR: d})
	m.add(ev.ID, "javapackages-tools-201801-f29.yaml")
}

func newHub(t *testing.T, opts ...kojitest.Option) *kojitest.Hub {
	hub := kojitest.New(t, opts...)
	for _, tag := range []string{"f29-modular-ursamajor", "f29-modular-updates-candidate"} {
		hub.AddTag(tag)
		hub.AddPackage(tag, "javapackages-tools")
		hub.AddPackage(tag, "javapackages-tools-devel")
	}
	hub.AddUser("mts", "tag")
	return hub
}

// busNames are the queue and topics of one test.
type busNames struct {
	inTopic, queue, outPrefix string
}

func newBusNames(prefix string) busNames {
	u := strings.ReplaceAll(fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()), "-", "")
	return busNames{
		inTopic:   "VirtualTopic.eng.mbs." + u,
		queue:     "Consumer.mts.queue.VirtualTopic.eng.mbs." + u,
		outPrefix: "VirtualTopic.eng.mts." + u,
	}
}

// sender publishes MBS events to the input virtual topic, persistent.
type sender struct {
	conn  *gostomp.Conn
	topic string
}

func newSender(t testing.TB, b *testenv.ActiveMQ, n busNames) *sender {
	conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Disconnect() })
	return &sender{conn: conn, topic: "/topic/" + n.inTopic}
}

func (s *sender) send(t testing.TB, ev build.Event) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": ev.ID, "name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context,
		"state": ev.State, "state_name": ev.StateName, "scratch": ev.Scratch, "owner": "mbs",
		"koji_tag": "module-x", "component_builds": []int{1, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.conn.Send(s.topic, "application/json", body,
		gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
}

// createQueue makes the consumer queue exist before anything is sent: a
// virtual topic only copies messages to queues that already exist.
func createQueue(t testing.TB, b *testenv.ActiveMQ, n busNames) {
	t.Helper()
	conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := conn.Subscribe("/queue/"+n.queue, gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.Unsubscribe()
	_ = conn.Disconnect()
}

// watcher collects what the service announces.
type watcher struct {
	mu   sync.Mutex
	msgs []announced
}

type announced struct {
	Topic string
	Body  map[string]any
}

func newWatcher(t *testing.T, b *testenv.ActiveMQ, n busNames) *watcher {
	conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := conn.Subscribe("/topic/"+n.outPrefix+".>", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	go w.collect(sub, "/topic/"+n.outPrefix+".")
	t.Cleanup(func() { _ = conn.Disconnect() })
	return w
}

// newQueueWatcher collects the build.tag.requested announcements from a
// queue of the virtual topic, so that none is lost while the broker is
// away: the queue keeps them, and the watcher dials again until it is back.
func newQueueWatcher(t *testing.T, b *testenv.ActiveMQ, n busNames) *watcher {
	base := "/queue/" + strings.Replace(testenv.ActiveMQConsumerPrefix, "*", "watch", 1) + n.outPrefix + "."
	queue := base + "build.tag.requested"
	subscribe := func() (*gostomp.Conn, *gostomp.Subscription, error) {
		conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
		if err != nil {
			return nil, nil, err
		}
		sub, err := conn.Subscribe(queue, gostomp.AckAuto)
		if err != nil {
			_ = conn.MustDisconnect()
			return nil, nil, err
		}
		return conn, sub, nil
	}
	// The first subscription makes the queue before anything is announced.
	conn, sub, err := subscribe()
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	var (
		mu     sync.Mutex
		cur    = conn
		closed bool
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			w.collect(sub, base)
			_ = conn.MustDisconnect()
			for {
				mu.Lock()
				stop := closed
				mu.Unlock()
				if stop {
					return
				}
				if conn, sub, err = subscribe(); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			mu.Lock()
			cur = conn
			if closed {
				_ = conn.Disconnect()
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		closed = true
		_ = cur.Disconnect()
		mu.Unlock()
		<-done
	})
	return w
}

// collect records the messages of sub until it ends, with the topic named
// by the destination less prefix.
func (w *watcher) collect(sub *gostomp.Subscription, prefix string) {
	for m := range sub.C {
		if m.Err != nil {
			return
		}
		var body map[string]any
		_ = json.Unmarshal(m.Body, &body)
		w.mu.Lock()
		w.msgs = append(w.msgs, announced{strings.TrimPrefix(m.Destination, prefix), body})
		w.mu.Unlock()
	}
}

func (w *watcher) forBuild(id int64) []announced {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []announced
	for _, m := range w.msgs {
		if b, ok := m.Body["build"].(map[string]any); ok && int64(b["id"].(float64)) == id {
			out = append(out, m)
		}
	}
	return out
}

func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tagCallsFor counts tagBuild calls for nvr.
func tagCallsFor(hub *kojitest.Hub, nvr string) int {
	n := 0
	for _, c := range hub.TagCalls() {
		if c.NVR == nvr && !c.Bypass {
			n++
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stack is the ActiveMQ side of an end-to-end test: queues and topics of
// its own (the consumer queue made), the stand-in hub and MBS, a watcher
// of the announcements and a sender of events.
type stack struct {
	b   *testenv.ActiveMQ
	n   busNames
	hub *kojitest.Hub
	mbs *mbsStandIn
	w   *watcher
	s   *sender
}

func newStack(t *testing.T, prefix string) *stack {
	t.Helper()
	b := needBroker(t)
	st := &stack{b: b, n: newBusNames(prefix), hub: newHub(t), mbs: newMBS(t)}
	st.w = newWatcher(t, b, st.n)
	createQueue(t, b, st.n)
	st.s = newSender(t, b, st.n)
	return st
}

// sendJava makes count javapackages-tools builds, ids from first, known
// to the hub and MBS and sends each one's event copies times.
func (st *stack) sendJava(t *testing.T, first int64, count, copies int) []build.Event {
	t.Helper()
	events := make([]build.Event, count)
	for i := range events {
		events[i] = javaEvent(first+int64(i), "ready")
		addJava(st.hub, st.mbs, events[i])
		for range copies {
			st.s.send(t, events[i])
		}
	}
	return events
}

// processes is a stack for tests of mts serve as a process: the binary,
// and its configuration on the stack's queues and stand-ins.
type processes struct {
	*stack
	bin, conf string
}

func newProcesses(t *testing.T, prefix string) *processes {
	t.Helper()
	st := newStack(t, prefix)
	return &processes{stack: st, bin: buildMTS(t), conf: serveConfig(t, st.n, st.hub, st.mbs, faultTuning)}
}

// start runs one mts serve process until the test ends.
func (p *processes) start(t *testing.T) *exec.Cmd {
	t.Helper()
	return startMTS(t, p.bin, p.conf, testWriter{t})
}

// expectTaggedOnce waits until every build of events and its -devel twin
// is in the tag, then fails for each that got more than one tagBuild call.
func (st *stack) expectTaggedOnce(t *testing.T, within time.Duration, events []build.Event) {
	t.Helper()
	eventually(t, within, "every build tagged", func() bool {
		return len(st.hub.Tagged("f29-modular-ursamajor")) == 2*len(events)
	})
	for _, ev := range events {
		n1, n2 := nvrs(ev)
		if c1, c2 := tagCallsFor(st.hub, n1), tagCallsFor(st.hub, n2); c1 != 1 || c2 != 1 {
			t.Errorf("build %d: %d and %d tagBuild calls, want 1 each", ev.ID, c1, c2)
		}
	}
}

// announcement is the part of an announcement's body the tests check.
type announcement struct {
	Build struct {
		ID int64 `json:"id"`
	} `json:"build"`
	DestinationTags []struct {
		Tag    string `json:"tag"`
		TaskID *int64 `json:"task_id"`
	} `json:"destination_tags"`
}

func parseAnnouncement(t *testing.T, body []byte) announcement {
	t.Helper()
	var a announcement
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("announcement %s: %v", body, err)
	}
	return a
}
