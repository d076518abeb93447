package decision

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/ruleset"
)

// TestDecideBusMessages decides events file lines that are messages as a
// bus delivers them: Koji's on every bus, and MBS's.
func TestDecideBusMessages(t *testing.T) {
	rs, err := ruleset.Load([]string{"testdata/rules/koji.cel.yaml"}, ruleset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tag := string(readLines(t, "koji-build-tag.json")[0])
	tests := []struct {
		name, line string
		outcome    string
		dests      []string
		untag      []string
		err        string
	}{
		{"protonmsg tag of a module build", strings.Replace(tag, `"address"`, `"topic"`, 1), "unmatched", nil, nil, ""},
		{"protonmsg tag of an RPM with its types in extra",
			`{"topic": "VirtualTopic.eng.brew.build.tag", "body": {"tag": {"id": 1, "name": "f40-candidate"}, "user": {"name": "u"},
			  "build": {"id": 9, "name": "bash", "version": "5", "release": "1.fc40", "state": 1, "extra": {"typeinfo": {"rpm": null}}}}}`,
			"matched", []string{"f40-signing"}, []string{"f40-candidate"}, ""},
		{"fedora-messaging tag lacks the types",
			`{"topic": "org.fedoraproject.prod.buildsys.tag", "body": {"build_id": 9, "name": "bash", "version": "5", "release": "1.fc40", "tag": "f40-candidate", "user": "u"}}`,
			"error", nil, nil, "the message carries only the build's identity (bash-5-1.fc40): rules on build.tag read build.types, the modulemd; give --koji-profile"},
		{"fedora-messaging complete lacks the types",
			`{"topic": "org.fedoraproject.prod.buildsys.build.state.change", "body": {"build_id": 9, "name": "bash", "version": "5", "release": "1.fc40", "old": 0, "new": 1}}`,
			"error", nil, nil, "rules on build.complete read build.types, the modulemd"},
		{"a kind without rules needs nothing",
			`{"topic": "org.fedoraproject.prod.buildsys.untag", "body": {"build_id": 9, "name": "bash", "version": "5", "release": "1.fc40", "tag": "f40", "user": "u"}}`,
			"skipped", nil, nil, ""},
		{"not a build event", `{"topic": "VirtualTopic.eng.brew.task.free", "body": {"info": {"id": 1}}}`, "error", nil, nil, "not a topic of build events"},
		{"MBS on its topic, without a modulemd source",
			`{"topic": "org.fedoraproject.prod.mbs.module.state.change", "body": {"id": 1, "name": "n", "stream": "s", "version": "1", "context": "c", "state_name": "ready"}}`,
			"error", nil, nil, "needs --modulemd-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ec, err := ParseCase([]byte(tt.line))
			if err != nil || ec.Topic == "" {
				t.Fatalf("ParseCase: %+v, %v", ec, err)
			}
			d := ec.Decide(context.Background(), rs, nil, nil)
			if d.Outcome != tt.outcome || !slices.Equal(d.Destinations, tt.dests) || !slices.Equal(d.Untag, tt.untag) || !strings.Contains(d.Error, tt.err) {
				t.Errorf("decided %s %q untag %q (%s), want %s %q untag %q (%s)", d.Outcome, d.Destinations, d.Untag, d.Error, tt.outcome, tt.dests, tt.untag, tt.err)
			}
		})
	}
	// The cause is kept for callers to tell.
	ec, _ := ParseCase([]byte(`{"topic": "buildsys.tag", "body": {"build_id": 9, "name": "b", "version": "5", "release": "1", "tag": "f40-candidate"}}`))
	m, err := build.DecodeMessage(ec.Topic, "", ec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompleteBuild(context.Background(), rs, m, nil); !errors.Is(err, ErrNeedsBuildInfo) {
		t.Errorf("CompleteBuild without a hub: %v", err)
	}
}

// TestParseCase: what tells a bus message from the other lines.
func TestParseCase(t *testing.T) {
	tests := []struct {
		line  string
		topic string
		batch bool
		err   bool
	}{
		{`{"topic": "a.build.tag", "body": {}}`, "a.build.tag", false, false},
		// fedmsg's envelope has a topic but its body is under msg.
		{`{"topic": "org.fedoraproject.prod.mbs.module.state.change", "msg": {"id": 1}}`, "", false, false},
		{`{"event": {"id": 1}, "modulemd": "data: {}"}`, "", true, false},
		{`{"topic": 7, "body": {}}`, "", false, true},
		{`[1]`, "", false, true},
	}
	for _, tt := range tests {
		ec, err := ParseCase([]byte(tt.line))
		if ec.Topic != tt.topic || ec.HasModulemd != tt.batch || (err != nil) != tt.err {
			t.Errorf("%s: topic %q batch %v err %v", tt.line, ec.Topic, ec.HasModulemd, err)
		}
	}
}
