package ruleset

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/internal/modulemd"
	"github.com/fedora-modularity/mts/policy"
)

// TestIndexDecidesAsTheFullWalk checks that skipping rules through the
// guard index never changes a decision: random rule sets large enough to
// be indexed, random builds, decided with and without the index.
func TestIndexDecidesAsTheFullWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"mod-1", "mod-12", "mod-123", "mod-2", "perl", "perl-DBI", "nodejs", "x"}
	errorsSeen, pruned := 0, 0
	for round := 0; round < 20; round++ {
		var b strings.Builder
		for i := 0; i < 150; i++ {
			n := names[rng.IntN(len(names))]
			switch rng.IntN(6) {
			case 5:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {name: '^%s', dependencies: {requires: {platform: '^f'}}}, destinations: 'deps-%d'}\n", i, n, i)
			case 0:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {name: '^%s$'}, destinations: 'exact-%d'}\n", i, n, i)
			case 1:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {name: '^%s'}, destinations: 'prefix-%d'}\n", i, n[:1+rng.IntN(len(n))], i)
			case 2:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {name: '%s'}, destinations: 'search-%d'}\n", i, n[rng.IntN(len(n)):], i)
			case 3:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {stream: '^%d', name: '^%s'}, destinations: 'stream-%d'}\n", i, rng.IntN(3), n, i)
			default:
				fmt.Fprintf(&b, "- {id: r%d, type: module, rule: {name: ['^%s$', '^%s']}, destinations: 'list-%d'}\n", i, n, names[rng.IntN(len(names))], i)
			}
		}
		rs, err := LoadBytes("random.yaml", []byte(b.String()), Options{})
		if err != nil {
			t.Fatal(err)
		}
		deps := []string{"[]", "[{requires: {platform: [f31]}}]", "[{requires: f31}]", "null", "[{}]"}
		for _, n := range append(names, "mod-1234", "", "perlx") {
			doc, err := modulemd.Parse([]byte(fmt.Sprintf("data: {name: '%s', stream: '%d', dependencies: %s}",
				n, rng.IntN(3), deps[rng.IntN(len(deps))])))
			if err != nil {
				t.Fatal(err)
			}
			in := doc.Input(build.Event{Name: n, StateName: "ready"})
			indexed, err1 := rs.Set.Eval(in)
			in.Index = nil
			full, err2 := rs.Set.Eval(in)
			var e1, e2 *policy.EvalError
			errors.As(err1, &e1)
			errors.As(err2, &e2)
			if (err1 == nil) != (err2 == nil) || (e1 != nil && (e2 == nil || e1.RuleIndex != e2.RuleIndex)) {
				t.Fatalf("round %d, name %q: indexed error %v, full walk error %v", round, n, err1, err2)
			}
			if err1 != nil {
				errorsSeen++
				continue
			}
			if indexed.Outcome != full.Outcome || indexed.Rule != full.Rule || !reflect.DeepEqual(indexed.Destinations, full.Destinations) {
				t.Fatalf("round %d, name %q: indexed %s %v, full %s %v", round, n, indexed.Outcome, indexed.Destinations, full.Outcome, full.Destinations)
			}
			if len(indexed.Tried) < len(full.Tried) {
				pruned++
			}
			if len(indexed.Tried) > len(full.Tried) {
				t.Fatalf("the index tried more rules (%d) than the full walk (%d)", len(indexed.Tried), len(full.Tried))
			}
		}
	}
	if pruned == 0 {
		t.Fatal("the index never skipped a rule")
	}
	if errorsSeen == 0 {
		t.Fatal("no build failed evaluation: the error path of the index went untested")
	}
}

func TestFilesRevisionIsLoadsRevision(t *testing.T) {
	paths := []string{"../../rules/fedora/fedora.yaml", "../../rules/fedora-cel/fedora.cel.yaml"}
	rs, err := Load(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := FilesRevision(paths)
	if err != nil || rev != rs.Revision {
		t.Fatalf("FilesRevision = %q, %v; Load's revision %q", rev, err, rs.Revision)
	}
	if other, _ := FilesRevision(paths[:1]); other == rev {
		t.Fatal("different files gave the same revision")
	}
}
