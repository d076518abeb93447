package koji_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/koji/kojitest"
	"github.com/prometheus/client_golang/prometheus"
)

const otherTag = "f40-modular-pending"

// requests is how many HTTP requests of each method the hub got since
// before.
func requests(hub *kojitest.Hub, before map[string]kojitest.MethodStats) map[string]int {
	out := map[string]int{}
	for m, s := range hub.Stats() {
		if n := s.Requests - before[m].Requests; n > 0 {
			out[m] = n
		}
	}
	return out
}

func TestUntagBuild(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(hub *kojitest.Hub)
		tag     string
		anon    bool
		check   func(error) bool // nil: no error
		tagged  bool             // still in the tag after
		untagFn int              // untagBuild calls that untagged
	}{
		{name: "tagged", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr) }, tag: tagName, untagFn: 1},
		{name: "not tagged is no error", setup: func(*kojitest.Hub) {}, tag: tagName},
		{name: "locked tag", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr); h.LockTag(tagName, true) },
			tag: tagName, check: koji.IsNotAllowed, tagged: true},
		{name: "policy refuses untag", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr); h.DenyPolicy(tagName, "untag") },
			tag: tagName, check: koji.IsNotAllowed, tagged: true},
		{name: "tag permission missing", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr); h.SetTagPerm(tagName, "f40-admin") },
			tag: tagName, check: koji.IsNotAllowed, tagged: true},
		{name: "unknown tag", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr) }, tag: "no-such-tag",
			check: koji.IsNotFound, tagged: true},
		{name: "anonymous", setup: func(h *kojitest.Hub) { h.Tag(tagName, nvr) }, tag: tagName, anon: true,
			check: func(err error) bool { return errors.Is(err, koji.ErrNoCredentials) }, tagged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newHub(t)
			tt.setup(hub)
			cfg := sslConfig(hub, "mts")
			if tt.anon {
				cfg = &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile()}
			}
			c := newClient(t, cfg)
			ctx := ctxT(t)
			err := c.UntagBuild(ctx, tt.tag, nvr)
			switch {
			case tt.check == nil && err != nil:
				t.Fatalf("UntagBuild: %v", err)
			case tt.check != nil && !tt.check(err):
				t.Fatalf("UntagBuild: %v, not the error expected", err)
			case err != nil && koji.Retryable(err):
				t.Errorf("UntagBuild: %v is retryable, but retrying cannot help", err)
			}
			if got := slices.Contains(hub.Tagged(tagName), nvr); got != tt.tagged {
				t.Errorf("in the tag after: %v, want %v", got, tt.tagged)
			}
			if got := len(hub.UntagCalls()); got != tt.untagFn {
				t.Errorf("%d untags done, want %d", got, tt.untagFn)
			}
		})
	}
}

// TestUntagBuildAgain: an untag that is done already is done again
// without a fault (strict=False), each call one request.
func TestUntagBuildAgain(t *testing.T) {
	hub := newHub(t)
	hub.Tag(tagName, nvr)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	before := hub.Stats()
	for range 2 {
		if err := c.UntagBuild(ctx, tagName, nvr); err != nil {
			t.Fatal(err)
		}
	}
	if got := requests(hub, before); !reflect.DeepEqual(got, map[string]int{"untagBuild": 2}) {
		t.Errorf("requests %v, want two untagBuild", got)
	}
	for _, call := range hub.Calls() {
		if call.Method == "untagBuild" && call.Fault != 0 {
			t.Errorf("untagBuild answered fault %d", call.Fault)
		}
	}
}

// TestUntagBuildsOneRequest: several untags travel in one multiCall; a
// refusal is that target's error only, and counted under untagBuild.
func TestUntagBuildsOneRequest(t *testing.T) {
	hub := newHub(t)
	hub.AddTag(otherTag)
	hub.Tag(tagName, nvr)
	hub.Tag(tagName, develN)
	hub.Tag(otherTag, nvr)
	hub.LockTag(otherTag, true)
	reg := prometheus.NewRegistry()
	c := newClient(t, sslConfig(hub, "mts"), koji.WithMetrics(koji.NewMetrics(reg)))
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	before := hub.Stats()
	errs, err := c.UntagBuilds(ctx, []koji.TagTarget{{Tag: tagName, NVR: nvr}, {Tag: tagName, NVR: develN}, {Tag: otherTag, NVR: nvr}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !koji.IsNotAllowed(errs[2]) {
		t.Fatalf("errors %v, want nil, nil, ActionNotAllowed", errs)
	}
	if got := requests(hub, before); !reflect.DeepEqual(got, map[string]int{"multiCall": 1}) {
		t.Errorf("requests %v, want one multiCall", got)
	}
	if got := hub.Tagged(tagName); len(got) != 0 {
		t.Errorf("%s still holds %v", tagName, got)
	}
	if got := hub.Tagged(otherTag); !slices.Equal(got, []string{nvr}) {
		t.Errorf("%s holds %v, want the build (locked)", otherTag, got)
	}
	if n := faultCount(t, reg, "untagBuild", "1004"); n != 1 {
		t.Errorf("mts_koji_faults_total{method=untagBuild,code=1004} = %v, want 1", n)
	}
}

// faultCount reads mts_koji_faults_total for a method and code.
func faultCount(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mts_koji_faults_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestMoveBuild: a move is one tagBuild task with fromtag; when it runs
// the build leaves the one tag and enters the other. A build no longer
// in the tag it is moved from fails the task (TagError); a policy that
// refuses moves into the tag refuses the call, and still lets tags in.
func TestMoveBuild(t *testing.T) {
	hub := newHub(t, kojitest.WithTaskDelay(50*time.Millisecond))
	hub.AddTag(otherTag)
	hub.AddPackage(otherTag, "nodejs")
	hub.AddPackage(otherTag, "nodejs-devel")
	hub.Tag(tagName, nvr)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)

	id, err := c.MoveBuild(ctx, tagName, otherTag, nvr)
	if err != nil {
		t.Fatal(err)
	}
	// develN is in no tag: its move fails in the task.
	ids, errs, err := c.TagBuilds(ctx, []koji.TagTarget{{Tag: otherTag, NVR: develN, From: tagName}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if err := hub.WaitTasks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := hub.Tagged(tagName); len(got) != 0 {
		t.Errorf("%s holds %v after the move", tagName, got)
	}
	if got := hub.Tagged(otherTag); !slices.Equal(got, []string{nvr}) {
		t.Errorf("%s holds %v, want [%s]", otherTag, got, nvr)
	}
	tasks, err := c.TaskStates(ctx, []int{id, ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if tasks[0].State != koji.TaskClosed {
		t.Errorf("move task %+v, want CLOSED", tasks[0])
	}
	if tasks[1].State != koji.TaskFailed || tasks[1].Fault == nil || tasks[1].Fault.Code != koji.CodeTagError {
		t.Errorf("move of a build not in the tag: task %+v, want FAILED with TagError", tasks[1])
	}
	for _, call := range hub.Calls() {
		if call.Method == "tagBuild" && (len(call.Params) != 4 || call.Params[3] != tagName) {
			t.Errorf("tagBuild params %v, want fromtag %s", call.Params, tagName)
		}
	}

	hub.DenyPolicy(otherTag, "move")
	hub.Tag(tagName, develN)
	if _, err := c.MoveBuild(ctx, tagName, otherTag, develN); !koji.IsNotAllowed(err) {
		t.Errorf("move refused by policy: %v, want ActionNotAllowed", err)
	}
	if _, err := c.TagBuild(ctx, otherTag, develN); err != nil {
		t.Errorf("tag where only moves are refused: %v", err)
	}
}

// TestTagStatesTellTheBuildsTags: the look says which tags each build is
// in, untag-only targets (no Tag) included, in the look's one request.
func TestTagStatesTellTheBuildsTags(t *testing.T) {
	hub := newHub(t)
	hub.AddTag(otherTag)
	hub.Tag(tagName, nvr)
	hub.Tag(otherTag, nvr)
	c := newClient(t, sslConfig(hub, "mts"))
	ctx := ctxT(t)
	targets := []koji.TagTarget{{Tag: tagName, NVR: develN}, {NVR: nvr}}
	if _, err := c.TagStates(ctx, targets); err != nil {
		t.Fatal(err)
	}
	if err := c.UntagBuild(ctx, tagName, nvr); err != nil {
		t.Fatal(err)
	}
	before := hub.Stats()
	states, err := c.TagStates(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	if got := requests(hub, before); !reflect.DeepEqual(got, map[string]int{"multiCall": 1}) {
		t.Errorf("a look cost %v, want one multiCall", got)
	}
	if s := states[0]; s.Tagged || len(s.Tags) != 0 || s.InTag(tagName) {
		t.Errorf("%s: %+v, want in no tag", develN, s)
	}
	if s := states[1]; s.Tagged || s.Task != nil || !slices.Equal(s.Tags, []string{otherTag}) || !s.InTag(otherTag) || s.InTag(tagName) {
		t.Errorf("%s: %+v, want in %s only", nvr, s, otherTag)
	}
}

// corpusFile is one file of ../testdata/koji/builds.
type corpusFile struct {
	GetBuild     json.RawMessage `json:"getBuild"`
	GetBuildType json.RawMessage `json:"getBuildType"`
}

// TestGetBuildInfo: every build of the corpus comes back, by NVR and by
// id, as build.DecodeBuildInfo reads the hub's two answers, for one
// request carrying getBuild and getBuildType; an unknown build is
// ErrNotFound.
func TestGetBuildInfo(t *testing.T) {
	dir := filepath.Join("..", "testdata", "koji", "builds")
	builds, err := kojitest.ReadBuilds(dir)
	if err != nil {
		t.Fatal(err)
	}
	hub := kojitest.New(t)
	for _, b := range builds {
		hub.AddBuild(b)
	}
	c := newClient(t, &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile()})
	ctx := ctxT(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	wantTypes := map[string][]string{
		"image-fedora-toolbox-container-40-12.json": {"image"},
		"maven-commons-lang3-3.14.0-1.json":         {"maven"},
		"module-nodejs-10.json":                     {"module"},
		"multi-jboss-logging-3.5.3-2.el9.json":      {"maven", "rpm"},
		"rpm-bash-5.2.26-3.fc40.json":               {"rpm"},
		"win-virtio-win-drivers-0.1.240-1.json":     {"win"},
	}
	if len(files) != len(wantTypes) {
		t.Errorf("%d corpus files, want %d", len(files), len(wantTypes))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var cf corpusFile
			if err := json.Unmarshal(data, &cf); err != nil {
				t.Fatal(err)
			}
			want, err := build.DecodeBuildInfo(cf.GetBuild, cf.GetBuildType)
			if err != nil {
				t.Fatal(err)
			}
			if !want.Complete || !slices.Equal(want.TypeNames(), wantTypes[filepath.Base(f)]) {
				t.Errorf("corpus decodes to types %v (complete %v), want %v", want.TypeNames(), want.Complete, wantTypes[filepath.Base(f)])
			}
			for _, key := range []string{want.NVR(), strconv.FormatInt(want.ID, 10)} {
				before := hub.Stats()
				got, err := c.GetBuildInfo(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("GetBuildInfo(%s) = %+v\nwant %+v", key, got, want)
				}
				if r := requests(hub, before); !reflect.DeepEqual(r, map[string]int{"multiCall": 1}) {
					t.Errorf("GetBuildInfo(%s) cost %v, want one multiCall", key, r)
				}
				after := hub.Stats()
				for _, m := range []string{"getBuild", "getBuildType"} {
					if n := after[m].Calls - before[m].Calls; n != 1 {
						t.Errorf("%s called %d times, want once", m, n)
					}
				}
			}
		})
	}
	_, err = c.GetBuildInfo(ctx, "nobody-1-1")
	if !errors.Is(err, koji.ErrNotFound) || !koji.IsNotFound(err) {
		t.Errorf("unknown build: %v, want ErrNotFound", err)
	}
	if _, err := c.GetBuildInfo(ctx, "999999999"); !errors.Is(err, koji.ErrNotFound) {
		t.Errorf("unknown build id: %v, want ErrNotFound", err)
	}
	hub.InjectFault("multiCall", 1, koji.CodeServerOffline, "server is offline")
	if _, err := c.GetBuildInfo(ctx, "bash-5.2.26-3.fc40"); !koji.IsServerOffline(err) || !koji.Retryable(err) {
		t.Errorf("hub offline: %v, want a retryable ServerOffline", err)
	}
}
