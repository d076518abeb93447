// Package kojitest runs a stand-in Koji hub for tests: real XML-RPC (with
// Koji's <nil/>, <i8>, keyword arguments and multiCall) over real HTTPS,
// with certificates made at test time. It reproduces the hub behaviour
// described in the project's Koji notes: sessions and call numbers, the
// fault codes and texts, tagBuild tasks that a scheduler runs 0.5 to 2 s
// after the call (FREE, ASSIGNED, OPEN, then CLOSED, or FAILED with
// TagError when the build is already tagged), listTasks, getTaskResult
// and cancelTask as the hub answers them, tag listings with the event,
// time and user that made them (queryHistory of tag_listing), untagBuild
// (at once, strict or not) and moves (tagBuild with fromtag: one task),
// getBuildType, locked tags, package lists, permissions, a tag policy that
// refuses operations (DenyPolicy), expired sessions, maintenance mode and
// both answers to an unparsable request. Builds may be recorded build
// infos of any type (ReadBuilds reads a corpus of getBuild and
// getBuildType answers).
//
// WithEvents makes the hub send what its messaging plugins send after a
// change: build.tag and build.untag for every tag and untag (mts's own
// tagBuild tasks included), build state changes (ImportBuild,
// SetBuildState) and, WithTaskEvents, tagBuild tasks' state changes,
// each in protonmsg's shape and in Fedora's (kojitest.Event);
// internal/testenv forwards them to real brokers.
//
// Use:
//
//	hub := kojitest.New(t)                    // TLS listener, torn down with t
//	hub.AddTag("f40-modular")
//	hub.AddPackage("f40-modular", "nodejs")
//	hub.AddBuild(kojitest.Build{NVR: "nodejs-20-1.module_f40+1+abc"})
//	pem := hub.ClientCertFile("mts")          // client cert + key for ssl login
//	cfg := &koji.Config{Server: hub.URL(), ServerCA: hub.CAFile(), AuthType: "ssl", Cert: pem}
//	... hub.Tagged("f40-modular"), hub.TagCalls(), hub.Calls()
//
// Fault and delay injection: InjectFault(method, n, code, text), Delay(method, d),
// SetAway(true) (every connection closed unanswered),
// DropResponses(method, n) (runs the call, then closes the connection
// without an answer), FailHTTP(method, n, status), SetOffline(true),
// ExpireSessions(). Options: WithStrictCallnum (check call numbers as
// Koji's development branch does; by default the Koji-Session-Callnum
// header is not checked, as on released hubs), WithHTTP400 (answer
// unparsable requests with HTTP 400 instead of fault 1),
// WithWholeHostClientCert (demand a client certificate on every TLS
// connection), WithTaskTiming, WithTaskDelay and WithTaskThroughput (the
// scheduler's limit). A task's create_ts is when its call began, and it is
// seen once the call ends, as with the hub's transactions. Stats gives,
// per method, the calls, requests, answer bytes and time spent
// (WithMemberSizes: also each multiCall member's answer).
//
// Behind a proxy: Backend returns a plain-HTTP listener on 127.0.0.1 for an
// Apache in front (see internal/testenv.StartHubProxy). Only that listener
// trusts the X-Koji-Client-CN and X-Koji-Remote-User headers the proxy
// sets from the verified certificate or Kerberos principal; the TLS
// listener ignores them.
package kojitest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/koji/internal/wire"
)

// Headers set by a trusted proxy in front of the backend listener.
const (
	HeaderClientCN   = "X-Koji-Client-CN"
	HeaderRemoteUser = "X-Koji-Remote-User"
)

// Option configures a Hub.
type Option func(*Hub)

// WithStrictCallnum makes the hub check Koji-Session-Callnum like Koji's
// development branch: lower numbers give SequenceError (1008), a repeated
// number after a writing call gives RetryError (1009).
func WithStrictCallnum() Option { return func(h *Hub) { h.strict = true } }

// WithHTTP400 makes unparsable requests get HTTP 400 "Invalid request"
// (Koji's development branch) instead of fault 1 (released hubs).
func WithHTTP400() Option { return func(h *Hub) { h.http400 = true } }

// WithWholeHostClientCert demands a client certificate in every TLS
// handshake, like a hub with SSLVerifyClient require on the whole host.
func WithWholeHostClientCert() Option { return func(h *Hub) { h.wholeHost = true } }

// WithTaskTiming sets how long after tagBuild its task finishes: a time
// drawn at random between min and max (0.5 to 2 s by default, what a hub
// whose builders poll often shows). The task is FREE, then ASSIGNED for
// most of that time, OPEN for its last few milliseconds, and CLOSED or
// FAILED at the end.
func WithTaskTiming(min, max time.Duration) Option {
	return func(h *Hub) { h.taskMin, h.taskMax = min, max }
}

// WithTaskThroughput makes the scheduler finish at most perSecond tasks a
// second: a real hub's runs tagBuild tasks one after another on its
// builders, 15 to 20 a second at best, so that in a burst they wait their
// turn.
func WithTaskThroughput(perSecond float64) Option {
	return func(h *Hub) { h.taskGap = time.Duration(float64(time.Second) / perSecond) }
}

// WithMemberSizes measures the answer of each call inside a multiCall
// (MethodStats.MemberBytes), which costs the stand-in its encoding
// twice.
func WithMemberSizes() Option { return func(h *Hub) { h.memberSizes = true } }

// WithTaskDelay makes every task finish exactly d after its tagBuild call.
func WithTaskDelay(d time.Duration) Option { return WithTaskTiming(d, d) }

// Build describes a build to add to the hub.
type Build struct {
	// NVR may be left empty when Info names the build.
	NVR string
	// State defaults to complete (1), or Info's state.
	State *int
	// Module, when set, is stored as extra.typeinfo.module.
	Module *Module
	// Info, when set, is the build's getBuild answer as a real hub gave
	// it (see ReadBuilds): the hub answers it as it is, with the state
	// the build is in now. Its id is kept.
	Info map[string]any
	// Types is the build's getBuildType answer; when nil, the hub
	// derives it: {"module": typeinfo} for a module build, else
	// {"rpm": nil}.
	Types map[string]any
}

// Module is a module build's typeinfo.
type Module struct {
	Name, Stream, Version, Context, ModulemdStr string
	MBSID                                       int64
}

// Call is one call that reached the hub.
type Call struct {
	Method    string
	Params    []any
	SessionID int64 // 0 when anonymous
	Callnum   int64 // -1 when none was sent
	User      string
	Fault     int // fault code answered, 0 for none
}

// TagCall is one tagBuild or tagBuildBypass call.
type TagCall struct {
	Tag, NVR, User string
	Bypass         bool
	TaskID         int
	Fault          int
}

// Task states as Koji numbers them.
const (
	taskFree     = 0
	taskOpen     = 1
	taskClosed   = 2
	taskCanceled = 3
	taskAssigned = 4
	taskFailed   = 5
)

// Hub is the stand-in hub.
type Hub struct {
	tb        testing.TB
	ca        *CA
	srv       *httptest.Server
	backend   *httptest.Server
	strict    bool
	http400   bool
	wholeHost bool
	taskMin   time.Duration
	taskMax   time.Duration
	taskGap   time.Duration
	// events delivers the hub's messages (WithEvents).
	events *eventQueue
	// taskEvents adds tasks' state changes to the messages.
	taskEvents bool
	// dupEvery resends every n-th message (WithEventDuplicates).
	dupEvery int
	// policy holds the operations the tag policy refuses, per tag.
	policy map[string][]string
	// memberSizes measures each multiCall member's answer.
	memberSizes bool

	mu        sync.Mutex
	closed    bool
	offline   bool
	away      bool
	nextID    int
	nextEvent int
	nextSeq   int // the last message's Seq
	tags      map[string]*tag
	builds    map[string]*build
	buildByID map[int]*build
	users     map[string]*user
	sessions  map[int64]*session
	tasks     map[int]*task
	made      []*task // the tasks in the order they were made
	calls     []Call
	tagCalls  []TagCall
	// untagCalls are the untagBuild calls that untagged a build.
	untagCalls []TagCall
	faults     map[string][]injected
	delays     map[string]time.Duration
	drops      map[string]int
	httpFails  map[string][]int
	timers     []*time.Timer
	wg         sync.WaitGroup
	lastEnd    time.Time // when the last task scheduled finishes
	stats      map[string]*MethodStats
}

// MethodStats is what the calls of one method cost the hub.
type MethodStats struct {
	// Calls counts the calls, multiCall members included; Requests the
	// HTTP requests made for this method (a multiCall's members make
	// none of their own).
	Calls, Requests int
	// Bytes is the size of the responses to those requests; MemberBytes
	// the size of the results of this method inside multiCalls' (part
	// of the multiCalls' Bytes), measured only WithMemberSizes.
	Bytes, MemberBytes int64
	// Busy is the time the hub spent running the calls.
	Busy time.Duration
}

// Stats returns, per method, what its calls cost so far.
func (h *Hub) Stats() map[string]MethodStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]MethodStats, len(h.stats))
	for m, s := range h.stats {
		out[m] = *s
	}
	return out
}

// count adds to a method's statistics. The caller holds h.mu.
func (h *Hub) count(method string, requests int, bytes int64, busy time.Duration) {
	s := h.stats[method]
	if s == nil {
		s = &MethodStats{}
		h.stats[method] = s
	}
	s.Calls++
	s.Requests += requests
	if requests > 0 {
		s.Bytes += bytes
	} else {
		s.MemberBytes += bytes
	}
	s.Busy += busy
}

type tag struct {
	id       int
	name     string
	locked   bool
	perm     string
	packages map[string]bool // name -> blocked
	builds   []string        // NVRs, in tagging order
	members  map[string]bool // the same NVRs, for lookups
	listings map[string][]listing
}

// listing is one tag listing of a build as queryHistory shows it: made at
// an event by a user, active until revoked.
type listing struct {
	event   int
	created time.Time
	creator *user
	revoked bool
	// Set when an untag revoked it (a new listing by force leaves
	// them unset).
	revokeEvent int
	revokedAt   time.Time
	revoker     *user
}

func (t *tag) has(nvr string) bool { return t.members[nvr] }

// add lists nvr in the tag at event, by creator (nil: the hub's admin, for
// builds tagged before the test). A build listed already gets a new
// listing, the old one revoked, as force does.
func (t *tag) add(nvr string, event int, creator *user) {
	if t.members == nil {
		t.members, t.listings = map[string]bool{}, map[string][]listing{}
	}
	if !t.members[nvr] {
		t.builds = append(t.builds, nvr)
	}
	t.members[nvr] = true
	for i := range t.listings[nvr] {
		t.listings[nvr][i].revoked = true
	}
	t.listings[nvr] = append(t.listings[nvr], listing{event: event, created: time.Now(), creator: creator})
}

// remove revokes nvr's active listing in the tag at event, by revoker.
func (t *tag) remove(nvr string, event int, revoker *user) {
	if !t.members[nvr] {
		return
	}
	delete(t.members, nvr)
	t.builds = slices.DeleteFunc(t.builds, func(n string) bool { return n == nvr })
	ls := t.listings[nvr]
	for i := range ls {
		if !ls[i].revoked {
			ls[i].revoked, ls[i].revokeEvent, ls[i].revokedAt, ls[i].revoker = true, event, time.Now(), revoker
		}
	}
}

// event is a new event id, as each change to the hub's data gets. The
// caller holds h.mu.
func (h *Hub) event() int {
	h.nextEvent++
	return h.nextEvent
}

type build struct {
	id     int
	nvr    string
	name   string
	ver    string
	rel    string
	state  int
	module *Module
	// info and types are a recorded build's getBuild and getBuildType
	// answers (Build.Info, Build.Types).
	info  map[string]any
	types map[string]any
}

type user struct {
	id    int
	name  string
	perms []string
}

type session struct {
	id        int64
	key       string
	user      *user
	expired   bool
	lastCall  int64
	lastWrite bool
}

type task struct {
	id      int
	owner   *user
	state   int
	request []any // [tag_id, build_id, force, fromtag_id], as the hub stores it
	created time.Time
	made    time.Time // when the call made it, after created
	started time.Time
	done    time.Time
	fault   *wire.Fault
	// from is the tag a move takes the build out of.
	from *tag
}

type injected struct {
	code int
	msg  string
}

type hubFault struct{ wire.Fault }

func fault(code int, format string, args ...any) *hubFault {
	return &hubFault{wire.Fault{Code: code, String: fmt.Sprintf(format, args...)}}
}

// New starts a hub on a free loopback port and stops it when the test ends.
func New(tb testing.TB, opts ...Option) *Hub {
	tb.Helper()
	h := &Hub{
		tb:        tb,
		taskMin:   500 * time.Millisecond,
		taskMax:   2 * time.Second,
		nextID:    100,
		tags:      map[string]*tag{},
		builds:    map[string]*build{},
		buildByID: map[int]*build{},
		users:     map[string]*user{},
		sessions:  map[int64]*session{},
		tasks:     map[int]*task{},
		faults:    map[string][]injected{},
		delays:    map[string]time.Duration{},
		drops:     map[string]int{},
		httpFails: map[string][]int{},
		stats:     map[string]*MethodStats{},
		policy:    map[string][]string{},
	}
	for _, o := range opts {
		o(h)
	}
	if h.events != nil {
		h.events.start()
	}
	h.ca = NewCA(tb, "kojitest hub CA")
	certFile, keyFile := h.ca.ServerCert("localhost", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(h.ca.File())
	if err != nil {
		tb.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, false)
	}))
	h.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	if h.wholeHost {
		h.srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	// Refused handshakes are what some tests are about: keep them quiet.
	h.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	h.srv.StartTLS()
	tb.Cleanup(h.close)
	return h
}

func (h *Hub) close() {
	h.mu.Lock()
	h.closed = true
	for _, t := range h.timers {
		if t.Stop() {
			h.wg.Done() // the task will never run
		}
	}
	h.mu.Unlock()
	h.srv.Close()
	if h.backend != nil {
		h.backend.Close()
	}
	h.wg.Wait()
	if h.events != nil {
		h.events.stop()
	}
}

// URL returns the hub URL for a client profile's "server" key.
func (h *Hub) URL() string {
	return "https://localhost:" + portOf(h.srv.Listener.Addr()) + "/kojihub"
}

// CAFile returns the CA that signed the hub's certificate and the client
// certificates it trusts (the profile's "serverca").
func (h *Hub) CAFile() string { return h.ca.File() }

// CA returns the hub's CA, to issue certificates with other properties.
func (h *Hub) CA() *CA { return h.ca }

// ServerCertFiles issues a certificate for localhost from the hub's CA, for
// a proxy in front of the hub.
func (h *Hub) ServerCertFiles() (certFile, keyFile string) {
	return h.ca.ServerCert("localhost", "127.0.0.1")
}

// ClientCertFile issues a client certificate for cn from the hub's CA and
// returns the PEM file with certificate and key.
func (h *Hub) ClientCertFile(cn string) string { return h.ca.ClientCert(cn, ClientCertOpts{}) }

// Backend starts (once) and returns the plain-HTTP listener for a trusted
// proxy, as "http://127.0.0.1:port".
func (h *Hub) Backend() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.backend == nil {
		h.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.serve(w, r, true)
		}))
	}
	return h.backend.URL
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// AddUser adds a user with permissions (e.g. "admin", "tag"). Users that
// log in without having been added are created without permissions, as
// Koji does by default.
func (h *Hub) AddUser(name string, perms ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.userLocked(name)
	u.perms = append(u.perms, perms...)
}

func (h *Hub) userLocked(name string) *user {
	if u, ok := h.users[name]; ok {
		return u
	}
	h.nextID++
	u := &user{id: h.nextID, name: name}
	h.users[name] = u
	return u
}

// AddTag adds an empty, unlocked tag.
func (h *Hub) AddTag(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.tags[name]; ok {
		return
	}
	h.nextID++
	h.tags[name] = &tag{id: h.nextID, name: name, packages: map[string]bool{}}
}

// LockTag locks or unlocks a tag.
func (h *Hub) LockTag(name string, locked bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mustTag(name).locked = locked
}

// SetTagPerm sets the permission needed to tag into the tag ("" for none).
func (h *Hub) SetTagPerm(name, perm string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mustTag(name).perm = perm
}

// AddPackage adds pkg to the tag's package list.
func (h *Hub) AddPackage(tagName, pkg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mustTag(tagName).packages[pkg] = false
}

// BlockPackage blocks pkg in the tag's package list.
func (h *Hub) BlockPackage(tagName, pkg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mustTag(tagName).packages[pkg] = true
}

func (h *Hub) mustTag(name string) *tag {
	t, ok := h.tags[name]
	if !ok {
		h.tb.Fatalf("kojitest: no tag %q", name)
	}
	return t
}

// AddBuild adds a build and returns its id. A build added again under
// the same NVR replaces the first, with a new id.
func (h *Hub) AddBuild(b Build) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addBuildLocked(b).id
}

// addBuildLocked adds a build. The caller holds h.mu.
func (h *Hub) addBuildLocked(b Build) *build {
	nb := &build{state: 1, module: b.Module, types: b.Types}
	if b.Info != nil {
		nb.info = cloneMap(b.Info)
		if b.NVR == "" {
			b.NVR, _ = nb.info["nvr"].(string)
		}
		if st, ok := nb.info["state"].(int64); ok {
			nb.state = int(st)
		}
		if id, ok := nb.info["id"].(int64); ok && id > 0 {
			nb.id = int(id)
			if h.buildByID[nb.id] != nil {
				h.tb.Fatalf("kojitest: build id %d given twice", nb.id)
			}
			// The hub's own ids stay clear of it.
			h.nextID = max(h.nextID, nb.id)
		}
	}
	i := strings.LastIndexByte(b.NVR, '-')
	j := strings.LastIndexByte(b.NVR[:max(i, 0)], '-')
	if i <= 0 || j <= 0 {
		h.tb.Fatalf("kojitest: %q is not name-version-release", b.NVR)
	}
	if nb.id == 0 {
		h.nextID++
		nb.id = h.nextID
	}
	nb.nvr, nb.name, nb.ver, nb.rel = b.NVR, b.NVR[:j], b.NVR[j+1:i], b.NVR[i+1:]
	if b.State != nil {
		nb.state = *b.State
	}
	h.builds[b.NVR] = nb
	h.buildByID[nb.id] = nb
	return nb
}

// Tag puts nvr into tag at once, as if kojiadmin had tagged it (with
// WithEvents, its build.tag message goes out).
func (h *Hub) Tag(tagName, nvr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.mustTag(tagName)
	t.add(nvr, h.event(), nil)
	if b := h.builds[nvr]; b != nil {
		h.sendTag(true, t, b, h.userLocked("kojiadmin"), false, false)
	}
}

// Untag takes nvr out of tag at once, as if kojiadmin had untagged it;
// a build not in the tag is left alone.
func (h *Hub) Untag(tagName, nvr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.mustTag(tagName)
	if !t.has(nvr) {
		return
	}
	t.remove(nvr, h.event(), h.userLocked("kojiadmin"))
	if b := h.builds[nvr]; b != nil {
		h.sendTag(false, t, b, h.userLocked("kojiadmin"), false, true)
	}
}

// DenyPolicy makes the hub's tag policy refuse the operations given
// ("tag", "untag", "move") on the tag: ActionNotAllowed (1004) "policy
// violation", whatever the user's permissions.
func (h *Hub) DenyPolicy(tagName string, operations ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mustTag(tagName)
	h.policy[tagName] = append(h.policy[tagName], operations...)
}

// Tagged returns the NVRs in tag, in tagging order.
func (h *Hub) Tagged(tagName string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.mustTag(tagName).builds)
}

// TagCalls returns the tagBuild and tagBuildBypass calls received.
func (h *Hub) TagCalls() []TagCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.tagCalls)
}

// UntagCalls returns the untagBuild calls that took a build out of a
// tag (a strict=False call for a build not in the tag is not one).
func (h *Hub) UntagCalls() []TagCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.untagCalls)
}

// Calls returns every call received (multiCall members included, after
// the multiCall itself).
func (h *Hub) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// CallCount returns how many calls of method were received.
func (h *Hub) CallCount(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// InjectFault makes the next n calls of method (any method for "") answer
// with the fault, before the call runs.
func (h *Hub) InjectFault(method string, n, code int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range n {
		h.faults[method] = append(h.faults[method], injected{code, msg})
	}
}

// Delay makes every call of method wait d before it runs, inside a
// multiCall too.
func (h *Hub) Delay(method string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delays[method] = d
}

// DropResponses makes the next n calls of method run and then lose their
// answer: the connection is closed without a response (a multiCall that
// carries such a call loses its whole answer).
func (h *Hub) DropResponses(method string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drops[method] += n
}

// FailHTTP makes the next n calls of method get HTTP status (e.g. 502)
// without running.
func (h *Hub) FailHTTP(method string, n, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range n {
		h.httpFails[method] = append(h.httpFails[method], status)
	}
}

// SetOffline puts the hub in maintenance: every call gets ServerOffline.
func (h *Hub) SetOffline(off bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.offline = off
}

// SetAway makes the hub unreachable, as when Apache is stopped: every
// request's connection is closed without an answer, before the call runs.
func (h *Hub) SetAway(away bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.away = away
}

// ExpireSessions makes every open session answer AuthExpired.
func (h *Hub) ExpireSessions() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		s.expired = true
	}
}

// Sessions returns how many sessions were opened so far.
func (h *Hub) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// TaskState returns the state of a task and the fault it failed with.
func (h *Hub) TaskState(id int) (state int, faultCode int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tasks[id]
	if !ok {
		return -1, 0
	}
	if t.fault != nil {
		return t.state, t.fault.Code
	}
	return t.state, 0
}

// WaitTasks waits until every task has run.
func (h *Hub) WaitTasks(ctx context.Context) error {
	for {
		h.mu.Lock()
		pending := 0
		for _, t := range h.tasks {
			if t.pending() {
				pending++
			}
		}
		h.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// takeInjection pops what is injected for method.
func (h *Hub) takeInjection(method string) (f *injected, delay time.Duration, drop bool, httpStatus int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []string{method, ""} {
		if q := h.httpFails[m]; len(q) > 0 && httpStatus == 0 {
			httpStatus, h.httpFails[m] = q[0], q[1:]
		}
		if q := h.faults[m]; len(q) > 0 && f == nil {
			f, h.faults[m] = &q[0], q[1:]
		}
		if h.drops[m] > 0 && !drop {
			h.drops[m]--
			drop = true
		}
		if d, ok := h.delays[m]; ok && delay == 0 {
			delay = d
		}
	}
	return
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, viaProxy bool) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if r.Method != http.MethodPost || (path != "/kojihub" && path != "/kojihub/ssllogin") {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	h.mu.Lock()
	away := h.away
	h.mu.Unlock()
	if away {
		hangUp(w)
		return
	}
	start := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return
	}
	method, params, err := wire.DecodeCall(body)
	if err != nil {
		if h.http400 {
			http.Error(w, "Invalid request", http.StatusBadRequest)
			return
		}
		writeFault(w, &wire.Fault{Code: 1, String: fmt.Sprintf("<class 'xml.parsers.expat.ExpatError'>: %v", err)})
		return
	}
	inj, delay, drop, httpStatus := h.takeInjection(method)
	if httpStatus != 0 {
		http.Error(w, http.StatusText(httpStatus), httpStatus)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	rc := &reqCtx{h: h, r: r, viaProxy: viaProxy, path: path, callnum: -1, start: start}
	var result any
	var herr *hubFault
	if inj != nil {
		herr = fault(inj.code, "%s", inj.msg)
		h.record(rc, method, params, herr)
	} else {
		result, herr = h.dispatch(rc, method, params)
	}
	if (drop || rc.drop) && hangUp(w) {
		return
	}
	if herr != nil {
		out := wire.EncodeFault(herr.Code, herr.String)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(out)
		h.mu.Lock()
		h.count(method, 1, int64(len(out)), time.Since(start))
		h.mu.Unlock()
		return
	}
	out, err := wire.EncodeResponse(result)
	if err != nil {
		writeFault(w, &wire.Fault{Code: 1000, String: "cannot encode result: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(out)
	h.mu.Lock()
	h.count(method, 1, int64(len(out)), time.Since(start))
	h.mu.Unlock()
}

// hangUp closes the request's connection without an answer.
func hangUp(w http.ResponseWriter) bool {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return true
		}
	}
	return false
}

func writeFault(w http.ResponseWriter, f *wire.Fault) {
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(wire.EncodeFault(f.Code, f.String))
}

// reqCtx is what the hub knows about one HTTP request.
type reqCtx struct {
	h        *Hub
	r        *http.Request
	viaProxy bool
	path     string
	sess     *session
	callnum  int64
	// start is when the request came, the start of its transaction.
	start time.Time
	// drop loses the answer: a multiCall member's method was to lose
	// one.
	drop bool
}

// record appends a call to the log.
func (h *Hub) record(rc *reqCtx, method string, params []any, f *hubFault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := Call{Method: method, Params: params, Callnum: rc.callnum}
	if rc.sess != nil {
		c.SessionID, c.User = rc.sess.id, rc.sess.user.name
	}
	if f != nil {
		c.Fault = f.Code
	}
	h.calls = append(h.calls, c)
}

// dispatch runs one call: maintenance mode, session and call number checks,
// then the method.
func (h *Hub) dispatch(rc *reqCtx, method string, params []any) (any, *hubFault) {
	result, f := h.dispatchInner(rc, method, params)
	h.record(rc, method, params, f)
	return result, f
}

var writeMethods = map[string]bool{"tagBuild": true, "tagBuildBypass": true, "untagBuild": true, "cancelTask": true, "logout": true}

func (h *Hub) dispatchInner(rc *reqCtx, method string, params []any) (any, *hubFault) {
	h.mu.Lock()
	offline := h.offline
	h.mu.Unlock()
	if offline {
		return nil, fault(1014, "server is offline")
	}
	if f := h.checkSession(rc, writeMethods[method]); f != nil {
		return nil, f
	}
	if method == "multiCall" {
		return h.multiCall(rc, params)
	}
	return h.run(rc, method, params)
}

// checkSession finds the session named by the request and applies the
// call number rules of koji.md.
func (h *Hub) checkSession(rc *reqCtx, write bool) *hubFault {
	r := rc.r
	q := r.URL.Query()
	idStr, key, cnStr := r.Header.Get("Koji-Session-Id"), r.Header.Get("Koji-Session-Key"), r.Header.Get("Koji-Session-Callnum")
	strict := h.strict
	if v := r.Header.Get("Koji-Callnum"); v != "" {
		// What released hubs actually read: there the check is on.
		cnStr, strict = v, true
	}
	if idStr == "" && q.Get("session-id") != "" {
		idStr, key, cnStr, strict = q.Get("session-id"), q.Get("session-key"), q.Get("callnum"), true
	}
	if idStr == "" {
		return nil
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil {
		return fault(1002, "Invalid session or bad credentials")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[id]
	if !ok || s.key != key {
		return fault(1002, "Invalid session or bad credentials")
	}
	if s.expired {
		return fault(1007, "session %d expired", id)
	}
	rc.sess = s
	if cnStr == "" {
		return nil
	}
	cn, err := strconv.ParseInt(cnStr, 10, 64)
	if err != nil {
		return fault(1000, "invalid callnum: %q", cnStr)
	}
	rc.callnum = cn
	if strict {
		switch {
		case cn < s.lastCall:
			return fault(1008, "%d > %d (session %d)", s.lastCall, cn, id)
		case cn == s.lastCall && s.lastWrite:
			return fault(1009, "unable to retry call %d (method %s) for session %d", cn, "(unknown)", id)
		}
	}
	s.lastCall, s.lastWrite = cn, write
	return nil
}

func (h *Hub) multiCall(rc *reqCtx, params []any) (any, *hubFault) {
	if len(params) != 1 {
		return nil, fault(1019, "multiCall() takes exactly 1 argument (%d given)", len(params))
	}
	calls, ok := params[0].([]any)
	if !ok {
		return nil, fault(1019, "multiCall: calls must be a list")
	}
	out := make([]any, 0, len(calls))
	for _, c := range calls {
		m, _ := c.(map[string]any)
		name, _ := m["methodName"].(string)
		ps, _ := m["params"].([]any)
		for i, p := range ps {
			if mm, ok := p.(map[string]any); ok {
				if star, _ := mm["__starstar"].(bool); star {
					delete(mm, "__starstar")
					ps[i] = wire.Kwargs(mm)
				}
			}
		}
		var res any
		var f *hubFault
		h.mu.Lock()
		delay := h.delays[name]
		h.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-rc.r.Context().Done():
			}
		}
		start := time.Now()
		if name == "" || name == "multiCall" {
			f = fault(1000, "invalid call in multiCall: %v", c)
		} else {
			res, f = h.run(rc, name, ps)
		}
		busy := time.Since(start)
		h.record(rc, name, ps, f)
		h.mu.Lock()
		if h.drops[name] > 0 {
			h.drops[name]--
			rc.drop = true
		}
		h.mu.Unlock()
		var size int64
		if f == nil && h.memberSizes {
			size = memberSize(res)
		}
		h.mu.Lock()
		h.count(name, 0, size, busy)
		h.mu.Unlock()
		if f != nil {
			out = append(out, map[string]any{"faultCode": f.Code, "faultString": f.String,
				"traceback": "Traceback (most recent call last):\n  File \"kojihub.py\"\nkoji.GenericError"})
		} else {
			out = append(out, []any{res})
		}
	}
	return out, nil
}

// memberSize is the size of a result inside a multiCall's answer, less
// the envelope a response of its own would add.
func memberSize(v any) int64 {
	b, err := wire.EncodeResponse(v)
	if err != nil {
		return 0
	}
	empty, _ := wire.EncodeResponse(nil)
	return int64(len(b) - len(empty) + len("<nil/>"))
}

// SessionKeys returns the keys of open sessions, so that tests can check
// that they never leak into logs or errors.
func (h *Hub) SessionKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for _, s := range h.sessions {
		keys = append(keys, s.key)
	}
	return keys
}
