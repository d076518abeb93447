package ruletest

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	got := Expect{Outcome: "matched", Rule: "r", Destinations: []string{"a", "b"}}
	tests := []struct {
		name string
		want Expect
		fail string // substring of the first failure, "" for a pass
	}{
		{"exact", got, ""},
		{"rule only implies matched", Expect{Rule: "r"}, ""},
		{"destinations only", Expect{Destinations: []string{"a", "b"}}, ""},
		{"destination order matters", Expect{Destinations: []string{"b", "a"}}, "destinations"},
		{"wrong rule", Expect{Rule: "s"}, `rule: want "s"`},
		{"wrong outcome", Expect{Outcome: "unmatched"}, "outcome: want unmatched, got matched"},
		{"empty expect", Expect{}, "no outcome"},
		{"error substring", Expect{Outcome: "matched", Error: "boom"}, "error: want one containing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := compare(tt.want, got)
			if tt.fail == "" {
				if len(f) > 0 {
					t.Errorf("want pass, got %v", f)
				}
				return
			}
			if len(f) == 0 || !strings.Contains(f[0], tt.fail) {
				t.Errorf("want failure containing %q, got %v", tt.fail, f)
			}
		})
	}
}
