package history_test

import (
	"context"
	"errors"
	"github.com/fedora-modularity/mts/internal/history/historytest"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedora-modularity/mts/internal/history"
)

// testdata/store-v1.db was written by mts serve's store at schema 1 (the
// documents in a table of their own): the decisions of the four builds,
// nodejs delivered twice, with the fixed rules, and a fifth (MBS id 105)
// with javapackages-tools' document grown to 27 KB by withArtifacts.
func TestOpenUpgradesSchema1(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("testdata", "store-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "decisions.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := history.OpenReadOnly(ctx, path); !errors.Is(err, history.ErrOldSchema) {
		t.Fatalf("read-only open of a schema 1 store: %v, want ErrOldSchema", err)
	}

	rules := &historytest.SwitchableRules{}
	rs := historytest.LoadRules(t, "fixed")
	rules.Set(rs)
	s, err := history.Open(ctx, path, history.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.List(ctx, history.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	stored := len(historytest.Builds) + 1
	if len(ds) != stored {
		t.Fatalf("%d decisions after the upgrade, want %d", len(ds), stored)
	}
	for _, d := range ds {
		file, large := "", d.EventID == 105
		for _, b := range historytest.Builds {
			if b.ID == d.EventID || large && b.ID == 101 {
				file = b.File
			}
		}
		text, err := os.ReadFile(filepath.Join("testdata", "modulemd", file))
		if err != nil {
			t.Fatal(err)
		}
		want := string(text)
		if large {
			want = withArtifacts(want, 400)
		}
		if got, err := s.Document(ctx, &d); err != nil || got != want {
			t.Errorf("decision %d (%s): document of %d bytes, %v; want the %d of testdata/modulemd/%s", d.ID, d.Build, len(got), err, len(want), file)
		}
		if d.EventID == 102 && d.Deliveries != 2 {
			t.Errorf("nodejs delivered %d times, want 2", d.Deliveries)
		}
	}
	// The lookups the indexes serve still answer.
	if got, err := s.List(ctx, history.Filter{Build: "102"}); err != nil || len(got) != 1 {
		t.Fatalf("by MBS id: %d decisions, %v", len(got), err)
	}
	if got, err := s.List(ctx, history.Filter{Build: "nodejs:12"}); err != nil || len(got) != 1 {
		t.Fatalf("by N:S: %d decisions, %v", len(got), err)
	}
	if _, err := s.Get(ctx, ds[0].ID); err != nil {
		t.Fatal(err)
	}

	// A redelivery of a message recorded before the upgrade updates its
	// record.
	r := historytest.Decision(t, rs, 102, "nodejs-12-f31.yaml", "v1-msg-nodejs-12-f31.yaml", 7010)
	if err := s.Record(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, history.Filter{Build: "102"})
	if err != nil || len(got) != 1 || got[0].Deliveries != 3 {
		t.Fatalf("after a redelivery: %+v, %v; want one decision delivered 3 times", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Upgraded, the file opens again either way.
	s, err = history.Open(ctx, path, history.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := history.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.List(ctx, history.Filter{}); err != nil || len(got) != stored {
		t.Fatalf("read-only after the upgrade: %d decisions, %v", len(got), err)
	}
}
