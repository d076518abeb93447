package app_test

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// decisions counts, per build, the decisions recorded: the pipeline
// records each outcome just before it acknowledges the event, so an event
// handled once is counted once.
type decisions struct {
	mu   sync.Mutex
	seen map[int64]int
}

func newDecisions() *decisions { return &decisions{seen: map[int64]int{}} }

func (c *decisions) Record(_ context.Context, r decision.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[r.EventID]++
	return nil
}

func (c *decisions) counts() map[int64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.seen)
}

// resilientSender sends persistent events with a receipt and, when the
// broker is away, dials again until it takes them. A send that failed
// after reaching the broker may have been stored, so such events are
// remembered as possibly sent twice.
type resilientSender struct {
	t     testing.TB
	b     *testenv.ActiveMQ
	topic string
	conn  *gostomp.Conn
	twice map[int64]bool
}

func newResilientSender(t testing.TB, b *testenv.ActiveMQ, n busNames) *resilientSender {
	s := &resilientSender{t: t, b: b, topic: "/topic/" + n.inTopic, twice: map[int64]bool{}}
	t.Cleanup(func() {
		if s.conn != nil {
			_ = s.conn.Disconnect()
		}
	})
	return s
}

func (s *resilientSender) send(ev build.Event) {
	s.t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": ev.ID, "name": ev.Name, "stream": ev.Stream, "version": ev.Version, "context": ev.Context,
		"state": ev.State, "state_name": ev.StateName, "scratch": false, "owner": "mbs",
	})
	if err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if s.conn == nil {
			s.conn, err = gostomp.Dial("tcp", s.b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
		}
		if err == nil {
			err = s.conn.Send(s.topic, "application/json", body,
				gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true"))
			if err == nil {
				return
			}
			s.twice[ev.ID] = true
			_ = s.conn.MustDisconnect()
			s.conn = nil
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("sending event %d: %v", ev.ID, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrokerRestartMidStream restarts ActiveMQ, cleanly and after a
// crash, while the service has events in flight and more are being sent:
// every event is handled and acknowledged once, and no build is tagged
// twice.
func TestBrokerRestartMidStream(t *testing.T) {
	b := needBroker(t)
	tests := []struct {
		name    string
		restart func(context.Context) error
	}{
		{"clean restart", b.Restart},
		{"crash", func(ctx context.Context) error {
			b.Kill()
			return b.Start(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newBusNames("restart")
			hub := newHub(t)
			// Slow tagging keeps events in flight when the broker goes.
			hub.Delay("tagBuild", 25*time.Millisecond)
			m := newMBS(t)
			createQueue(t, b, n)
			const before, during, after = 30, 15, 15
			for i := range int64(before + during + after) {
				addJava(hub, m, javaEvent(i+1, "ready"))
			}
			s := newResilientSender(t, b, n)
			for i := range int64(before) {
				s.send(javaEvent(i+1, "ready"))
			}

			consumer := newDecisions()
			r := startApp(t, baseConfig(t, n, hub, m), consumer)
			reg := r.reg
			eventually(t, 20*time.Second, "a few events handled", func() bool {
				return len(consumer.counts()) >= 5
			})
			if len(consumer.counts()) == before {
				t.Fatal("every event was handled before the restart")
			}

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			restarted := make(chan error, 1)
			go func() { restarted <- tt.restart(ctx) }()
			// These wait for the broker to come back.
			for i := range int64(during) {
				s.send(javaEvent(before+i+1, "ready"))
			}
			if err := <-restarted; err != nil {
				t.Fatal(err)
			}
			for i := range int64(after) {
				s.send(javaEvent(before+during+i+1, "ready"))
			}

			const total = before + during + after
			eventually(t, 60*time.Second, "every event acknowledged", func() bool {
				return len(consumer.counts()) == total
			})
			if err := hub.WaitTasks(ctx); err != nil {
				t.Fatal(err)
			}
			// Redeliveries still arriving would show up as second decisions.
			time.Sleep(300 * time.Millisecond)
			acked := consumer.counts()
			again := 0
			for i := range int64(total) {
				id := i + 1
				n1, n2 := nvrs(javaEvent(id, "ready"))
				if c1, c2 := tagCallsFor(hub, n1), tagCallsFor(hub, n2); c1 != 1 || c2 != 1 {
					t.Errorf("build %d: %d and %d tagBuild calls, want 1 each", id, c1, c2)
				}
				switch {
				case acked[id] == 0:
					t.Errorf("build %d never decided", id)
				case acked[id] > 1 && !s.twice[id]:
					// Its Ack was lost with the connection: the broker
					// delivered it again, and the copy found the task.
					again++
				}
			}
			// Only what was in flight when the broker went comes back:
			// prefetch and workers bound it.
			if again > 8 {
				t.Errorf("%d events decided twice, want at most the 8 in flight", again)
			}
			if got := len(hub.Tagged("f29-modular-ursamajor")); got != 2*total {
				t.Errorf("%d builds tagged, want %d", got, 2*total)
			}
			if got := r.events(service.OutcomeRuleError) + r.events(service.OutcomeModulemdError); got != 0 {
				t.Errorf("%v events failed", got)
			}
			if got := gathered(reg, bus.MetricReconnects, "bus", "stomp"); got < 1 {
				t.Errorf("%s = %v, want a reconnection", bus.MetricReconnects, got)
			}
			t.Logf("%v events matched, %v unsettled, %d sends retried", r.events(service.OutcomeMatched),
				r.events(service.OutcomeUnsettled), len(s.twice))
		})
	}
}
