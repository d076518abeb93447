package koji

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// ErrNotFound is wrapped by GetBuild and GetTag when the hub knows no such
// build or tag.
var ErrNotFound = errors.New("not found")

// Build states (koji.BUILD_STATES).
const (
	BuildBuilding = 0
	BuildComplete = 1
	BuildDeleted  = 2
	BuildFailed   = 3
	BuildCanceled = 4
)

// Task states (koji.TASK_STATES).
const (
	TaskFree     = 0
	TaskOpen     = 1
	TaskClosed   = 2
	TaskCanceled = 3
	TaskAssigned = 4
	TaskFailed   = 5
)

// Build is the answer of getBuild.
type Build struct {
	ID             int            `xmlrpc:"id"`
	NVR            string         `xmlrpc:"nvr"`
	Name           string         `xmlrpc:"name"`
	Version        string         `xmlrpc:"version"`
	Release        string         `xmlrpc:"release"`
	Epoch          int            `xmlrpc:"epoch"`
	PackageName    string         `xmlrpc:"package_name"`
	PackageID      int            `xmlrpc:"package_id"`
	State          int            `xmlrpc:"state"`
	TaskID         int            `xmlrpc:"task_id"`
	OwnerName      string         `xmlrpc:"owner_name"`
	CreationTime   string         `xmlrpc:"creation_time"`
	CompletionTime string         `xmlrpc:"completion_time"`
	Extra          map[string]any `xmlrpc:"extra"`
}

// ModuleInfo is extra.typeinfo.module of a module build imported by MBS.
type ModuleInfo struct {
	Name        string
	Stream      string
	Version     string
	Context     string
	ModulemdStr string
	// ModuleBuildServiceID is the MBS build id, 0 when absent.
	ModuleBuildServiceID int64
}

// Module returns the module information of b, or nil when b is not a
// module build.
func (b *Build) Module() *ModuleInfo {
	ti, _ := b.Extra["typeinfo"].(map[string]any)
	m, ok := ti["module"].(map[string]any)
	if !ok {
		return nil
	}
	return &ModuleInfo{
		Name:                 asString(m["name"]),
		Stream:               asString(m["stream"]),
		Version:              asString(m["version"]),
		Context:              asString(m["context"]),
		ModulemdStr:          asString(m["modulemd_str"]),
		ModuleBuildServiceID: asInt(m["module_build_service_id"]),
	}
}

// asString accepts the types MBS has stored over time (the module version
// has been both a string and an integer).
func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// Tag is the answer of getTag.
type Tag struct {
	ID     int    `xmlrpc:"id"`
	Name   string `xmlrpc:"name"`
	Locked bool   `xmlrpc:"locked"`
	// Perm is the permission needed to tag into the tag, "" when none.
	Perm   string `xmlrpc:"perm"`
	PermID int    `xmlrpc:"perm_id"`
	Arches string `xmlrpc:"arches"`
}

// TaggedBuild is one entry of listTagged.
type TaggedBuild struct {
	BuildID     int    `xmlrpc:"build_id"`
	NVR         string `xmlrpc:"nvr"`
	Name        string `xmlrpc:"name"`
	Version     string `xmlrpc:"version"`
	Release     string `xmlrpc:"release"`
	PackageName string `xmlrpc:"package_name"`
	State       int    `xmlrpc:"state"`
	TagID       int    `xmlrpc:"tag_id"`
	TagName     string `xmlrpc:"tag_name"`
	OwnerName   string `xmlrpc:"owner_name"`
}

// TaskInfo is the answer of getTaskInfo.
type TaskInfo struct {
	ID             int    `xmlrpc:"id"`
	Method         string `xmlrpc:"method"`
	State          int    `xmlrpc:"state"`
	Owner          int    `xmlrpc:"owner"`
	Parent         int    `xmlrpc:"parent"`
	Arch           string `xmlrpc:"arch"`
	CreateTime     string `xmlrpc:"create_time"`
	StartTime      string `xmlrpc:"start_time"`
	CompletionTime string `xmlrpc:"completion_time"`
}

// Done reports whether the task has finished, one way or another.
func (t *TaskInfo) Done() bool {
	return t.State == TaskClosed || t.State == TaskCanceled || t.State == TaskFailed
}

// User is the answer of getLoggedInUser.
type User struct {
	ID            int      `xmlrpc:"id"`
	Name          string   `xmlrpc:"name"`
	Status        int      `xmlrpc:"status"`
	UserType      int      `xmlrpc:"usertype"`
	KrbPrincipals []string `xmlrpc:"krb_principals"`
}

// TagBuild asks the hub to tag the build nvr into tag and returns the id of
// the tagBuild task; the tagging happens when the task runs, so it can
// still fail later (see TaskStates). It is never sent twice: after a broken
// connection the hub may have made a task, and only a look at the hub
// (TagStates) can tell.
func (c *Client) TagBuild(ctx context.Context, tag, nvr string) (int, error) {
	var id int
	err := c.call(ctx, request{method: "tagBuild", params: []any{tag, nvr}, auth: true, noResend: true}, &id)
	if err != nil {
		return 0, fmt.Errorf("tagBuild %s into %s: %w", nvr, tag, err)
	}
	c.noteStarted(id, tag, nvr)
	return id, nil
}

// TagBuilds is TagBuild for several targets in one multiCall, never sent
// twice: per target, the task id or the fault the hub refused it with.
// An error for the whole request leaves unknown which tasks the hub
// made.
func (c *Client) TagBuilds(ctx context.Context, targets []TagTarget) ([]int, []error, error) {
	calls := make([]Call, len(targets))
	for i, t := range targets {
		calls[i] = Call{Method: "tagBuild", Params: tagParams(t.Tag, t.NVR, t.From)}
	}
	res, err := c.multiCall(ctx, calls, true)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]int, len(targets))
	errs := make([]error, len(targets))
	for i, r := range res {
		t := targets[i]
		if r.Err != nil {
			c.observeFault("tagBuild", r.Err)
			errs[i] = fmt.Errorf("tagBuild %s into %s: %w", t.NVR, t.Tag, r.Err)
			continue
		}
		ids[i] = int(intOf(r.Value))
		c.noteStarted(ids[i], t.Tag, t.NVR)
	}
	return ids, errs, nil
}

// tagParams are tagBuild's arguments: a move (from set) passes fromtag,
// which makes the task untag the build from it and the hub's policy see
// operation "move".
func tagParams(tag, nvr, from string) []any {
	if from == "" {
		return []any{tag, nvr}
	}
	return []any{tag, nvr, false, from}
}

// MoveBuild asks the hub to move the build nvr from the tag from into
// tag: one tagBuild task (fromtag set) that untags it from from and tags
// it into tag when it runs, or fails leaving both as they were (TagError
// when the build is no longer in from, or already in tag). Like TagBuild
// it is never sent twice.
func (c *Client) MoveBuild(ctx context.Context, from, tag, nvr string) (int, error) {
	var id int
	err := c.call(ctx, request{method: "tagBuild", params: tagParams(tag, nvr, from), auth: true, noResend: true}, &id)
	if err != nil {
		return 0, fmt.Errorf("tagBuild %s from %s into %s: %w", nvr, from, tag, err)
	}
	c.noteStarted(id, tag, nvr)
	return id, nil
}

// UntagBuild takes the build nvr out of tag at once (untagBuild with
// strict=False: no task). A build that is not in the tag is no error,
// so calling it again is safe. A locked tag or the hub's policy
// (operation "untag") refuse it with ActionNotAllowed (IsNotAllowed, not
// Retryable); an unknown tag or build is a GenericError (IsNotFound). It
// is not resent after a broken connection, whose TransportError is
// Retryable: the next call carries a new call number, which a hub that
// checks them accepts.
func (c *Client) UntagBuild(ctx context.Context, tag, nvr string) error {
	err := c.call(ctx, request{method: "untagBuild", params: untagParams(tag, nvr), auth: true, noResend: true}, nil)
	if err != nil {
		return fmt.Errorf("untagBuild %s from %s: %w", nvr, tag, err)
	}
	return nil
}

// untagParams are untagBuild's arguments with strict=False.
func untagParams(tag, nvr string) []any {
	return []any{tag, nvr, wire.Kwargs{"strict": false}}
}

// UntagBuilds is UntagBuild for several targets (Tag and NVR; From and
// Started are ignored) in one multiCall: per target, nil or the fault
// the hub refused it with. An error for the whole request leaves
// unknown which builds were untagged; the calls can be made again.
func (c *Client) UntagBuilds(ctx context.Context, targets []TagTarget) ([]error, error) {
	calls := make([]Call, len(targets))
	for i, t := range targets {
		calls[i] = Call{Method: "untagBuild", Params: untagParams(t.Tag, t.NVR)}
	}
	res, err := c.multiCall(ctx, calls, true)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(targets))
	for i, r := range res {
		if r.Err != nil {
			c.observeFault("untagBuild", r.Err)
			errs[i] = fmt.Errorf("untagBuild %s from %s: %w", targets[i].NVR, targets[i].Tag, r.Err)
		}
	}
	return errs, nil
}

// GetBuildInfo returns a build by NVR or numeric id, with its types: the
// hub's getBuild and getBuildType in one multiCall. An unknown build
// gives an error wrapping ErrNotFound.
func (c *Client) GetBuildInfo(ctx context.Context, nvrOrID string) (build.KojiBuild, error) {
	var arg any = nvrOrID
	if id, err := strconv.Atoi(nvrOrID); err == nil {
		arg = id
	}
	res, err := c.MultiCall(ctx, []Call{
		{Method: "getBuild", Params: []any{arg}},
		{Method: "getBuildType", Params: []any{arg}},
	})
	if err != nil {
		return build.KojiBuild{}, fmt.Errorf("getBuild %s: %w", nvrOrID, err)
	}
	for i, m := range []string{"getBuild", "getBuildType"} {
		if res[i].Err != nil {
			c.observeFault(m, res[i].Err)
			return build.KojiBuild{}, fmt.Errorf("%s %s: %w", m, nvrOrID, res[i].Err)
		}
	}
	if res[0].Value == nil {
		return build.KojiBuild{}, fmt.Errorf("koji: no such build %q: %w", nvrOrID, ErrNotFound)
	}
	info, ok := res[0].Value.(map[string]any)
	if !ok {
		return build.KojiBuild{}, fmt.Errorf("getBuild %s: answered %T, want a struct", nvrOrID, res[0].Value)
	}
	types, ok := res[1].Value.(map[string]any)
	if !ok && res[1].Value != nil {
		return build.KojiBuild{}, fmt.Errorf("getBuildType %s: answered %T, want a struct", nvrOrID, res[1].Value)
	}
	if types == nil {
		// Deleted between the two calls: no types known, but the
		// answer says so.
		types = map[string]any{}
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return build.KojiBuild{}, fmt.Errorf("getBuild %s: %w", nvrOrID, err)
	}
	typesJSON, err := json.Marshal(types)
	if err != nil {
		return build.KojiBuild{}, fmt.Errorf("getBuildType %s: %w", nvrOrID, err)
	}
	b, err := build.DecodeBuildInfo(infoJSON, typesJSON)
	if err != nil {
		return build.KojiBuild{}, fmt.Errorf("getBuild %s: %w", nvrOrID, err)
	}
	if nvr, _ := info["nvr"].(string); nvr != "" && b.ID != 0 {
		// The look before tagBuild needs the id.
		c.ids.Add("b:"+nvr, b.ID)
	}
	return b, nil
}

// noteStarted tells the view of a task tagBuild made, when the tag and
// build ids are remembered.
func (c *Client) noteStarted(id int, tag, nvr string) {
	tagID, ok1 := c.ids.Get("t:" + tag)
	buildID, ok2 := c.ids.Get("b:" + nvr)
	if !ok1 || !ok2 {
		return
	}
	c.view.mu.Lock()
	defer c.view.mu.Unlock()
	c.view.noteStarted(id, tagID, buildID)
}

// TagBuildBypass tags nvr into tag at once, without a task (needs the
// "tag" permission). An already tagged build gives a TagError fault.
func (c *Client) TagBuildBypass(ctx context.Context, tag, nvr string, force bool) error {
	err := c.call(ctx, request{method: "tagBuildBypass", params: []any{tag, nvr, force}, auth: true, noResend: true}, nil)
	if err != nil {
		return fmt.Errorf("tagBuildBypass %s into %s: %w", nvr, tag, err)
	}
	return nil
}

// GetBuild returns a build by NVR or numeric id. An unknown build gives an
// error wrapping ErrNotFound.
func (c *Client) GetBuild(ctx context.Context, nvrOrID string) (*Build, error) {
	var arg any = nvrOrID
	if id, err := strconv.Atoi(nvrOrID); err == nil {
		arg = id
	}
	var raw any
	if err := c.call(ctx, request{method: "getBuild", params: []any{arg}}, &raw); err != nil {
		return nil, fmt.Errorf("getBuild %s: %w", nvrOrID, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("koji: no such build %q: %w", nvrOrID, ErrNotFound)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("getBuild %s: answered %T, want a struct", nvrOrID, raw)
	}
	b := buildOf(m)
	if b.ID != 0 && b.NVR != "" {
		// The look before tagBuild needs the id: the modulemd that came
		// with it is not asked for twice.
		c.ids.Add("b:"+b.NVR, int64(b.ID))
	}
	return &b, nil
}

// buildOf reads a getBuild answer as decoded, without a second pass
// through the wire format: the answer of a module build carries its
// whole modulemd document.
func buildOf(m map[string]any) Build {
	str := func(k string) string { s, _ := m[k].(string); return s }
	num := func(k string) int { return int(intOf(m[k])) }
	extra, _ := m["extra"].(map[string]any)
	return Build{
		ID: num("id"), NVR: str("nvr"), Name: str("name"), Version: str("version"),
		Release: str("release"), Epoch: num("epoch"), PackageName: str("package_name"),
		PackageID: num("package_id"), State: num("state"), TaskID: num("task_id"),
		OwnerName: str("owner_name"), CreationTime: str("creation_time"),
		CompletionTime: str("completion_time"), Extra: extra,
	}
}

// GetTag returns a tag by name. An unknown tag gives an error wrapping
// ErrNotFound.
func (c *Client) GetTag(ctx context.Context, name string) (*Tag, error) {
	var raw any
	if err := c.call(ctx, request{method: "getTag", params: []any{name}}, &raw); err != nil {
		return nil, fmt.Errorf("getTag %s: %w", name, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("koji: no such tag %q: %w", name, ErrNotFound)
	}
	var t Tag
	if err := remarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("getTag %s: %w", name, err)
	}
	return &t, nil
}

// remarshal turns a decoded value into a typed one by going through the
// wire format again, so that nil (None) can first be told apart from an
// empty struct, which the decoder cannot do when filling a struct.
func remarshal(v any, out any) error {
	body, err := wire.EncodeResponse(v)
	if err != nil {
		return err
	}
	return decode("", body, out)
}

// ListTaggedOpts narrows listTagged.
type ListTaggedOpts struct {
	// Package restricts the answer to builds of this package.
	Package string
	// Latest returns only the latest build of each package.
	Latest bool
	// Inherit includes builds inherited from parent tags.
	Inherit bool
	// Type restricts to a build type, e.g. "module".
	Type string
}

// ListTagged returns the builds in tag.
func (c *Client) ListTagged(ctx context.Context, tag string, opts ListTaggedOpts) ([]TaggedBuild, error) {
	kw := wire.Kwargs{}
	if opts.Package != "" {
		kw["package"] = opts.Package
	}
	if opts.Latest {
		kw["latest"] = true
	}
	if opts.Inherit {
		kw["inherit"] = true
	}
	if opts.Type != "" {
		kw["type"] = opts.Type
	}
	params := []any{tag}
	if len(kw) > 0 {
		params = append(params, kw)
	}
	var out []TaggedBuild
	if err := c.call(ctx, request{method: "listTagged", params: params}, &out); err != nil {
		return nil, fmt.Errorf("listTagged %s: %w", tag, err)
	}
	return out, nil
}

// ListTags returns the tags a build is in (not inherited). An unknown
// build is an error wrapping ErrNotFound.
func (c *Client) ListTags(ctx context.Context, nvr string) ([]Tag, error) {
	var raw []any
	err := c.call(ctx, request{method: "listTags", params: []any{wire.Kwargs{"build": nvr}}}, &raw)
	if HasCode(err, CodeGenericError) {
		return nil, fmt.Errorf("listTags %s: %w: %w", nvr, ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listTags %s: %w", nvr, err)
	}
	out := make([]Tag, 0, len(raw))
	for _, r := range raw {
		var t Tag
		if err := remarshal(r, &t); err != nil {
			return nil, fmt.Errorf("listTags %s: %w", nvr, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// IsTagged reports whether the build nvr is in tag (not inherited). It asks
// for the build's tags rather than the tag's builds: a tag can hold
// thousands of builds of one module, a build is in a handful of tags. An
// unknown build is in no tag.
func (c *Client) IsTagged(ctx context.Context, tag, nvr string) (bool, error) {
	tags, err := c.ListTags(ctx, nvr)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, t := range tags {
		if t.Name == tag {
			return true, nil
		}
	}
	return false, nil
}

// GetTaskInfo returns a task's state.
func (c *Client) GetTaskInfo(ctx context.Context, taskID int) (*TaskInfo, error) {
	var raw any
	if err := c.call(ctx, request{method: "getTaskInfo", params: []any{taskID}}, &raw); err != nil {
		return nil, fmt.Errorf("getTaskInfo %d: %w", taskID, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("koji: no such task %d: %w", taskID, ErrNotFound)
	}
	var t TaskInfo
	if err := remarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("getTaskInfo %d: %w", taskID, err)
	}
	return &t, nil
}

// GetTaskResult returns a finished task's result; for a failed task the
// error is the *Fault the task failed with (e.g. TagError "already tagged").
func (c *Client) GetTaskResult(ctx context.Context, taskID int) (any, error) {
	var out any
	if err := c.call(ctx, request{method: "getTaskResult", params: []any{taskID}}, &out); err != nil {
		return nil, fmt.Errorf("getTaskResult %d: %w", taskID, err)
	}
	return out, nil
}

// GetLoggedInUser returns the user of the session, logging in if needed.
func (c *Client) GetLoggedInUser(ctx context.Context) (*User, error) {
	var u User
	if err := c.call(ctx, request{method: "getLoggedInUser", auth: true}, &u); err != nil {
		return nil, fmt.Errorf("getLoggedInUser: %w", err)
	}
	return &u, nil
}

// GetUserPerms returns the permission names of the logged-in user.
func (c *Client) GetUserPerms(ctx context.Context) ([]string, error) {
	var perms []string
	if err := c.call(ctx, request{method: "getUserPerms", auth: true}, &perms); err != nil {
		return nil, fmt.Errorf("getUserPerms: %w", err)
	}
	return perms, nil
}

// Call is one call inside a multiCall.
type Call struct {
	Method string
	Params []any
}

// CallResult is the outcome of one call of a multiCall: a value, or a
// *Fault in Err.
type CallResult struct {
	Value any
	Err   error
}

// MultiCall sends calls in one request; the hub runs them in order and
// answers each. The error is for the request as a whole; per-call faults
// are in the results. Calls go with the session when the client can log in.
func (c *Client) MultiCall(ctx context.Context, calls []Call) ([]CallResult, error) {
	return c.multiCall(ctx, calls, false)
}

// multiCall is MultiCall, with noResend for calls that write.
func (c *Client) multiCall(ctx context.Context, calls []Call, noResend bool) ([]CallResult, error) {
	list := make([]any, len(calls))
	for i, cl := range calls {
		params := cl.Params
		if params == nil {
			params = []any{}
		}
		list[i] = map[string]any{"methodName": cl.Method, "params": params}
	}
	var raw []any
	err := c.call(ctx, request{method: "multiCall", params: []any{list}, auth: c.authType != "", noResend: noResend}, &raw)
	if err != nil {
		return nil, fmt.Errorf("multiCall: %w", err)
	}
	if len(raw) != len(calls) {
		return nil, fmt.Errorf("koji: multiCall answered %d results for %d calls", len(raw), len(calls))
	}
	out := make([]CallResult, len(raw))
	for i, r := range raw {
		switch v := r.(type) {
		case []any:
			if len(v) != 1 {
				return nil, fmt.Errorf("koji: multiCall result %d has %d values, want 1", i, len(v))
			}
			out[i].Value = v[0]
		case map[string]any:
			code, ok := v["faultCode"].(int64)
			if !ok {
				return nil, fmt.Errorf("koji: multiCall result %d is a struct without faultCode", i)
			}
			msg, _ := v["faultString"].(string)
			out[i].Err = &Fault{Code: int(code), String: msg}
		default:
			return nil, fmt.Errorf("koji: multiCall result %d has unexpected type %T", i, r)
		}
	}
	return out, nil
}
