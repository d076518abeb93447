package kojitest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// bind maps positional and keyword arguments onto names, as Python would,
// and reports mistakes as ParameterError.
func bind(method string, params []any, names []string, required int) (map[string]any, *hubFault) {
	args := map[string]any{}
	if n := len(params); n > 0 {
		if kw, ok := params[n-1].(wire.Kwargs); ok {
			params = params[:n-1]
			for k, v := range kw {
				if !slices.Contains(names, k) {
					return nil, fault(1019, "%s() got an unexpected keyword argument '%s'", method, k)
				}
				args[k] = v
			}
		}
	}
	if len(params) > len(names) {
		return nil, fault(1019, "%s() takes at most %d arguments (%d given)", method, len(names), len(params))
	}
	for i, p := range params {
		if _, dup := args[names[i]]; dup {
			return nil, fault(1019, "%s() got multiple values for argument '%s'", method, names[i])
		}
		args[names[i]] = p
	}
	for _, n := range names[:required] {
		if _, ok := args[n]; !ok {
			return nil, fault(1019, "%s() missing required argument: '%s'", method, n)
		}
	}
	return args, nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case string:
		return x != ""
	}
	return false
}

func (h *Hub) run(rc *reqCtx, method string, params []any) (any, *hubFault) {
	switch method {
	case "sslLogin":
		if _, f := bind(method, params, []string{"proxyuser", "proxyauthtype"}, 0); f != nil {
			return nil, f
		}
		return h.sslLogin(rc)
	case "logout":
		if rc.sess != nil {
			h.mu.Lock()
			delete(h.sessions, rc.sess.id)
			h.mu.Unlock()
		}
		return nil, nil
	case "getLoggedInUser":
		if rc.sess == nil {
			return nil, nil
		}
		return userInfo(rc.sess.user), nil
	case "getUserPerms":
		args, f := bind(method, params, []string{"userID", "with_groups"}, 0)
		if f != nil {
			return nil, f
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		u := (*user)(nil)
		if rc.sess != nil {
			u = rc.sess.user
		}
		if name, ok := args["userID"].(string); ok {
			u = h.users[name]
			if u == nil {
				return nil, fault(1000, "No such user: %s", name)
			}
		}
		if u == nil {
			return nil, fault(1004, "you must be logged in for this operation")
		}
		return slices.Clone(u.perms), nil
	case "getAllPerms":
		var out []any
		for i, p := range []string{"admin", "build", "repo", "tag", "target", "host", "dist-repo"} {
			out = append(out, map[string]any{"id": i + 1, "name": p, "description": nil})
		}
		return out, nil
	case "getTag":
		args, f := bind(method, params, []string{"tagInfo", "strict", "event", "blocked"}, 1)
		if f != nil {
			return nil, f
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		t := h.findTag(args["tagInfo"])
		if t == nil {
			if truthy(args["strict"]) {
				return nil, fault(1000, "No such tagInfo: %s", pyRepr(args["tagInfo"]))
			}
			return nil, nil
		}
		return tagInfo(t), nil
	case "getBuild", "getBuildType":
		args, f := bind(method, params, []string{"buildInfo", "strict"}, 1)
		if f != nil {
			return nil, f
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		b := h.findBuild(args["buildInfo"])
		switch {
		case b == nil && truthy(args["strict"]):
			return nil, fault(1000, "No such build: %s", pyRepr(args["buildInfo"]))
		case b == nil:
			return nil, nil
		case method == "getBuildType":
			return b.typeInfo(), nil
		}
		return buildInfo(b), nil
	case "untagBuild":
		args, f := bind(method, params, []string{"tag", "build", "strict", "force"}, 2)
		if f != nil {
			return nil, f
		}
		return h.untagBuild(rc, args)
	case "listTagged":
		args, f := bind(method, params, []string{"tag", "event", "inherit", "prefix", "latest", "package", "owner", "type", "strict", "extra", "draft"}, 1)
		if f != nil {
			return nil, f
		}
		return h.listTagged(args)
	case "listTags":
		args, f := bind(method, params, []string{"build", "package", "perms", "queryOpts", "pattern"}, 0)
		if f != nil {
			return nil, f
		}
		return h.listTags(args)
	case "queryHistory":
		args, f := bind(method, params, []string{"tables", "build", "tag"}, 0)
		if f != nil {
			return nil, f
		}
		return h.queryHistory(args)
	case "tagBuild":
		args, f := bind(method, params, []string{"tag", "build", "force", "fromtag"}, 2)
		if f != nil {
			return nil, f
		}
		return h.tagBuild(rc, args, false)
	case "tagBuildBypass":
		args, f := bind(method, params, []string{"tag", "build", "force", "notify"}, 2)
		if f != nil {
			return nil, f
		}
		return h.tagBuild(rc, args, true)
	case "getTaskInfo":
		args, f := bind(method, params, []string{"task_id", "request", "strict"}, 1)
		if f != nil {
			return nil, f
		}
		return h.getTaskInfo(args)
	case "getTaskResult":
		args, f := bind(method, params, []string{"taskId", "raise_fault"}, 1)
		if f != nil {
			return nil, f
		}
		return h.getTaskResult(args)
	case "cancelTask":
		args, f := bind(method, params, []string{"task_id", "recurse"}, 1)
		if f != nil {
			return nil, f
		}
		return h.cancelTask(rc, args)
	case "listTasks":
		args, f := bind(method, params, []string{"opts", "queryOpts"}, 0)
		if f != nil {
			return nil, f
		}
		return h.listTasks(args)
	}
	return nil, fault(1000, "Invalid method: %s", method)
}

// identity returns who presents credentials on this request: the CN of a
// verified TLS client certificate, or, only on the backend listener for a
// trusted proxy on loopback, what the proxy says.
func (rc *reqCtx) identity() string {
	r := rc.r
	if rc.viaProxy {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return ""
		}
		if cn := r.Header.Get(HeaderClientCN); cn != "" && cn != "(null)" {
			return cn
		}
		if p := r.Header.Get(HeaderRemoteUser); p != "" && p != "(null)" {
			name, _, _ := strings.Cut(p, "@") // principal mts@REALM is user mts
			return name
		}
		return ""
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	return ""
}

func (h *Hub) sslLogin(rc *reqCtx) (any, *hubFault) {
	name := rc.identity()
	if name == "" {
		return nil, fault(1002, "could not verify client: None")
	}
	var kb [16]byte
	if _, err := rand.Read(kb[:]); err != nil {
		return nil, fault(1000, "no randomness: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.userLocked(name)
	h.nextID++
	s := &session{id: int64(h.nextID), key: fmt.Sprintf("%d-%s", h.nextID, hex.EncodeToString(kb[:])), user: u, lastCall: -1}
	h.sessions[s.id] = s
	return map[string]any{"session-id": s.id, "session-key": s.key, "header-auth": true}, nil
}

func (h *Hub) findTag(v any) *tag {
	switch x := v.(type) {
	case string:
		return h.tags[x]
	case int64:
		for _, t := range h.tags {
			if int64(t.id) == x {
				return t
			}
		}
	}
	return nil
}

func (h *Hub) findBuild(v any) *build {
	switch x := v.(type) {
	case string:
		return h.builds[x]
	case int64:
		return h.buildByID[int(x)]
	}
	return nil
}

// pyRepr quotes like Python's repr for the texts of faults.
func pyRepr(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'"
	}
	return fmt.Sprint(v)
}

func (h *Hub) listTagged(args map[string]any) (any, *hubFault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.findTag(args["tag"])
	if t == nil {
		return nil, fault(1000, "No such tagInfo: %s", pyRepr(args["tag"]))
	}
	pkg, _ := args["package"].(string)
	typ, _ := args["type"].(string)
	latest := truthy(args["latest"])
	seen := map[string]bool{}
	out := []any{}
	// Newest first, as the hub orders by tag event.
	for i := len(t.builds) - 1; i >= 0; i-- {
		b := h.builds[t.builds[i]]
		if b == nil || (pkg != "" && b.name != pkg) || (typ != "" && !b.hasType(typ)) {
			continue
		}
		if latest && seen[b.name] {
			continue
		}
		seen[b.name] = true
		info := buildInfo(b)
		info["tag_name"], info["tag_id"] = t.name, t.id
		out = append(out, info)
	}
	return out, nil
}

// listTags answers the tags a build is in (directly, not inherited), as
// the hub does for listTags(build=...): an unknown build is fault 1000.
func (h *Hub) listTags(args map[string]any) (any, *hubFault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []any{}
	if args["build"] == nil {
		for _, t := range h.tags {
			out = append(out, tagInfo(t))
		}
		return out, nil
	}
	b := h.findBuild(args["build"])
	if b == nil {
		return nil, fault(1000, "No such build: %s", pyRepr(args["build"]))
	}
	ids := make([]int, 0, len(h.tags))
	byID := map[int]*tag{}
	for _, t := range h.tags {
		if t.has(b.nvr) {
			ids = append(ids, t.id)
			byID[t.id] = t
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, tagInfo(byID[id]))
	}
	return out, nil
}

func (h *Hub) tagBuild(rc *reqCtx, args map[string]any, bypass bool) (any, *hubFault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tc := TagCall{Bypass: bypass}
	tc.Tag, _ = args["tag"].(string)
	tc.NVR, _ = args["build"].(string)
	if rc.sess != nil {
		tc.User = rc.sess.user.name
	}
	res, f := h.tagBuildLocked(rc, args, bypass)
	if f != nil {
		tc.Fault = f.Code
	} else if id, ok := res.(int); ok {
		tc.TaskID = id
	}
	h.tagCalls = append(h.tagCalls, tc)
	return res, f
}

func (h *Hub) tagBuildLocked(rc *reqCtx, args map[string]any, bypass bool) (any, *hubFault) {
	if rc.sess == nil {
		return nil, fault(1004, "you must be logged in for this operation")
	}
	u := rc.sess.user
	t := h.findTag(args["tag"])
	if t == nil {
		return nil, fault(1000, "No such tagInfo: %s", pyRepr(args["tag"]))
	}
	b := h.findBuild(args["build"])
	if b == nil {
		return nil, fault(1000, "No such build: %s", pyRepr(args["build"]))
	}
	force := truthy(args["force"])
	admin := slices.Contains(u.perms, "admin")
	if bypass {
		if !admin && !slices.Contains(u.perms, "tag") {
			return nil, fault(1004, "%s permission required", "tag")
		}
		if t.has(b.nvr) {
			return nil, fault(1003, "build %s already tagged (%s)", b.nvr, t.name)
		}
		t.add(b.nvr, h.event(), u)
		h.sendTag(true, t, b, u, force, false)
		return nil, nil
	}
	if t.locked && !(force && admin) {
		return nil, fault(1004, "tag %s is locked", t.name)
	}
	// A move is one task that untags from fromtag and tags into tag; the
	// policy sees operation "move".
	var from *tag
	op := "tag"
	if v := args["fromtag"]; v != nil {
		if from = h.findTag(v); from == nil {
			return nil, fault(1000, "No such tagInfo: %s", pyRepr(v))
		}
		if from.locked && !(force && admin) {
			return nil, fault(1004, "tag %s is locked", from.name)
		}
		op = "move"
	}
	if f := h.checkPolicy(u, t, op, force); f != nil {
		return nil, f
	}
	if blocked, listed := t.packages[b.name]; !listed {
		return nil, fault(1003, "package %s not in list for tag %s", b.name, t.name)
	} else if blocked {
		return nil, fault(1003, "package %s blocked in tag %s", b.name, t.name)
	}
	if b.state != 1 {
		return nil, fault(1003, "build %s not complete: state %s", b.nvr, buildStateName(b.state))
	}
	h.nextID++
	// The hub stamps the task with the start of the call's transaction
	// (PostgreSQL's NOW()), and others see it once the call commits: a
	// slow call's task shows after newer ones with an older create_ts.
	var fromID any
	if from != nil {
		fromID = from.id
	}
	tk := &task{id: h.nextID, owner: u, state: taskFree, created: rc.start.Round(0).Truncate(time.Microsecond),
		request: []any{t.id, b.id, force, fromID}, from: from}
	tk.made = time.Now()
	h.tasks[tk.id] = tk
	h.made = append(h.made, tk)
	h.sendTask(tk, -1)
	h.schedule(tk, t.name, b.nvr)
	return tk.id, nil
}

// checkPolicy is the hub's tag policy for op ("tag", "untag", "move")
// on t: the tag's permission, unless the user has it or is admin, and
// the operations DenyPolicy refuses, which force lets an admin pass.
// The caller holds h.mu.
func (h *Hub) checkPolicy(u *user, t *tag, op string, force bool) *hubFault {
	admin := slices.Contains(u.perms, "admin")
	if force && admin {
		return nil
	}
	if t.perm != "" && !admin && !slices.Contains(u.perms, t.perm) {
		return fault(1004, "policy violation (tag): tag %s requires permission %s", t.name, t.perm)
	}
	if slices.Contains(h.policy[t.name], op) {
		return fault(1004, "policy violation (tag): %s of builds in %s is not allowed for %s", op, t.name, u.name)
	}
	return nil
}

// untagBuild runs untagBuild(tag, build, strict=True, force=False) as the
// hub does: at once, no task. A locked tag or the policy (operation
// "untag") refuse it with ActionNotAllowed; a build not in the tag is a
// TagError when strict, else nothing happens.
func (h *Hub) untagBuild(rc *reqCtx, args map[string]any) (any, *hubFault) {
	if rc.sess == nil {
		return nil, fault(1004, "you must be logged in for this operation")
	}
	u := rc.sess.user
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.findTag(args["tag"])
	if t == nil {
		return nil, fault(1000, "No such tagInfo: %s", pyRepr(args["tag"]))
	}
	b := h.findBuild(args["build"])
	if b == nil {
		return nil, fault(1000, "No such build: %s", pyRepr(args["build"]))
	}
	strict := true
	if v, ok := args["strict"]; ok {
		strict = truthy(v)
	}
	force := truthy(args["force"])
	admin := slices.Contains(u.perms, "admin")
	if force && !admin {
		return nil, fault(1004, "%s permission required", "admin")
	}
	if t.locked && !force {
		return nil, fault(1004, "tag %s is locked", t.name)
	}
	if f := h.checkPolicy(u, t, "untag", force); f != nil {
		return nil, f
	}
	if !t.has(b.nvr) {
		if strict {
			return nil, fault(1003, "build %s not in tag %s", b.nvr, t.name)
		}
		return nil, nil
	}
	t.remove(b.nvr, h.event(), u)
	h.untagCalls = append(h.untagCalls, TagCall{Tag: t.name, NVR: b.nvr, User: u.name})
	h.sendTag(false, t, b, u, force, strict)
	return nil, nil
}

func buildStateName(s int) string {
	names := []string{"BUILDING", "COMPLETE", "DELETED", "FAILED", "CANCELED"}
	if s >= 0 && s < len(names) {
		return names[s]
	}
	return fmt.Sprint(s)
}

const kojiTime = "2006-01-02 15:04:05.000000-07:00"

func userInfo(u *user) map[string]any {
	return map[string]any{"id": u.id, "name": u.name, "status": 0, "usertype": 0, "krb_principals": []any{}}
}

func tagInfo(t *tag) map[string]any {
	var perm any
	var permID any
	if t.perm != "" {
		perm, permID = t.perm, 1
	}
	return map[string]any{
		"id": t.id, "name": t.name, "locked": t.locked, "perm": perm, "perm_id": permID,
		"arches": nil, "maven_support": false, "maven_include_all": false, "extra": map[string]any{},
	}
}

func buildInfo(b *build) map[string]any {
	if b.info != nil {
		info := cloneMap(b.info)
		info["state"] = b.state
		return info
	}
	var extra any
	if b.module != nil {
		extra = map[string]any{"typeinfo": map[string]any{"module": moduleTypeInfo(b.module)}}
	}
	// Every field a 1.35 hub answers, for the answer's real size.
	return map[string]any{
		"id": b.id, "build_id": b.id, "nvr": b.nvr, "name": b.name, "package_name": b.name,
		"package_id": b.id, "version": b.ver, "release": b.rel, "epoch": nil, "state": b.state,
		"task_id": nil, "owner_id": 1, "owner_name": b.owner(), "volume_id": 0, "volume_name": "DEFAULT",
		"draft": false, "source": nil, "cg_id": nil, "cg_name": nil, "promoter_id": nil,
		"promoter_name": nil, "promotion_time": nil, "promotion_ts": nil,
		"creation_event_id": b.id, "creation_time": "2024-05-01 10:00:00.000000+00:00",
		"creation_ts": 1714557600.0, "start_time": "2024-05-01 09:40:00.000000+00:00",
		"start_ts": 1714556400.0, "completion_time": "2024-05-01 10:00:00.000000+00:00",
		"completion_ts": 1714557600.0, "extra": extra,
	}
}

// queryHistory answers for the tag_listing table only, filtered by build
// and tag as the hub does: each listing with the event and time it was
// made, who made it, and active (true, nil once revoked; koji.md).
func (h *Hub) queryHistory(args map[string]any) (any, *hubFault) {
	if tables, ok := args["tables"].([]any); ok && !slices.Contains(tables, any("tag_listing")) {
		return map[string]any{}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var b *build
	if v, ok := args["build"]; ok {
		if b = h.findBuild(v); b == nil {
			return nil, fault(1000, "No such build: %s", pyRepr(v))
		}
	}
	var only *tag
	if v, ok := args["tag"]; ok {
		if only = h.findTag(v); only == nil {
			return nil, fault(1000, "No such tagInfo: %s", pyRepr(v))
		}
	}
	rows := []any{}
	for _, t := range h.tags {
		if only != nil && t != only {
			continue
		}
		for nvr, ls := range t.listings {
			lb := h.builds[nvr]
			if b != nil && lb != b {
				continue
			}
			for _, l := range ls {
				rows = append(rows, listingRow(t, lb, l, h.userLocked("kojiadmin")))
			}
		}
	}
	slices.SortFunc(rows, func(a, b any) int {
		return a.(map[string]any)["create_event"].(int) - b.(map[string]any)["create_event"].(int)
	})
	return map[string]any{"tag_listing": rows}, nil
}

func listingRow(t *tag, b *build, l listing, admin *user) map[string]any {
	creator := l.creator
	if creator == nil {
		creator = admin
	}
	str, ts := kojiTS(l.created)
	var active, revokeEvent, revokerID, revokerName any
	if !l.revoked {
		active = true
	}
	if l.revoker != nil {
		revokeEvent, revokerID, revokerName = l.revokeEvent, l.revoker.id, l.revoker.name
	}
	rstr, rts := kojiTS(l.revokedAt)
	return map[string]any{
		"tag_id": t.id, "tag.name": t.name, "build_id": b.id, "name": b.name, "version": b.ver, "release": b.rel,
		"create_event": l.event, "create_time": str, "create_ts": ts, "creator_id": creator.id, "creator_name": creator.name,
		"active": active, "revoke_event": revokeEvent, "revoke_time": rstr, "revoke_ts": rts,
		"revoker_id": revokerID, "revoker_name": revokerName,
	}
}
