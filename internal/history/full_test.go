package history_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/service"
	"github.com/fedora-modularity/mts/internal/source"
	"github.com/fedora-modularity/mts/internal/testenv"
)

// smallDisk mounts a tmpfs of size bytes: a file system the test can fill.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		testenv.Missing(t, "mounting a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestFullDiskHoldsTheEvent runs the service with its store on a full file
// system: the decision cannot be written, so the store is not ready and
// the event stays on the broker; once there is room the event is decided
// and recorded once.
func TestFullDiskHoldsTheEvent(t *testing.T) {
	needRabbit(t)
	disk := smallDisk(t, 1<<20)
	ctx := context.Background()
	rules := &historytest.SwitchableRules{}
	rules.Set(historytest.LoadRules(t, "broken"))
	store, err := history.Open(ctx, filepath.Join(disk, "decisions.db"), history.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Check(ctx); err != nil {
		t.Fatalf("empty store not ready: %v", err)
	}
	filler := filepath.Join(disk, "filler")
	fill(t, filler)

	u := fmt.Sprintf("f%d", time.Now().UnixNano())
	queue, key := "mts-history-full-"+u, "org.fedoraproject."+u+".mbs.module.state.change"
	ch := testenv.RabbitChannel(t, machineRabbit)
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) })
	consumer, err := amqp.NewConsumer(amqpConfig(queue, key))
	if err != nil {
		t.Fatal(err)
	}
	// A large document: its decision needs pages the disk does not have.
	docs := t.TempDir()
	text, err := os.ReadFile(filepath.Join("testdata", "modulemd", "nodejs-12-f31.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	big := string(text) + strings.Repeat("# padding of a long modulemd document\n", 8000)
	if err := os.WriteFile(filepath.Join(docs, "102.yaml"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := source.NewDir(docs)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{DryRun: true, RetryMin: 50 * time.Millisecond}, consumer, nil, nil, src, rules,
		service.Options{Recorders: []service.Recorder{store}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; consumer.Close() })
	for deadline := time.Now().Add(30 * time.Second); !consumer.Connected(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("consumer not connected")
		}
	}

	body, _ := json.Marshal(map[string]any{"id": 102, "name": "nodejs", "stream": "12", "version": "3120191115180204",
		"context": "eed43de7", "state": 5, "state_name": "ready"})
	if err := ch.PublishWithContext(ctx, "amq.topic", key, false, false, amqp091.Publishing{
		MessageId: "full-" + u, Body: body, DeliveryMode: amqp091.Persistent,
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); store.Check(ctx) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store stayed ready on a full disk")
		}
	}
	time.Sleep(500 * time.Millisecond)
	ds, err := store.List(ctx, history.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Fatalf("%d decisions written on a full disk", len(ds))
	}

	// Held, not dropped: the broker still has the event, and delivers it
	// again once the disk has room.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ds, err = store.List(ctx, history.Filter{}); err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held event was not recorded once the disk had room")
		}
	}
	if err := store.Check(ctx); err != nil {
		t.Errorf("store not ready again: %v", err)
	}
	if ds[0].MessageID != "full-"+u || ds[0].Outcome != "unmatched" {
		t.Errorf("decision = %+v", ds[0])
	}
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
