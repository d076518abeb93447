package build

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestTopicKind(t *testing.T) {
	tests := []struct {
		topic string
		want  Kind
		ok    bool
	}{
		{"/topic/VirtualTopic.eng.brew.build.complete", KindComplete, true},
		{"Consumer.mts.prod.VirtualTopic.eng.brew.build.tag", KindTag, true},
		{"topic://VirtualTopic.eng.brew.build.untag", KindUntag, true},
		{"org.fedoraproject.prod.buildsys.tag", KindTag, true},
		{"org.fedoraproject.prod.buildsys.untag", KindUntag, true},
		{"org.fedoraproject.prod.buildsys.build.state.change", kindStateAny, true},
		{"org.fedoraproject.prod.mbs.module.state.change", KindModule, true},
		{"VirtualTopic.eng.brew.rebuild.tag", "", false},
		{"mts-queue", "", false},
		{"VirtualTopic.eng.brew.build.completed", "", false},
	}
	for _, tt := range tests {
		got, ok := TopicKind(tt.topic)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TopicKind(%q) = %q, %v; want %q, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDecodeRecordedProtonmsg reads every build message a real hub's
// protonmsg plugin published.
func TestDecodeRecordedProtonmsg(t *testing.T) {
	f, err := os.Open("testdata/protonmsg-koji-1.35.3.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
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
		if _, ok := TopicKind(rec.Address); !ok {
			continue
		}
		m, err := DecodeMessage(rec.Address, "", rec.Body)
		if err != nil {
			t.Fatalf("%s: %v", rec.Address, err)
		}
		k := m.Koji
		got = append(got, strings.Join([]string{string(m.Kind), k.Build.NVR(), k.Tag, k.User, k.Old + ">" + k.New, strings.Join(k.Build.TypeNames(), ","), boolText(k.Build.Complete)}, " "))
	}
	want := []string{
		"build.complete testmodule-master-20180205135154.9c690d0e   >complete module complete",
		"build.complete testmodule-devel-master-20180205135154.9c690d0e   >complete module complete",
		"build.complete nodejs-10-20180816123225.6c81f848   >complete module complete",
		"build.tag nodejs-10-20180816123225.6c81f848 f29-modular-updates-candidate kojiadmin > module complete",
		"build.tag 389-directory-server-devel-stable-8000020200901000000.90b91188 f27-modular-updates-candidate mts > module complete",
		"build.untag 389-directory-server-devel-stable-8000020200901000000.90b91188 f27-modular-updates-candidate kojiadmin > module complete",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("decoded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func boolText(b bool) string {
	if b {
		return "complete"
	}
	return "partial"
}

func TestDecodeFedoraMessaging(t *testing.T) {
	tests := []struct {
		name, topic, body string
		want              string
		wantErr           bool
	}{
		{
			name:  "tag",
			topic: "org.fedoraproject.prod.buildsys.tag",
			body:  `{"build_id": 1457909, "name": "http-parser", "tag_id": 6446, "instance": "primary", "tag": "f31-updates-pending", "user": "bodhi", "version": "2.9.3", "owner": "sgallagh", "release": "1.fc31"}`,
			want:  "build.tag http-parser-2.9.3-1.fc31 f31-updates-pending bodhi primary partial",
		},
		{
			name:  "state change, fedmsg wrapping",
			topic: "org.fedoraproject.prod.buildsys.build.state.change",
			body:  `{"msg": {"build_id": 1478312, "old": 0, "new": 1, "name": "chromium", "task_id": 42561864, "attribute": "state", "instance": "primary", "epoch": null, "version": "80.0.3987.132", "owner": "spot", "release": "1.fc33"}}`,
			want:  "build.complete chromium-80.0.3987.132-1.fc33   primary partial",
		},
		{name: "state change to an unknown state", topic: "buildsys.build.state.change", body: `{"build_id": 1, "name": "x", "version": "1", "release": "1", "new": 9}`, wantErr: true},
		{name: "tag without a tag", topic: "buildsys.tag", body: `{"build_id": 1, "name": "x", "version": "1", "release": "1"}`, wantErr: true},
		{name: "no build", topic: "buildsys.tag", body: `{"tag": "x"}`, wantErr: true},
		{name: "not an object", topic: "VirtualTopic.eng.brew.build.tag", body: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.topic, "", []byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k := m.Koji
			got := strings.Join([]string{string(m.Kind), k.Build.NVR(), k.Tag, k.User, k.Instance, boolText(k.Build.Complete)}, " ")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeMessageFallsBackToTheInputKind(t *testing.T) {
	body := `{"tag": {"id": 3, "name": "f40"}, "build": {"id": 9, "name": "x", "version": "1", "release": "2", "extra": {"typeinfo": {"image": {}}}}, "user": {"name": "u"}}`
	m, err := DecodeMessage("mts-untag-queue", KindUntag, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindUntag || m.Koji.Tag != "f40" || m.Koji.Build.TypeNames()[0] != "image" {
		t.Errorf("got %+v", m.Koji)
	}
	_, err = DecodeMessage("VirtualTopic.eng.brew.task.closed", "", []byte(`{"info": {"id": 1}}`))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "task.closed") {
		t.Errorf("a message on a topic of no kind: %v, want ErrMalformed naming the topic", err)
	}
	m, err = DecodeMessage("mts-queue", "", []byte(`{"id": 1, "name": "m", "stream": "s", "version": "1", "context": "c", "state_name": "ready"}`))
	if err != nil || m.Kind != KindModule || m.Module.Name != "m" {
		t.Errorf("MBS fallback: %+v, %v", m, err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add("VirtualTopic.eng.brew.build.tag", `{"tag": {"name": "t"}, "build": {"id": 1, "name": "x", "version": "1", "release": "1"}}`)
	f.Add("buildsys.build.state.change", `{"build_id": 1, "name": "x", "version": 1, "release": "1", "new": 1, "epoch": "2"}`)
	f.Add("VirtualTopic.eng.brew.build.complete", `{"info": {"build_id": 1, "name": "x", "version": "1", "release": "1", "extra": {"a": [1, 2.5]}}, "btypes": {"rpm": null}}`)
	f.Fuzz(func(t *testing.T, topic, body string) {
		m, err := DecodeMessage(topic, "", []byte(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if m.Koji != nil {
			_ = m.Koji.Build.Vars()
			_ = m.Koji.Vars()
		}
	})
}
