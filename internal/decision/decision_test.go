package decision

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/policy"
)

var update = flag.Bool("update", false, "rewrite the expected decisions in testdata/koji-decisions.json")

// readLines reads a JSON lines file of testdata.
func readLines(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func matched(id string, index int, dests ...string) policy.Decision {
	return policy.Decision{Outcome: policy.Matched, Rule: &policy.Rule{Spec: policy.Spec{ID: id, Index: index}}, Destinations: dests}
}

// TestModuleRecordLines makes, with the constructors and the results the
// service fills in, the decision log lines that mts wrote before the
// decision had actions (testdata/records-mbs.jsonl): they must not change
// by a byte.
func TestModuleRecordLines(t *testing.T) {
	ev := build.Event{ID: 1002, Name: "389-ds", Stream: "1.4-x", Version: "3120191201000000", Context: "7b01bdb2", State: 5, StateName: "ready"}
	m := build.ModuleMessage(ev)
	rec := func(minute int, msgID string, d Decision) Record {
		return Record{Time: fmt.Sprintf("2026-11-30T08:%02d:00Z", minute), EventID: ev.ID, MessageID: msgID, Revision: "ff2e53192a67", Decision: d}
	}
	tagged := ForModule(ev, matched("Modular Python", 2, "f31-a", "f31-b"))
	for i := range tagged.Actions {
		id := int64(500 + i)
		if i == 2 {
			tagged.Actions[i].Error = "already tagged"
			continue
		}
		tagged.Actions[i].TaskID = &id
	}
	dry := rec(1, "", tagged)
	dry.DryRun = true
	ruleErr := fmt.Errorf("deciding: %w", &policy.EvalError{RuleID: "Modular Python", RuleIndex: 2, Err: errors.New("no such key: x")})
	records := []Record{
		rec(1, "m-1", tagged),
		dry,
		rec(2, "m-2", ForModule(ev, policy.Decision{Outcome: policy.Unmatched})),
		rec(3, "m-3", ForModule(ev, policy.Decision{Outcome: policy.Skipped})),
		rec(4, "m-4", FromError(m, ruleErr)),
		rec(5, "m-5", FromError(m, errors.New("no modulemd: not found"))),
	}
	want := readLines(t, "records-mbs.jsonl")
	if len(want) != len(records) {
		t.Fatalf("%d expected lines for %d records", len(want), len(records))
	}
	for i, r := range records {
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Errorf("line %d:\ngot  %s\nwant %s", i+1, got, want[i])
		}
	}
}

// TestRecordReadBack reads the kept lines back: the actions and their
// results come back from the tag calls and the announcements, and the
// line written again is the same.
func TestRecordReadBack(t *testing.T) {
	lines := readLines(t, "records-mbs.jsonl")
	for i, line := range lines {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, line) {
			t.Errorf("line %d written again:\ngot  %s\nwant %s", i+1, again, line)
		}
	}
	var r Record
	if err := json.Unmarshal(lines[0], &r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range r.Decision.Actions {
		res := a.Error
		if a.TaskID != nil {
			res = fmt.Sprint(*a.TaskID)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", a.Op, a.Tag, a.NVR, res))
	}
	want := []string{
		"tag f31-a 389-ds-1.4_x-3120191201000000.7b01bdb2 500",
		"tag f31-b 389-ds-1.4_x-3120191201000000.7b01bdb2 501",
		"tag f31-a 389-ds-devel-1.4_x-3120191201000000.7b01bdb2 already tagged",
		"tag f31-b 389-ds-devel-1.4_x-3120191201000000.7b01bdb2 503",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions read back:\n%q\nwant\n%q", got, want)
	}
}

// kojiEvent is the build.tag a real hub published for a module build.
func kojiEvent(t *testing.T) build.KojiEvent {
	t.Helper()
	var rec struct {
		Address string          `json:"address"`
		Body    json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(readLines(t, "koji-build-tag.json")[0], &rec); err != nil {
		t.Fatal(err)
	}
	m, err := build.DecodeMessage(rec.Address, "", rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return *m.Koji
}

// TestKoji decides on a Koji build event: the actions (tags, then
// untags; one destination and one untag tag make a move), the
// announcements and the record's line, against
// testdata/koji-decisions.json (-update rewrites it).
func TestKoji(t *testing.T) {
	ev := kojiEvent(t)
	id := func(n int64) *int64 { return &n }
	tests := []struct {
		name    string
		d       policy.Decision
		untag   []string
		results []Action // by index: the TaskID and Error filled in
	}{
		{"move", matched("promote", 1, "f29-modular-updates"), []string{"f29-modular-updates-candidate"}, []Action{{TaskID: id(900)}}},
		{"tag only", matched("copy", 2, "f29-a", "f29-b"), nil, []Action{{TaskID: id(901)}, {Error: "tag f29-b is locked"}}},
		{"tags and untags", matched("fan out", 3, "f29-a", "f29-b"), []string{"f29-modular-updates-candidate"},
			[]Action{{TaskID: id(902)}, {TaskID: id(903)}, {}}},
		{"untag only", matched("retire", 4), []string{"f29-old", "f29-older"}, []Action{{}, {Error: "build not in tag f29-older"}}},
		{"unmatched", policy.Decision{Outcome: policy.Unmatched}, nil, nil},
	}
	type out struct {
		Name   string `json:"name"`
		Result Result `json:"result"`
		Record Record `json:"record"`
	}
	var got []out
	for _, tt := range tests {
		d := ForKoji(ev, tt.d, tt.untag)
		if len(d.Actions) != len(tt.results) {
			t.Fatalf("%s: %d actions, want %d", tt.name, len(d.Actions), len(tt.results))
		}
		for i, r := range tt.results {
			d.Actions[i].TaskID, d.Actions[i].Error = r.TaskID, r.Error
		}
		rec := Record{Time: "2026-12-01T10:00:00Z", EventID: ev.Build.ID, MessageID: "koji-1", Revision: "ff2e53192a67", Decision: d}
		got = append(got, out{Name: tt.name, Result: d.Result(), Record: rec})

		// What is kept comes back as it was.
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		// The event's numbers in its build info come back as JSON
		// numbers of another Go type: it is compared as JSON.
		evWas, _ := json.Marshal(d.Event)
		evBack, _ := json.Marshal(back.Decision.Event)
		if !bytes.Equal(evWas, evBack) {
			t.Errorf("%s: event read back as %s, want %s", tt.name, evBack, evWas)
		}
		back.Decision.Event = d.Event
		if !reflect.DeepEqual(back.Decision, d) {
			t.Errorf("%s: read back as %+v, want %+v", tt.name, back.Decision, d)
		}
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	const golden = "testdata/koji-decisions.json"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("decisions differ from %s (go test -update rewrites it):\n%s", golden, b)
	}
}

// TestModuleActionsOrder: the build into every destination, then its
// -devel twin, as the reference tagged them; nothing for other outcomes.
func TestModuleActionsOrder(t *testing.T) {
	ev := build.Event{ID: 7, Name: "n", Stream: "s-1", Version: "1", Context: "c", StateName: "ready"}
	tests := []struct {
		d    policy.Decision
		want []string
	}{
		{matched("r", 1, "a", "b"), []string{"tag a n-s_1-1.c", "tag b n-s_1-1.c", "tag a n-devel-s_1-1.c", "tag b n-devel-s_1-1.c"}},
		{policy.Decision{Outcome: policy.Unmatched}, nil},
		{policy.Decision{Outcome: policy.Skipped}, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range ForModule(ev, tt.d).Actions {
			got = append(got, fmt.Sprintf("%s %s %s", a.Op, a.Tag, a.NVR))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: actions %q, want %q", tt.d.Outcome, got, tt.want)
		}
	}
}

// TestForDispatches: For makes a module event's decision as ForModule
// does and a Koji event's as ForKoji does.
func TestForDispatches(t *testing.T) {
	ev := build.Event{ID: 7, Name: "n", Stream: "s", Version: "1", Context: "c", StateName: "ready"}
	kev := kojiEvent(t)
	d := matched("r", 1, "a")
	tests := []struct {
		name      string
		got, want Decision
	}{
		{"module", For(build.ModuleMessage(ev), d, nil), ForModule(ev, d)},
		{"koji", For(build.Message{Kind: kev.Kind, Koji: &kev}, d, []string{"b"}), ForKoji(kev, d, []string{"b"})},
	}
	for _, tt := range tests {
		g, _ := json.Marshal(Record{Decision: tt.got})
		w, _ := json.Marshal(Record{Decision: tt.want})
		if !bytes.Equal(g, w) || len(tt.got.Actions) == 0 {
			t.Errorf("%s: For gave %s, want %s", tt.name, g, w)
		}
	}
}

func TestKojiUnmatchedMessage(t *testing.T) {
	ev := build.KojiEvent{Kind: build.KindTag, Tag: "f40", Build: build.KojiBuild{ID: 7, Name: "bash", Version: "5.2", Release: "1.fc40", Types: map[string]any{"rpm": nil}}}
	d := ForKoji(ev, policy.Decision{Outcome: policy.Unmatched}, nil)
	if msgs := d.Messages(); len(msgs) != 0 {
		t.Errorf("Messages() = %v: an unmatched Koji event announces nothing by default", msgs)
	}
	m, ok := d.KojiUnmatchedMessage()
	if !ok {
		t.Fatal("no unmatched message")
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"build.tag.unmatched","body":{"build":{"id":7,"name":"bash","version":"5.2","release":"1.fc40"},"nvr":"bash-5.2-1.fc40","types":["rpm"],"kind":"build.tag","tag":"f40"}}`
	if string(body) != want {
		t.Errorf("got %s\nwant %s", body, want)
	}
	if _, ok := ForKoji(ev, policy.Decision{Outcome: policy.Skipped}, nil).KojiUnmatchedMessage(); ok {
		t.Error("a skipped decision has an unmatched message")
	}
}
