package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/internal/web"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

const machineRabbit = "amqp://guest:guest@127.0.0.1:5672/"

// historyBuilds are the builds of testdata/history/modulemd: the broken
// rules tag only javapackages-tools, the fixed ones nodejs and 389-ds too.
var historyBuilds = []struct {
	id                             int64
	name, stream, version, context string
	platform                       string
}{
	{201, "javapackages-tools", "201801", "2920190110130105", "118bbc34", "f29"},
	{202, "nodejs", "12", "3120191115180204", "eed43de7", "f31"},
	{203, "389-ds", "1.4", "3120191201000000", "7b01bdb2", "f31"},
	{204, "ant", "1", "1", "c1", ""},
}

// syncBuffer is a buffer that the command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func mtsRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"mts"}, args...), nil, &out, &errOut)
	return out.String(), errOut.String(), code
}

func getJSON(t *testing.T, url, token string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestHistoryEndToEnd runs mts serve on RabbitMQ with the stand-in Koji
// hub and a decision store, asks why of its decisions through the API and
// the store file, then fixes the rules and replays: the builds the broken
// rule missed are tagged once, and a second replay does nothing.
func TestHistoryEndToEnd(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
		return
	}
	c.Close()
	u := fmt.Sprintf("h%d", time.Now().UnixNano())
	inKey := "org.fedoraproject." + u + ".mbs.module.state.change"
	prefix := "org.fedoraproject." + u + ".mts"
	queue := "mts-history-test-" + u

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
	watch, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(watch.Name, prefix+".#", "amq.topic", false, nil); err != nil {
		t.Fatal(err)
	}
	announcements, err := ch.Consume(watch.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	hub := kojitest.New(t)
	hub.AddUser("mts", "tag")
	for _, tag := range []string{"f29-modular-updates-candidate", "f31-modular-updates-candidate"} {
		hub.AddTag(tag)
		for _, b := range historyBuilds {
			hub.AddPackage(tag, b.name)
			hub.AddPackage(tag, b.name+"-devel")
		}
	}
	for _, b := range historyBuilds {
		rel := strings.ReplaceAll(b.stream, "-", "_") + "-" + b.version + "." + b.context
		hub.AddBuild(kojitest.Build{NVR: b.name + "-" + rel})
		hub.AddBuild(kojitest.Build{NVR: b.name + "-devel-" + rel})
	}

	dir := t.TempDir()
	kojiConf := filepath.Join(dir, "koji.conf")
	profile := fmt.Sprintf("[hub]\nserver = %s\nauthtype = ssl\ncert = %s\nserverca = %s\n",
		hub.URL(), hub.ClientCertFile("mts"), hub.CAFile())
	if err := os.WriteFile(kojiConf, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "s3cret-token"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := filepath.Abs("testdata/history")
	if err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(dir, "state", "decisions.db")
	addr := freeAddr(t)
	conf := filepath.Join(dir, "mts.yaml")
	yaml := fmt.Sprintf(`rules: [%s]
messaging_backend: fedora-messaging
amqp_url: %s
amqp_queue: %s
amqp_routing_keys: [%s]
amqp_topic_prefix: %s
koji_profile: hub
koji_config: %s
retry_min_backoff: 50ms
retry_max_backoff: 200ms
listen_address: %s
log_level: WARNING
decision_store: %s
api_token_file: %s
`, filepath.Join(data, "rules", "broken"), machineRabbit, queue, inKey, prefix, kojiConf, addr, storePath, tokenFile)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// mts serve, until the decisions are in.
	ctx, stop := context.WithCancel(context.Background())
	serveErr := &syncBuffer{}
	served := make(chan int)
	go func() {
		served <- run(ctx, []string{"mts", "serve", "--config", conf, "--modulemd-dir", filepath.Join(data, "modulemd")}, nil, &syncBuffer{}, serveErr)
	}()
	stopServe := func() {
		if stop == nil {
			return
		}
		stop()
		stop = nil
		select {
		case code := <-served:
			if code != 0 {
				t.Errorf("mts serve exit %d:\n%s", code, serveErr.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("mts serve did not stop")
		}
	}
	t.Cleanup(stopServe)
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	ready := func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("mts serve not ready:\n%s", serveErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, b := range historyBuilds {
		body, _ := json.Marshal(map[string]any{"id": b.id, "name": b.name, "stream": b.stream, "version": b.version,
			"context": b.context, "state": 5, "state_name": "ready", "scratch": false, "owner": "someone"})
		if err := ch.PublishWithContext(context.Background(), "amq.topic", inKey, false, false, amqp091.Publishing{
			ContentType: "application/json", MessageId: fmt.Sprintf("%s-%d", u, i), Body: body, DeliveryMode: amqp091.Persistent,
		}); err != nil {
			t.Fatal(err)
		}
	}
	var list web.DecisionList
	for deadline = time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if code := getJSON(t, base+"/api/v1/decisions", token, &list); code != http.StatusOK {
			t.Fatalf("GET /api/v1/decisions: %d", code)
		}
		if len(list.Decisions) == len(historyBuilds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d decisions recorded, want %d:\n%s", len(list.Decisions), len(historyBuilds), serveErr.String())
		}
	}
	if code := getJSON(t, base+"/api/v1/decisions", "", nil); code != http.StatusUnauthorized {
		t.Errorf("API without the token: %d, want 401", code)
	}
	var unmatched web.DecisionList
	getJSON(t, base+"/api/v1/decisions?outcome=unmatched", token, &unmatched)
	if len(unmatched.Decisions) != 3 {
		t.Errorf("%d unmatched decisions, want 3", len(unmatched.Decisions))
	}

	// why, through the API of the running service and from its store file.
	out, errOut, code := mtsRun(t, "why", "--server", base, "--token-file", tokenFile, "-o", "json", "nodejs:12")
	if code != 0 {
		t.Fatalf("why --server: exit %d: %s", code, errOut)
	}
	var why history.Why
	if err := json.Unmarshal([]byte(out), &why); err != nil {
		t.Fatal(err)
	}
	if len(why.Decisions) != 1 || why.Decisions[0].Decision.Outcome != "unmatched" || why.Decisions[0].Explanation == nil ||
		why.Decisions[0].Explanation.Rules[0].Verdict != "no match" {
		t.Fatalf("why --server: %s", out)
	}
	// The token of the configuration's api_token_file; none is refused.
	if out, errOut, code := mtsRun(t, "why", "nodejs:12", "--server", base, "--config", conf); code != 0 || !strings.Contains(out, "nodejs:12:") {
		t.Errorf("why --server --config: exit %d: %s%s", code, out, errOut)
	}
	if out, errOut, code := mtsRun(t, "why", "nodejs:12", "--server", base); code != 1 || out != "" || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "give --token-file") {
		t.Errorf("why --server without a token: exit %d: %s%s", code, out, errOut)
	}
	out, errOut, code = mtsRun(t, "why", "--store", storePath, "javapackages-tools-201801-2920190110130105.118bbc34")
	if code != 0 {
		t.Fatalf("why --store: exit %d: %s", code, errOut)
	}
	for _, want := range []string{`outcome: matched, rule "Fedora modules" -> f29-modular-updates-candidate`,
		"tag f29-modular-updates-candidate javapackages-tools-devel-201801-2920190110130105.118bbc34: task ",
		`rule 1 "Fedora modules"`, "yes name (line 5)"} {
		if !strings.Contains(out, want) {
			t.Errorf("why --store lacks %q:\n%s", want, out)
		}
	}
	// The first announcements: javapackages-tools (2), three unmatched.
	drain := func(want int) {
		t.Helper()
		for i := 0; i < want; i++ {
			select {
			case <-announcements:
			case <-time.After(30 * time.Second):
				t.Fatalf("got %d announcements, want %d", i, want)
			}
		}
		select {
		case m := <-announcements:
			t.Fatalf("unexpected announcement %s: %s", m.RoutingKey, m.Body)
		case <-time.After(500 * time.Millisecond):
		}
	}
	drain(5)
	stopServe()
	tagCalls := len(hub.TagCalls())
	if tagCalls != 2 {
		t.Fatalf("%d tagBuild calls by serve, want 2", tagCalls)
	}

	// The rule is fixed: replay shows what changes, then tags it.
	fixed := filepath.Join(data, "rules", "fixed")
	out, errOut, code = mtsRun(t, "replay", "--config", conf, "--rules", fixed)
	if code != 0 || !strings.Contains(out, "2 of 4 decisions change") ||
		!strings.Contains(out, "nodejs:12:3120191115180204:eed43de7 ready") || !strings.Contains(out, "389-ds:1.4:3120191201000000:7b01bdb2 ready") {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(hub.TagCalls()); n != tagCalls {
		t.Fatalf("replay without --apply made %d tagBuild calls", n-tagCalls)
	}
	out, errOut, code = mtsRun(t, "replay", "--config", conf, "--rules", fixed, "--apply")
	if code != 0 {
		t.Fatalf("replay --apply: exit %d\n%s%s", code, out, errOut)
	}
	calls := hub.TagCalls()[tagCalls:]
	want := map[string]bool{
		"f31-modular-updates-candidate nodejs-12-3120191115180204.eed43de7":        true,
		"f31-modular-updates-candidate nodejs-devel-12-3120191115180204.eed43de7":  true,
		"f31-modular-updates-candidate 389-ds-1.4-3120191201000000.7b01bdb2":       true,
		"f31-modular-updates-candidate 389-ds-devel-1.4-3120191201000000.7b01bdb2": true,
	}
	if len(calls) != len(want) {
		t.Fatalf("replay --apply: %d tagBuild calls %+v, want %d", len(calls), calls, len(want))
	}
	for _, c := range calls {
		if !want[c.Tag+" "+c.NVR] {
			t.Errorf("unexpected tagBuild %s %s", c.Tag, c.NVR)
		}
	}
	drain(4)

	// Run again: nothing changes, nothing is tagged or announced.
	out, errOut, code = mtsRun(t, "replay", "--config", conf, "--rules", fixed, "--apply")
	if code != 0 || !strings.Contains(out, "0 of 4 decisions change") {
		t.Fatalf("second replay: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(hub.TagCalls()); n != tagCalls+len(want) {
		t.Fatalf("second replay made %d tagBuild calls", n-tagCalls-len(want))
	}
	drain(0)
	out, _, _ = mtsRun(t, "why", "--store", storePath, "-o", "json", "202")
	why = history.Why{}
	if err := json.Unmarshal([]byte(out), &why); err != nil {
		t.Fatal(err)
	}
	if len(why.Decisions) != 2 || why.Decisions[0].Decision.Outcome != "matched" || why.Decisions[1].Decision.Outcome != "unmatched" {
		t.Fatalf("why after replay, newest first: %s", out)
	}
}
