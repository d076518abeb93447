package kojitest

import (
	"testing"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// TestUntagBuildAsTheHub: untagBuild's faults and answers, strict or not,
// the untag revoking the listing in queryHistory with its revoker, and
// getBuildType with and without strict.
func TestUntagBuildAsTheHub(t *testing.T) {
	h := New(t)
	h.AddTag("t")
	h.AddTag("locked")
	h.AddBuild(Build{NVR: "p-1-1"})
	h.Tag("t", "p-1-1")
	h.Tag("locked", "p-1-1")
	h.LockTag("locked", true)
	post := rawClient(t, h)
	id, key := login(t, post)
	auth := map[string]string{"Koji-Session-Id": id, "Koji-Session-Key": key}
	steps := []struct {
		name   string
		auth   bool
		method string
		params []any
		fault  int
	}{
		{"anonymous", false, "untagBuild", []any{"t", "p-1-1"}, 1004},
		{"unknown tag", true, "untagBuild", []any{"nope", "p-1-1"}, 1000},
		{"unknown build", true, "untagBuild", []any{"t", "q-1-1"}, 1000},
		{"locked", true, "untagBuild", []any{"locked", "p-1-1", wire.Kwargs{"strict": false}}, 1004},
		{"force is for admins", true, "untagBuild", []any{"t", "p-1-1", true, true}, 1004},
		{"untag", true, "untagBuild", []any{"t", "p-1-1"}, 0},
		{"strict, not tagged", true, "untagBuild", []any{"t", "p-1-1"}, 1003},
		{"not strict, not tagged", true, "untagBuild", []any{"t", "p-1-1", wire.Kwargs{"strict": false}}, 0},
		{"bad keyword", true, "untagBuild", []any{"t", "p-1-1", wire.Kwargs{"fromtag": "x"}}, 1019},
		{"build type", false, "getBuildType", []any{"p-1-1"}, 0},
		{"build type unknown", false, "getBuildType", []any{"q-1-1"}, 0},
		{"build type unknown strict", false, "getBuildType", []any{"q-1-1", true}, 1000},
	}
	for _, s := range steps {
		hdr := map[string]string(nil)
		if s.auth {
			hdr = auth
		}
		_, resp := post("", call(t, s.method, s.params...), hdr)
		if code, msg := faultOf(resp); code != s.fault {
			t.Errorf("%s: fault %d %q, want %d", s.name, code, msg, s.fault)
		}
	}
	if got := h.Tagged("t"); len(got) != 0 {
		t.Errorf("t holds %v after the untag", got)
	}
	if got := h.Tagged("locked"); len(got) != 1 {
		t.Errorf("locked holds %v, want the build", got)
	}
	if got := h.UntagCalls(); len(got) != 1 || got[0].User != "mts" {
		t.Errorf("untags %+v, want one by mts", got)
	}
	_, resp := post("", call(t, "getBuildType", "p-1-1"), nil)
	var types map[string]any
	if err := wire.DecodeResponse(resp, &types); err != nil || len(types) != 1 || types["rpm"] != nil {
		t.Errorf("getBuildType = %v, %v; want {rpm: nil}", types, err)
	}
	_, resp = post("", call(t, "queryHistory", wire.Kwargs{"tables": []any{"tag_listing"}, "build": "p-1-1", "tag": "t"}), nil)
	var hist map[string][]map[string]any
	if err := wire.DecodeResponse(resp, &hist); err != nil {
		t.Fatal(err)
	}
	rows := hist["tag_listing"]
	if len(rows) != 1 || rows[0]["active"] != nil || rows[0]["revoker_name"] != "mts" || rows[0]["revoke_ts"] == nil {
		t.Errorf("history %v, want one listing revoked by mts", rows)
	}
}
