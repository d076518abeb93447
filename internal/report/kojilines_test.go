package report

import (
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/policy"
)

// TestKojiLines: the --dev line of each of Koji's events names the build,
// the kind and tag, the outcome, the rule with destinations and untag,
// or what went wrong.
func TestKojiLines(t *testing.T) {
	ev := build.KojiEvent{Kind: build.KindTag, Tag: "f40-candidate", User: "bodhi",
		Build: build.KojiBuild{ID: 9, Name: "bash", Version: "5.2.26", Release: "3.fc40"}}
	m := build.Message{Kind: ev.Kind, Koji: &ev}
	rule := &policy.Rule{Spec: policy.Spec{ID: "testing-to-stable", Index: 2}}
	tests := []struct {
		name string
		d    decision.Decision
		dry  bool
		want string
	}{
		{"move", decision.ForKoji(ev, policy.Decision{Outcome: policy.Matched, Rule: rule, Destinations: []string{"f40-stable"}}, []string{"f40-testing"}), true,
			`bash-5.2.26-3.fc40 (id 9) build.tag f40-candidate: matched by rule 2 "testing-to-stable" -> f40-stable, untag f40-testing (dry run: nothing tagged)`},
		{"unmatched", decision.ForKoji(ev, policy.Decision{Outcome: policy.Unmatched}, nil), false,
			`bash-5.2.26-3.fc40 (id 9) build.tag f40-candidate: unmatched: no rule matched`},
		{"skipped", decision.ForKoji(ev, policy.Decision{Outcome: policy.Skipped}, nil), false,
			`bash-5.2.26-3.fc40 (id 9) build.tag f40-candidate: skipped: no rule applies`},
		{"filtered", decision.Decision{Event: m, Outcome: "filtered", Error: "no rule decides on build.tag events"}, false,
			`bash-5.2.26-3.fc40 (id 9) build.tag f40-candidate: filtered: no rule decides on build.tag events`},
		{"build info missing", decision.Decision{Event: m, Outcome: decision.OutcomeError, Error: "no build info: the message has only the build's id"}, false,
			`bash-5.2.26-3.fc40 (id 9) build.tag f40-candidate: error: no build info: the message has only the build's id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := Record(&b, decision.Record{Decision: tt.d, DryRun: tt.dry}); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(b.String(), "\n"); got != tt.want {
				t.Errorf("line\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
