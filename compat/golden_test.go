package compat_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/internal/ruleset"
	"github.com/fedora-modularity/mts/policy"
)

// goldenRow is one decision recorded from the reference implementation
// (testdata/golden/README.md).
type goldenRow struct {
	Rules    string `json:"rules"`
	Modulemd string `json:"modulemd"`
	State    string `json:"state"`
	Event    struct {
		ID        int64  `json:"id"`
		Name      string `json:"name"`
		Stream    string `json:"stream"`
		Version   string `json:"version"`
		Context   string `json:"context"`
		StateName string `json:"state_name"`
	} `json:"event"`
	Outcome      string               `json:"outcome"`
	MatchedRule  *string              `json:"matched_rule"`
	MatchedIndex *int                 `json:"matched_index"`
	DestTags     []string             `json:"dest_tags"`
	TagCalls     [][2]string          `json:"tag_calls"`
	Published    [][2]json.RawMessage `json:"published"`
	Tried        []int                `json:"tried"`
	Error        *string              `json:"error"`
}

func readGolden(t *testing.T) []goldenRow {
	t.Helper()
	files, err := filepath.Glob("../testdata/golden/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var rows []goldenRow
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r goldenRow
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			rows = append(rows, r)
		}
		fh.Close()
	}
	return rows
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		found := false
		for _, y := range out {
			found = found || x == y
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// TestGolden checks every decision recorded from the reference: outcome,
// rule, destinations, Koji calls and published bodies. Duplicate
// destinations are tagged once (a documented difference), and where the
// reference crashed mts reports an evaluation error naming the rule.
func TestGolden(t *testing.T) {
	rows := readGolden(t)
	if len(rows) != 1062 {
		t.Fatalf("read %d golden rows, want 1062", len(rows))
	}
	sets := map[string]*ruleset.Ruleset{}
	docs := map[string]*modulemd.Document{}
	for _, r := range rows {
		name := r.Rules + "/" + r.Modulemd + "/" + r.State
		t.Run(name, func(t *testing.T) {
			rs := sets[r.Rules]
			if rs == nil {
				var err error
				rs, err = ruleset.Load([]string{filepath.Join("../testdata/rules", r.Rules)}, ruleset.Options{})
				if err != nil {
					t.Fatalf("loading %s: %v", r.Rules, err)
				}
				sets[r.Rules] = rs
			}
			doc := docs[r.Modulemd]
			if doc == nil {
				data, err := os.ReadFile(filepath.Join("../testdata/modulemd", r.Modulemd))
				if err != nil {
					t.Fatal(err)
				}
				if doc, err = modulemd.Parse(data); err != nil {
					t.Fatalf("parsing %s: %v", r.Modulemd, err)
				}
				docs[r.Modulemd] = doc
			}
			ev := build.Event{ID: r.Event.ID, Name: r.Event.Name, Stream: r.Event.Stream,
				Version: r.Event.Version, Context: r.Event.Context, StateName: r.Event.StateName}
			d, err := rs.Decide(ev, doc)

			if r.Outcome == "error" {
				var ee *policy.EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("reference failed with %s; mts gave %v, %v", *r.Error, d.Outcome, err)
				}
				if want := r.Tried[len(r.Tried)-1]; ee.RuleIndex != want {
					t.Errorf("error names rule %d (%s), reference failed in rule %d", ee.RuleIndex, ee.RuleID, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if string(d.Outcome) != r.Outcome {
				t.Fatalf("outcome %s, want %s", d.Outcome, r.Outcome)
			}
			if !reflect.DeepEqual(d.Tried, r.Tried) && !(len(d.Tried) == 0 && len(r.Tried) == 0) {
				t.Errorf("tried rules %v, want %v", d.Tried, r.Tried)
			}
			if r.Outcome != "matched" {
				if d.Rule != nil {
					t.Errorf("rule %q reported for outcome %s", d.Rule.ID, d.Outcome)
				}
			} else {
				if d.Rule.ID != *r.MatchedRule || d.Rule.Index != *r.MatchedIndex {
					t.Errorf("rule %d %q, want %d %q", d.Rule.Index, d.Rule.ID, *r.MatchedIndex, *r.MatchedRule)
				}
				if want := dedupe(r.DestTags); !reflect.DeepEqual(d.Destinations, want) {
					t.Errorf("destinations %q, want %q", d.Destinations, want)
				}
			}

			dec := decision.ForModule(ev, d)
			var calls [][2]string
			for i, a := range dec.Actions {
				calls = append(calls, [2]string{a.Tag, a.NVR})
				id := int64(i + 1)
				dec.Actions[i].TaskID = &id
			}
			wantCalls := dedupeCalls(r)
			if !reflect.DeepEqual(calls, wantCalls) && !(len(calls) == 0 && len(wantCalls) == 0) {
				t.Errorf("tag calls %q, want %q", calls, wantCalls)
			}
			msgs := dec.Messages()
			want := dedupePublished(t, r)
			if len(msgs) != len(want) {
				t.Fatalf("%d messages, want %d", len(msgs), len(want))
			}
			for i, m := range msgs {
				body, _ := json.Marshal(m.Body)
				var got, exp any
				json.Unmarshal(body, &got)
				json.Unmarshal(want[i][1], &exp)
				var topic string
				json.Unmarshal(want[i][0], &topic)
				if m.Topic != topic || !reflect.DeepEqual(got, exp) {
					t.Errorf("message %d: %s %s\nwant %s %s", i, m.Topic, body, topic, want[i][1])
				}
			}
		})
	}
}

// dedupeCalls is the reference's call list with duplicate destinations
// tagged once.
func dedupeCalls(r goldenRow) [][2]string {
	if len(r.DestTags) == len(dedupe(r.DestTags)) {
		return r.TagCalls
	}
	var out [][2]string
	seen := map[[2]string]bool{}
	for _, c := range r.TagCalls {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// dedupePublished renumbers task ids after duplicate destinations are
// dropped, as the stand-in Koji of the recording numbered calls 1, 2, 3...
func dedupePublished(t *testing.T, r goldenRow) [][2]json.RawMessage {
	if len(r.DestTags) == len(dedupe(r.DestTags)) {
		return r.Published
	}
	var out [][2]json.RawMessage
	next := int64(1)
	for _, p := range r.Published {
		var body struct {
			Build           json.RawMessage `json:"build"`
			NVR             string          `json:"nvr"`
			DestinationTags []struct {
				Tag string `json:"tag"`
			} `json:"destination_tags"`
		}
		if err := json.Unmarshal(p[1], &body); err != nil {
			t.Fatal(err)
		}
		type dt struct {
			Tag    string `json:"tag"`
			TaskID int64  `json:"task_id"`
		}
		var tags []dt
		seen := map[string]bool{}
		for _, d := range body.DestinationTags {
			if !seen[d.Tag] {
				seen[d.Tag] = true
				tags = append(tags, dt{d.Tag, next})
				next++
			}
		}
		nb, _ := json.Marshal(map[string]any{"build": body.Build, "nvr": body.NVR, "destination_tags": tags})
		out = append(out, [2]json.RawMessage{p[0], nb})
	}
	return out
}
