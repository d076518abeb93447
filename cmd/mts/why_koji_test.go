package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

type fixedRules struct{ rs *ruleset.Ruleset }

func (f fixedRules) Current() *ruleset.Ruleset { return f.rs }

// TestWhyReplayKoji: mts why finds a decision on a Koji event by its
// build's NVR and says what it tagged and untagged; mts replay decides it
// again from the store alone.
func TestWhyReplayKoji(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldRules := filepath.Join(dir, "old.cel.yaml")
	if err := os.WriteFile(oldRules, []byte(`format: cel
on: build.tag
rules:
  - id: Copy to signing
    match: event.tag.endsWith('-updates-candidate')
    destinations: event.tag.replace('-updates-candidate', '-signing-pending')
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := ruleset.Load([]string{oldRules}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "decisions.db")
	s, err := history.Open(ctx, db, history.Options{Rules: fixedRules{rs}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "koji", "builds", "rpm-bash-5.2.26-3.fc40.json"))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ GetBuild, GetBuildType json.RawMessage }
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatal(err)
	}
	b, err := build.DecodeBuildInfo(answer.GetBuild, answer.GetBuildType)
	if err != nil {
		t.Fatal(err)
	}
	ev := build.KojiEvent{Kind: build.KindTag, Build: b, Tag: "f40-updates-candidate", User: "bodhi"}
	d := decision.DecideKoji(ctx, rs, build.Message{Kind: ev.Kind, Koji: &ev}, nil)
	task := int64(4242)
	d.Actions[0].TaskID = &task
	if err := s.Record(ctx, decision.Record{EventID: b.ID, MessageID: "koji-1", Revision: rs.Revision, Decision: d}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := mtsRun(t, "why", "--store", db, "bash-5.2.26-3.fc40")
	if code != 0 {
		t.Fatalf("why: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"bash-5.2.26-3.fc40 build.tag f40-updates-candidate by bodhi (Koji build 2412345), decided ",
		`outcome: matched, rule "Copy to signing" -> f40-signing-pending`,
		"tag f40-signing-pending bash-5.2.26-3.fc40: task 4242",
		`rule 1 "Copy to signing"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("why lacks %q:\n%s", want, out)
		}
	}

	// The rules now move the build: replay shows the untag it adds.
	newRules := filepath.Join(dir, "new.cel.yaml")
	if err := os.WriteFile(newRules, []byte(`format: cel
on: build.tag
rules:
  - id: Move to signing
    match: event.tag.endsWith('-updates-candidate')
    destinations: event.tag.replace('-updates-candidate', '-signing-pending')
    untag: event.tag
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = mtsRun(t, "replay", "--store", db, "--rules", newRules)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	if want := "bash-5.2.26-3.fc40 build.tag"; !strings.Contains(out, want) || !strings.Contains(out, "untag f40-updates-candidate") {
		t.Errorf("replay output lacks the change of %s:\n%s%s", want, out, errOut)
	}

	// --apply takes the stored event through the pipeline with the new
	// rules: the hub moves the build, in one task.
	c, err := net.DialTimeout("tcp", "127.0.0.1:5672", 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ on 127.0.0.1:5672: %v", err)
		return
	}
	c.Close()
	hub := kojitest.New(t)
	hub.AddUser("mts", "tag")
	for _, tag := range []string{"f40-updates-candidate", "f40-signing-pending"} {
		hub.AddTag(tag)
		hub.AddPackage(tag, "bash")
	}
	builds, err := kojitest.ReadBuilds(filepath.Join("..", "..", "testdata", "koji", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kb := range builds {
		hub.AddBuild(kb)
	}
	hub.Tag("f40-updates-candidate", b.NVR())
	kojiConf := filepath.Join(dir, "koji.conf")
	profile := fmt.Sprintf("[hub]\nserver = %s\nauthtype = ssl\ncert = %s\nserverca = %s\n", hub.URL(), hub.ClientCertFile("mts"), hub.CAFile())
	if err := os.WriteFile(kojiConf, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "mts.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`rules: [%s]
messaging_backend: fedora-messaging
amqp_url: %s
amqp_queue: mts-replay-koji-%d
amqp_topic_prefix: org.fedoraproject.test.mts
koji_profile: hub
koji_config: %s
decision_store: %s
log_level: WARNING
`, newRules, machineRabbit, time.Now().UnixNano(), kojiConf, db)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = mtsRun(t, "replay", "--config", conf, "--rules", newRules, "--apply")
	if code != 0 {
		t.Fatalf("replay --apply: exit %d\n%s%s", code, out, errOut)
	}
	if calls := hub.TagCalls(); len(calls) != 1 || calls[0].Tag != "f40-signing-pending" || calls[0].NVR != b.NVR() {
		t.Errorf("replay --apply: tagBuild calls %+v, want one move into f40-signing-pending", calls)
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(hub.Tagged("f40-updates-candidate"), b.NVR()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Contains(hub.Tagged("f40-signing-pending"), b.NVR()) || slices.Contains(hub.Tagged("f40-updates-candidate"), b.NVR()) {
		t.Errorf("after replay --apply: signing-pending %v, candidate %v; calls %+v\n%s", hub.Tagged("f40-signing-pending"), hub.Tagged("f40-updates-candidate"), hub.TagCalls(), out+errOut)
	}
	out, _, _ = mtsRun(t, "why", "--store", db, "bash-5.2.26-3.fc40")
	if !strings.Contains(out, `rule "Move to signing"`) {
		t.Errorf("why after replay --apply lacks the new decision:\n%s", out)
	}
}
