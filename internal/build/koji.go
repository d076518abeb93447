package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Message is one event the pipeline handles: MBS's module build event or
// one of Koji's own build events.
type Message struct {
	Kind Kind `json:"kind"`
	// Module is set when Kind is KindModule.
	Module *Event `json:"module,omitempty"`
	// Koji is set for Koji's kinds.
	Koji *KojiEvent `json:"koji,omitempty"`
}

// ModuleMessage wraps an MBS event.
func ModuleMessage(ev Event) Message { return Message{Kind: KindModule, Module: &ev} }

// Subject names the build the message is about, for logs and for keeping
// two copies of one event apart: N:S:V:C for a module event, the NVR for
// a Koji event.
func (m Message) Subject() string {
	if m.Koji != nil {
		return m.Koji.Build.NVR()
	}
	if m.Module != nil {
		return m.Module.NSVC()
	}
	return ""
}

// KojiEvent is one of Koji's build events: a state change, a tag or an
// untag.
type KojiEvent struct {
	Kind  Kind      `json:"kind"`
	Build KojiBuild `json:"build"`
	// Tag and TagID name the tag of a tag or untag event.
	Tag   string `json:"tag,omitempty"`
	TagID int64  `json:"tag_id,omitempty"`
	// User is who tagged or untagged the build.
	User string `json:"user,omitempty"`
	// Old and New are the state names of a state change; Old is empty
	// for a new build (an import).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Instance is the Koji instance a fedora-messaging body names
	// ("primary").
	Instance string `json:"instance,omitempty"`
}

// KojiBuild is the hub's build info (getBuild) with the build's types
// (getBuildType).
type KojiBuild struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Release string `json:"release"`
	Epoch   *int64 `json:"epoch"`
	Owner   string `json:"owner"`
	// State is the hub's state code (0 building ... 4 canceled).
	State  int            `json:"state"`
	Volume string         `json:"volume,omitempty"`
	TaskID *int64         `json:"task_id"`
	CG     string         `json:"cg,omitempty"`
	Extra  map[string]any `json:"extra,omitempty"`
	// Types maps each of the build's type names to its type info, as
	// getBuildType returns them.
	Types map[string]any `json:"types,omitempty"`
	// Complete is false when the message carried only the build's
	// identity (Fedora's flat bodies, a tag event's build info without
	// its types): what rules may need beyond that is asked of the hub.
	Complete bool `json:"complete"`
}

// NVR is the build's name-version-release.
func (b KojiBuild) NVR() string { return b.Name + "-" + b.Version + "-" + b.Release }

// TypeNames are the build's type names, sorted.
func (b KojiBuild) TypeNames() []string {
	return slices.Sorted(maps.Keys(b.Types))
}

// ModulemdText is the modulemd document of a module build, as the hub
// keeps it in the build's module type info.
func (b KojiBuild) ModulemdText() (string, bool) {
	info, _ := b.Types["module"].(map[string]any)
	s, ok := info["modulemd_str"].(string)
	return s, ok && s != ""
}

// Vars is the build as rules see it, the CEL variable `build`.
func (b KojiBuild) Vars() map[string]any {
	extra := b.Extra
	if extra == nil {
		extra = map[string]any{}
	}
	typeinfo := b.Types
	if typeinfo == nil {
		typeinfo = map[string]any{}
	}
	names := make([]any, 0, len(b.Types))
	for _, n := range b.TypeNames() {
		names = append(names, n)
	}
	return map[string]any{
		"id": b.ID, "name": b.Name, "version": b.Version, "release": b.Release,
		"epoch": optInt(b.Epoch), "nvr": b.NVR(), "owner": b.Owner,
		"state": KojiStateName(b.State), "volume": b.Volume, "task_id": optInt(b.TaskID),
		"cg": b.CG, "extra": extra, "types": names, "typeinfo": typeinfo,
	}
}

// Vars is the event as rules see it, the CEL variable `event`.
func (e KojiEvent) Vars() map[string]any {
	return map[string]any{
		"kind": string(e.Kind), "tag": e.Tag, "user": e.User,
		"old": e.Old, "new": e.New, "instance": e.Instance,
	}
}

func optInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// DecodeMessage reads a message delivered on topic (an address, a
// routing key, a fedmsg topic or a queue name). Its kind is the one the
// topic names (TopicKind), else the given kind, else an MBS module event.
// It accepts fedmsg's {"msg": ...} wrapping.
func DecodeMessage(topic string, kind Kind, body []byte) (Message, error) {
	k, ok := TopicKind(topic)
	if !ok {
		k = kind
	}
	if k == "" || k == KindModule {
		ev, err := Decode(body)
		if err != nil && k == "" && topic != "" {
			// Say why an MBS event was expected: a topic such as Koji's
			// task.closed is no kind, and its body no MBS event.
			return Message{}, fmt.Errorf("%w (topic %q names no event kind, so it was read as MBS's)", err, topic)
		}
		if err != nil {
			return Message{}, err
		}
		return ModuleMessage(ev), nil
	}
	body = unwrapMsg(body)
	ev, err := decodeKoji(k, body)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %s: %v", ErrMalformed, topic, err)
	}
	return Message{Kind: ev.Kind, Koji: &ev}, nil
}

func unwrapMsg(body []byte) []byte {
	var probe struct {
		Msg json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(body, &probe) == nil && len(probe.Msg) > 0 && string(probe.Msg) != "null" {
		return probe.Msg
	}
	return body
}

// kojiBody is the union of protonmsg's and koji-fedoramessaging's bodies.
type kojiBody struct {
	// protonmsg
	Info   json.RawMessage `json:"info"`
	BTypes json.RawMessage `json:"btypes"`
	Build  json.RawMessage `json:"build"`
	Tag    json.RawMessage `json:"tag"`
	User   json.RawMessage `json:"user"`
	// both: state codes
	Old *int `json:"old"`
	New *int `json:"new"`
	// fedora-messaging's flat fields
	BuildID  *int64          `json:"build_id"`
	Name     string          `json:"name"`
	Version  json.RawMessage `json:"version"`
	Release  json.RawMessage `json:"release"`
	Epoch    json.RawMessage `json:"epoch"`
	Owner    string          `json:"owner"`
	TaskID   *int64          `json:"task_id"`
	TagID    int64           `json:"tag_id"`
	Instance string          `json:"instance"`
}

func decodeKoji(k Kind, body []byte) (KojiEvent, error) {
	var b kojiBody
	if err := json.Unmarshal(body, &b); err != nil {
		return KojiEvent{}, err
	}
	ev := KojiEvent{Kind: k, Instance: b.Instance}
	var err error
	switch {
	case len(b.Info) > 0 && string(b.Info) != "null":
		// protonmsg state change.
		if ev.Build, err = decodeBuildInfo(b.Info); err != nil {
			return KojiEvent{}, fmt.Errorf("info: %w", err)
		}
		types, err := decodeMap(b.BTypes)
		if err != nil {
			return KojiEvent{}, fmt.Errorf("btypes: %w", err)
		}
		ev.Build.Types, ev.Build.Complete = completeTypes(types, ev.Build.Extra)
	case len(b.Build) > 0 && string(b.Build) != "null":
		// protonmsg tag or untag.
		if ev.Build, err = decodeBuildInfo(b.Build); err != nil {
			return KojiEvent{}, fmt.Errorf("build: %w", err)
		}
		ev.Build.Types, ev.Build.Complete = completeTypes(nil, ev.Build.Extra)
		var tag struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(b.Tag, &tag); err != nil {
			return KojiEvent{}, fmt.Errorf("tag: %w", err)
		}
		ev.Tag, ev.TagID = tag.Name, tag.ID
		var user struct {
			Name string `json:"name"`
		}
		if len(b.User) > 0 && json.Unmarshal(b.User, &user) != nil {
			return KojiEvent{}, fmt.Errorf("user: not an object")
		}
		ev.User = user.Name
	default:
		// Fedora's flat body.
		if b.BuildID == nil || b.Name == "" {
			return KojiEvent{}, fmt.Errorf("no build_id or name")
		}
		ev.Build = KojiBuild{ID: *b.BuildID, Name: b.Name, Owner: b.Owner, TaskID: b.TaskID}
		if ev.Build.Version, err = scalarText(b.Version); err != nil {
			return KojiEvent{}, fmt.Errorf("version: %w", err)
		}
		if ev.Build.Release, err = scalarText(b.Release); err != nil {
			return KojiEvent{}, fmt.Errorf("release: %w", err)
		}
		if ev.Build.Epoch, err = epochOf(b.Epoch); err != nil {
			return KojiEvent{}, fmt.Errorf("epoch: %w", err)
		}
		ev.Build.State = -1
		if k == KindTag || k == KindUntag {
			var tag string
			if err := json.Unmarshal(b.Tag, &tag); err != nil {
				return KojiEvent{}, fmt.Errorf("tag: %w", err)
			}
			var user string
			if len(b.User) > 0 && json.Unmarshal(b.User, &user) != nil {
				return KojiEvent{}, fmt.Errorf("user: not a name")
			}
			ev.Tag, ev.TagID, ev.User = tag, b.TagID, user
		}
	}
	if b.Old != nil {
		ev.Old = KojiStateName(*b.Old)
	}
	if b.New != nil {
		ev.New = KojiStateName(*b.New)
		if ev.Build.State < 0 {
			ev.Build.State = *b.New
		}
	}
	if k == kindStateAny {
		if b.New == nil {
			return KojiEvent{}, fmt.Errorf("a state change without new")
		}
		sk, ok := stateKind(*b.New)
		if !ok {
			return KojiEvent{}, fmt.Errorf("unknown build state %d", *b.New)
		}
		ev.Kind = sk
	}
	if (ev.Kind == KindTag || ev.Kind == KindUntag) && ev.Tag == "" {
		return KojiEvent{}, fmt.Errorf("a %s event without a tag", ev.Kind)
	}
	if ev.Build.Version == "" || ev.Build.Release == "" {
		return KojiEvent{}, fmt.Errorf("build %q has no version or release", ev.Build.Name)
	}
	return ev, nil
}

// completeTypes are a build's types from getBuildType's answer or, where
// that is empty (a content-generator import's callback runs before its
// types are recorded), from extra.typeinfo. complete is false when
// neither tells.
func completeTypes(btypes, extra map[string]any) (map[string]any, bool) {
	if len(btypes) > 0 {
		return btypes, true
	}
	if ti, ok := extra["typeinfo"].(map[string]any); ok && len(ti) > 0 {
		return maps.Clone(ti), true
	}
	return nil, false
}

// buildInfo is getBuild's answer.
type buildInfo struct {
	ID         *int64          `json:"id"`
	BuildID    *int64          `json:"build_id"`
	Name       string          `json:"name"`
	Version    json.RawMessage `json:"version"`
	Release    json.RawMessage `json:"release"`
	Epoch      json.RawMessage `json:"epoch"`
	OwnerName  string          `json:"owner_name"`
	State      int             `json:"state"`
	VolumeName string          `json:"volume_name"`
	TaskID     *int64          `json:"task_id"`
	CGName     *string         `json:"cg_name"`
	Extra      json.RawMessage `json:"extra"`
}

// DecodeBuildInfo reads the hub's build info (getBuild) and, when given,
// its types (getBuildType), as JSON.
func DecodeBuildInfo(info, btypes []byte) (KojiBuild, error) {
	b, err := decodeBuildInfo(info)
	if err != nil {
		return KojiBuild{}, err
	}
	types, err := decodeMap(btypes)
	if err != nil {
		return KojiBuild{}, fmt.Errorf("build types: %w", err)
	}
	b.Types, b.Complete = completeTypes(types, b.Extra)
	if btypes != nil {
		b.Complete = true
	}
	return b, nil
}

func decodeBuildInfo(raw []byte) (KojiBuild, error) {
	var in buildInfo
	if err := json.Unmarshal(raw, &in); err != nil {
		return KojiBuild{}, err
	}
	id := in.ID
	if id == nil {
		id = in.BuildID
	}
	if id == nil || in.Name == "" {
		return KojiBuild{}, fmt.Errorf("no build id or name")
	}
	b := KojiBuild{ID: *id, Name: in.Name, Owner: in.OwnerName, State: in.State, Volume: in.VolumeName, TaskID: in.TaskID}
	if in.CGName != nil {
		b.CG = *in.CGName
	}
	var err error
	if b.Version, err = scalarText(in.Version); err != nil {
		return KojiBuild{}, fmt.Errorf("version: %w", err)
	}
	if b.Release, err = scalarText(in.Release); err != nil {
		return KojiBuild{}, fmt.Errorf("release: %w", err)
	}
	if b.Epoch, err = epochOf(in.Epoch); err != nil {
		return KojiBuild{}, fmt.Errorf("epoch: %w", err)
	}
	if b.Extra, err = decodeMap(in.Extra); err != nil {
		return KojiBuild{}, fmt.Errorf("extra: %w", err)
	}
	return b, nil
}

// decodeMap reads a JSON object (or null) with integral numbers as int64,
// so that rules compare them with CEL's ints.
func decodeMap(raw []byte) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return normalize(m).(map[string]any), nil
}

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// epochOf reads an epoch sent as null, an int or a string.
func epochOf(raw json.RawMessage) (*int64, error) {
	s, err := scalarText(raw)
	if err != nil || s == "" {
		return nil, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, err
	}
	return &n, nil
}
