package app_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji/kojitest"
)

// buildMTS builds the mts binary into a temporary directory.
func buildMTS(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mts")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/mts")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// faultTuning is the tuning of the fault tests' processes: few workers,
// short backoffs and task polls, so that faults show within seconds.
const faultTuning = `workers: 4
retry_min_backoff: 50ms
retry_max_backoff: 200ms
koji_task_poll_interval: 100ms
shutdown_timeout: 20s
listen_address: 127.0.0.1:0
log_level: INFO
`

// serveConfig writes the configuration of an mts serve process on the
// queues of n, the stand-in hub and MBS, with a decision store of its
// own; tuning is the rest of the settings, in YAML.
func serveConfig(t testing.TB, n busNames, hub *kojitest.Hub, m *mbsStandIn, tuning string) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join(serveData, "rules-e2e/v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "mts.yaml")
	yaml := fmt.Sprintf(`rules: [%s]
mbs_api_url: %s
koji_profile: mts-test
koji_config: %s
messaging_backend: rhmsg
rhmsg_brokers: [%s]
rhmsg_queue: %s
rhmsg_topic_prefix: %s
decision_store: %s
`, rules, m.URL(), kojiProfile(t, hub), broker.STOMPAddr, n.queue, n.outPrefix, filepath.Join(dir, "decisions.db"))
	if err := os.WriteFile(conf, []byte(yaml+tuning), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// startMTS runs mts serve with the configuration conf, its log written to
// stderr, and kills it when the test ends if it still runs.
func startMTS(t testing.TB, bin, conf string, stderr io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", conf)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestKillAndRestart kills the service with SIGKILL in the middle of a
// stream of events, starts it again, and checks that every event is
// handled and no build gets a second tagBuild task.
func TestKillAndRestart(t *testing.T) {
	p := newProcesses(t, "kill")
	p.hub.Delay("tagBuild", 20*time.Millisecond)
	cmd := p.start(t)
	const count = 30
	events := p.sendJava(t, 2000, count, 1)
	eventually(t, 30*time.Second, "some builds tagged", func() bool { return len(p.hub.TagCalls()) >= 10 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(p.hub.TagCalls()) >= 2*count {
		t.Fatalf("every build was tagged before the kill; the test proves nothing")
	}
	p.start(t)
	p.expectTaggedOnce(t, 60*time.Second, events)
	for _, ev := range events {
		eventually(t, 10*time.Second, "announced", func() bool { return len(p.w.forBuild(ev.ID)) >= 2 })
	}
}

// TestSIGTERMFinishesInFlight stops the service while events are in
// flight: it must finish them, acknowledge and exit 0; a new process
// handles the rest.
func TestSIGTERMFinishesInFlight(t *testing.T) {
	p := newProcesses(t, "term")
	p.hub.Delay("tagBuild", 200*time.Millisecond)
	cmd := p.start(t)
	events := p.sendJava(t, 3000, 12, 1)
	eventually(t, 30*time.Second, "tagging under way", func() bool { return len(p.hub.TagCalls()) >= 1 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mts serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("mts serve did not stop within 30s of SIGTERM")
	}
	// Every build whose tagging started was finished and announced.
	for _, c := range p.hub.TagCalls() {
		for _, ev := range events {
			if n1, n2 := nvrs(ev); c.NVR == n1 || c.NVR == n2 {
				eventually(t, 5*time.Second, fmt.Sprintf("build %d announced before exit", ev.ID), func() bool { return len(p.w.forBuild(ev.ID)) == 2 })
			}
		}
	}
	p.start(t)
	p.expectTaggedOnce(t, 60*time.Second, events)
}
