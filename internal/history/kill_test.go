package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/internal/testenv"
)

const machineRabbit = "amqp://guest:guest@127.0.0.1:5672/"

// Environment of the child process of TestKillBetweenRecordAndAck.
const (
	envChildStore = "MTS_HISTORY_TEST_CHILD_STORE"
	envChildQueue = "MTS_HISTORY_TEST_CHILD_QUEUE"
	envChildKey   = "MTS_HISTORY_TEST_CHILD_KEY"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChildStore) != "" {
		killedBeforeAck()
		return
	}
	os.Exit(m.Run())
}

func needRabbit(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
		return
	}
	c.Close()
}

func amqpConfig(queue, key string) amqp.Config {
	return amqp.Config{URL: machineRabbit, Queue: queue, Bindings: []string{key}, TopicPrefix: "mts-history-test", Prefetch: 1,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
}

// dieOnAck is a consumer whose deliveries kill the process with SIGKILL
// when the service acknowledges them: after the decision is recorded,
// before the broker hears of it.
type dieOnAck struct{ bus.Consumer }

func (c dieOnAck) Receive(ctx context.Context) (bus.Delivery, error) {
	d, err := c.Consumer.Receive(ctx)
	if err != nil {
		return nil, err
	}
	return dyingDelivery{d}, nil
}

type dyingDelivery struct{ bus.Delivery }

func (dyingDelivery) Ack(context.Context) error {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killedBeforeAck is the child: the service on the queue, with a store,
// dying at its first acknowledgement.
func killedBeforeAck() {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	rules := &historytest.SwitchableRules{}
	rules.Set(historytest.LoadRules(&testing.T{}, "broken"))
	store, err := history.Open(ctx, os.Getenv(envChildStore), history.Options{Rules: rules})
	if err != nil {
		fail(err)
	}
	consumer, err := amqp.NewConsumer(amqpConfig(os.Getenv(envChildQueue), os.Getenv(envChildKey)))
	if err != nil {
		fail(err)
	}
	src, err := source.NewDir(filepath.Join("testdata", "modulemd"))
	if err != nil {
		fail(err)
	}
	svc, err := service.New(service.Config{DryRun: true}, dieOnAck{consumer}, nil, nil, src, rules,
		service.Options{Recorders: []service.Recorder{store}, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fail(err)
	}
	_ = svc.Run(ctx)
	fail(fmt.Errorf("service stopped"))
}

// TestKillBetweenRecordAndAck kills the service with SIGKILL after it
// recorded a decision and before the broker took the acknowledgement; the
// broker delivers the event again to the next process, which updates the
// record: nothing lost, nothing doubled.
func TestKillBetweenRecordAndAck(t *testing.T) {
	needRabbit(t)
	u := fmt.Sprintf("k%d", time.Now().UnixNano())
	queue, key := "mts-history-kill-"+u, "org.fedoraproject."+u+".mbs.module.state.change"
	storePath := filepath.Join(t.TempDir(), "decisions.db")

	conn, err := amqp091.Dial(machineRabbit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) })

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envChildStore+"="+storePath, envChildQueue+"="+queue, envChildKey+"="+key)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if child.ProcessState == nil {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	// The child declares and binds its queue when it connects.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		pc, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		_, err = pc.QueueDeclarePassive(queue, true, false, false, false, nil)
		pc.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's queue did not appear: %v", err)
		}
	}
	body, _ := json.Marshal(map[string]any{"id": 102, "name": "nodejs", "stream": "12", "version": "3120191115180204",
		"context": "eed43de7", "state": 5, "state_name": "ready"})
	if err := ch.PublishWithContext(context.Background(), "amq.topic", key, false, false, amqp091.Publishing{
		MessageId: "kill-" + u, Body: body, DeliveryMode: amqp091.Persistent, ContentType: "application/json",
	}); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	select {
	case <-waited:
	case <-time.After(time.Minute):
		t.Fatal("the child was not killed at its acknowledgement")
	}
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", child.ProcessState)
	}
	ctx := context.Background()
	ro, err := history.OpenReadOnly(ctx, storePath)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ro.List(ctx, history.Filter{})
	ro.Close()
	if err != nil || len(ds) != 1 || ds[0].Deliveries != 1 {
		t.Fatalf("after the kill: %+v, %v; want the one decision", ds, err)
	}

	// The next process gets the event again.
	rules := &historytest.SwitchableRules{}
	rules.Set(historytest.LoadRules(t, "broken"))
	store, err := history.Open(ctx, storePath, history.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	consumer, err := amqp.NewConsumer(amqpConfig(queue, key))
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.NewDir(filepath.Join("testdata", "modulemd"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{DryRun: true}, consumer, nil, nil, src, rules, service.Options{Recorders: []service.Recorder{store}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(runCtx) }()
	defer func() { stop(); <-done; consumer.Close() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		ds, err = store.List(ctx, history.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 {
			t.Fatalf("%d decisions after the redelivery, want 1: %+v", len(ds), ds)
		}
		if ds[0].Deliveries == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event was not delivered again")
		}
	}
	if d := ds[0]; d.MessageID != "kill-"+u || d.Outcome != "unmatched" || d.Build != "nodejs:12:3120191115180204:eed43de7" {
		t.Errorf("decision = %+v", d)
	}
	// Acknowledged now: the queue is empty.
	stop()
	<-done
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Messages == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages left on the queue", q.Messages)
		}
	}
}
