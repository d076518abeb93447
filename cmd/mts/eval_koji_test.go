package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/koji/kojitest"
)

// TestEvalAsksHub: a Fedora tag message carries only its build's
// identity; with --koji-profile eval asks the hub for the rest (one
// getBuild and getBuildType per message) and decides, without it the
// line is an error naming what the rules read. explain does the same.
func TestEvalAsksHub(t *testing.T) {
	hub := kojitest.New(t)
	builds, err := kojitest.ReadBuilds(filepath.Join("..", "..", "testdata", "koji", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range builds {
		hub.AddBuild(b)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "koji.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[hub]\nserver = %s\nserverca = %s\n", hub.URL(), hub.CAFile())), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := func(id int, name, version, release, tag string) string {
		return fmt.Sprintf(`{"topic": "org.fedoraproject.prod.buildsys.tag", "body": {"build_id": %d, "name": %q, "version": %q, "release": %q, "owner": "o", "tag": %q, "tag_id": 1, "user": "bodhi", "instance": "primary"}}`,
			id, name, version, release, tag)
	}
	events := filepath.Join(dir, "events.jsonl")
	lines := msg(2412345, "bash", "5.2.26", "3.fc40", "f44") + "\n" +
		msg(2412345, "bash", "5.2.26", "3.fc40", "f43") + "\n" +
		msg(999, "gone", "1", "1", "f44") + "\n"
	if err := os.WriteFile(events, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(msg(2412345, "bash", "5.2.26", "3.fc40", "f44")), 0o600); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join("..", "..", "rules", "examples", "eln-follow")
	hubArgs := []string{"--koji-profile", "hub", "--koji-config", conf}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"eval with the hub", append([]string{"eval", "-r", rules, "--events", events, "-o", "text"}, hubArgs...), 0, []string{
			"matched rule 1 \"Follow Rawhide\"\ndestinations: eln-rebuild-queue\n  tagBuild(eln-rebuild-queue, bash-5.2.26-3.fc40)\n",
			"unmatched\n",
			`error: build info of gone-1-1: koji: no such build "999"`,
		}},
		{"eval without", []string{"eval", "-r", rules, "--events", events, "-o", "json"}, 0, []string{
			`"error":"the message carries only the build's identity (bash-5.2.26-3.fc40): rules on build.tag read build.types; give --koji-profile to ask the hub"`,
		}},
		{"explain with the hub", append([]string{"explain", "-r", rules, "--event", event}, hubArgs...), 0, []string{
			"build bash-5.2.26-3.fc40 (id 2412345), build.tag f44 by bodhi, rules revision ",
			`build.types = ["rpm"]`,
			"matched rule 1 \"Follow Rawhide\"",
		}},
		{"explain without", []string{"explain", "-r", rules, "--event", event}, 1, []string{
			"rules on build.tag read build.types; give --koji-profile",
		}},
		{"koji-config alone", []string{"eval", "-r", rules, "--events", events, "--koji-config", conf}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"mts"}, tt.args...), nil, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String()+errOut.String(), w) {
					t.Errorf("output lacks %q:\n%s%s", w, out.String(), errOut.String())
				}
			}
		})
	}
}
