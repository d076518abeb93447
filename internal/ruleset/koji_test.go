package ruleset

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/policy"
)

// kojiMessages reads recorded messages ({"address", "body"} lines),
// keeping those of Koji's build events.
func kojiMessages(t *testing.T, name string) []build.Message {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []build.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Address string          `json:"address"`
			Body    json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if _, ok := build.TopicKind(rec.Address); !ok {
			continue
		}
		m, err := build.DecodeMessage(rec.Address, "", rec.Body)
		if err != nil {
			t.Fatalf("%s: %v", rec.Address, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// docOf is the modulemd document a Koji build carries, nil for none.
func docOf(t *testing.T, m build.Message) *modulemd.Document {
	t.Helper()
	text, ok := m.Koji.Build.ModulemdText()
	if !ok {
		return nil
	}
	doc, err := modulemd.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDecideKojiMessages decides recorded protonmsg bodies and Fedora's
// flat bodies with rules on Koji's kinds.
func TestDecideKojiMessages(t *testing.T) {
	rs, err := Load([]string{"testdata/koji/tag.cel.yaml", "testdata/koji/state.cel.yaml", "testdata/koji/untag.cel.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(kojiMessages(t, "testdata/koji/protonmsg-koji-1.35.3.jsonl"), kojiMessages(t, "testdata/koji/fedora.jsonl")...)
	tests := []struct {
		kind    build.Kind
		subject string
		outcome policy.Outcome
		rule    string
		dests   []string
		untag   []string
		err     error
	}{
		{build.KindComplete, "testmodule-master-20180205135154.9c690d0e", policy.Matched, "mbs-module", []string{"done-testmodule-master"}, nil, nil},
		{build.KindComplete, "testmodule-devel-master-20180205135154.9c690d0e", policy.Unmatched, "", nil, nil, nil},
		{build.KindComplete, "nodejs-10-20180816123225.6c81f848", policy.Matched, "mbs-module", []string{"done-nodejs-10"}, nil, nil},
		{build.KindTag, "nodejs-10-20180816123225.6c81f848", policy.Matched, "promote-nodejs", []string{"f29-modular-updates-testing"}, []string{"f29-modular-updates-candidate"}, nil},
		{build.KindTag, "389-directory-server-devel-stable-8000020200901000000.90b91188", policy.Matched, "own-devel", nil, []string{"f27-modular-updates-candidate"}, nil},
		{build.KindUntag, "389-directory-server-devel-stable-8000020200901000000.90b91188", policy.Matched, "back", []string{"f27-modular-updates-candidate"}, []string{"f27-pending"}, nil},
		{build.KindTag, "http-parser-2.9.3-1.fc31", policy.Matched, "flat", []string{"f31-seen"}, nil, nil},
		// Rule "stream" reads data: a build without modulemd fails it.
		{build.KindTag, "not-a-module-1-1.fc31", "", "", nil, nil, policy.ErrNoModulemd},
		{build.KindFailed, "chromium-80.0.3987.132-1.fc33", policy.Matched, "failed", []string{"failed-chromium-80.0.3987.132-1.fc33"}, nil, nil},
		// A flat body has no cg: the first rule does not match before
		// it reads data, and the second wants a failed build.
		{build.KindComplete, "chromium-80.0.3987.133-1.fc33", policy.Unmatched, "", nil, nil, nil},
	}
	if len(msgs) != len(tests) {
		t.Fatalf("%d messages, %d cases", len(msgs), len(tests))
	}
	for i, tt := range tests {
		m := msgs[i]
		t.Run(tt.subject, func(t *testing.T) {
			if m.Kind != tt.kind || m.Subject() != tt.subject {
				t.Fatalf("message %d is %s %s, want %s %s", i, m.Kind, m.Subject(), tt.kind, tt.subject)
			}
			d, err := rs.DecideMessage(m, docOf(t, m))
			if tt.err != nil {
				var ee *policy.EvalError
				if !errors.Is(err, tt.err) || !errors.As(err, &ee) || ee.RuleID != "stream" {
					t.Fatalf("err = %v, want an EvalError of rule stream wrapping %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if d.Rule != nil {
				id = d.Rule.ID
			}
			if d.Outcome != tt.outcome || id != tt.rule || !slices.Equal(d.Destinations, tt.dests) || !slices.Equal(d.Untag, tt.untag) {
				t.Errorf("got %s %q %q untag %q, want %s %q %q untag %q", d.Outcome, id, d.Destinations, d.Untag, tt.outcome, tt.rule, tt.dests, tt.untag)
			}
		})
	}
	if got, want := rs.Kinds(), []build.Kind{build.KindComplete, build.KindFailed, build.KindTag, build.KindUntag}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %q, want %q", got, want)
	}
}

// TestModuleRulesIgnoreKojiEvents: MBS rules and Koji rules in one set
// each see only their own events.
func TestModuleRulesIgnoreKojiEvents(t *testing.T) {
	rs, err := Load([]string{"../../rules/fedora-cel/fedora.cel.yaml", "testdata/koji/untag.cel.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rs.Kinds(), []build.Kind{build.KindModule, build.KindUntag}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %q, want %q", got, want)
	}
	m := build.Message{Kind: build.KindTag, Koji: &build.KojiEvent{Kind: build.KindTag, Tag: "f27-x", Build: build.KojiBuild{Name: "a", Version: "1", Release: "1"}}}
	d, err := rs.DecideMessage(m, nil)
	if err != nil || d.Outcome != policy.Skipped {
		t.Errorf("a tag event with rules only on untag: %v %v, want skipped", d.Outcome, err)
	}
	if _, err := rs.DecideMessage(build.Message{Kind: build.KindModule}, nil); !errors.Is(err, ErrNoModule) {
		t.Errorf("a module message without its event: %v", err)
	}
}

// TestMatchValuesKoji: explain's values work for rules on Koji's events.
func TestMatchValuesKoji(t *testing.T) {
	rs, err := Load([]string{"testdata/koji/tag.cel.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := kojiMessages(t, "testdata/koji/protonmsg-koji-1.35.3.jsonl")[3]
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := env.MatchValues(rs.Set, rs.Set.Rules()[0], rs.Input(m, docOf(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	want := policy.ExprValue{Expr: "event.tag", Value: `"f29-modular-updates-candidate"`}
	if !slices.Contains(vals, want) {
		t.Errorf("values %v lack %v", vals, want)
	}
}
