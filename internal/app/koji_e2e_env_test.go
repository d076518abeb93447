package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/decision"
	"github.com/fedora-modularity/mts/internal/testenv"
	"github.com/fedora-modularity/mts/koji/kojitest"
)

// The tags of the rules on Koji's events in testdata/serve/rules-koji.
const (
	tagCandidate = "f40-container-candidate"
	tagPending   = "f40-signing-pending"
	tagIndex     = "f40-container-index"
	tagBlocked   = "f40-blocked"
	tagLoopX     = "loop-x"
	tagLoopY     = "loop-y"
)

// kojiRules are the rule files on Koji's events of the end-to-end tests.
func kojiRules(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"complete.cel.yaml", "tag.cel.yaml"} {
		p, err := filepath.Abs(filepath.Join(serveData, "rules-koji", f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// kojiHops is the max_reaction_hops of the tests: enough for the chain
// images -> candidate -> pending -> index and its last echo, which
// matches nothing, and the bound of the loop-x/loop-y moves.
const kojiHops = 3

// kojiAddresses are the protonmsg addresses mts reads.
var kojiAddresses = []string{"build.complete", "build.tag", "build.untag"}

// relay hands the stand-in hub's messages to a forwarder to a real broker
// and, as a hub with its database queue on, sends again what the broker
// did not take, through a new connection, until it does (at most two
// minutes). It is the function kojitest.WithEvents takes.
type relay struct {
	t    testing.TB
	dial func() (*testenv.KojiForwarder, error)

	// gate is held while the relay is paused.
	gate   sync.Mutex
	mu     sync.Mutex
	fwd    *testenv.KojiForwarder
	sent   []kojitest.Event
	closed bool
}

func newRelay(t testing.TB, dial func() (*testenv.KojiForwarder, error)) *relay {
	r := &relay{t: t, dial: dial}
	t.Cleanup(r.close)
	return r
}

func (r *relay) forward(ev kojitest.Event) {
	r.gate.Lock()
	defer r.gate.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for !r.closed {
		if r.fwd != nil {
			n := r.fwd.Sent()
			r.fwd.Forward(ev)
			if r.fwd.Sent() > n {
				r.sent = append(r.sent, ev)
				return
			}
			r.fwd.Close()
			r.fwd = nil
		}
		if time.Now().After(deadline) {
			r.t.Errorf("the broker never took the hub's %s (seq %d)", ev.Address, ev.Seq)
			return
		}
		fwd, err := r.dial()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		r.fwd = fwd
	}
}

// pause holds the hub's messages back, as its database queue does while
// the broker is away, until resume.
func (r *relay) pause() { r.gate.Lock() }

func (r *relay) resume() { r.gate.Unlock() }

// count is how many messages of address the broker took.
func (r *relay) count(address string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.sent {
		if ev.Address == address {
			n++
		}
	}
	return n
}

func (r *relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.fwd != nil {
		r.fwd.Close()
		r.fwd = nil
	}
}

// kojiBus is one bus Koji's events come on: how the hub's plugin reaches
// it, the service's settings for it and what the service announces on it.
type kojiBus struct {
	name string
	// dial connects a forwarder as the hub's plugin sends.
	dial func() (*testenv.KojiForwarder, error)
	// configure sets the service's bus settings and Koji inputs.
	configure func(cfg *config.Config)
	// w collects the announcements.
	w *watcher
	// prefix and queues are the ActiveMQ bus's virtual topic prefix and
	// consumer queues.
	prefix string
	queues []string
	// serveYAML is the bus settings of an mts serve process, in YAML;
	// only the ActiveMQ bus has them.
	serveYAML string
}

// kojiBuses are the buses of the end-to-end tests, each set up on first
// use by the test that runs it.
var kojiBuses = []struct {
	name  string
	setup func(t *testing.T) *kojiBus
}{
	{"protonmsg-stomp-activemq", kojiOnActiveMQ},
	{"protonmsg-amqp10-rabbitmq", kojiOnAMQP10},
	{"fedora-messaging-amqp091", kojiOnFedoraMessaging},
}

// uniqueName is a name no other test uses, without dashes or dots.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano())
}

// kojiOnActiveMQ is protonmsg's shape over STOMP to ActiveMQ (UMB): the
// hub's messages go to the virtual topics <prefix>.build.*, mts reads its
// consumer queues as rhmsg_inputs and announces on topics of its own.
func kojiOnActiveMQ(t *testing.T) *kojiBus {
	b := needBroker(t)
	n := newBusNames("kojimq")
	prefix := "VirtualTopic.eng.brew." + uniqueName("t")
	queues := make([]string, len(kojiAddresses))
	for i, a := range kojiAddresses {
		queues[i] = "Consumer.mts.queue." + prefix + "." + a
	}
	makeVirtualTopicQueues(t, b, prefix, queues, kojiAddresses)
	createQueue(t, b, n)
	return &kojiBus{
		name: "activemq",
		dial: func() (*testenv.KojiForwarder, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return testenv.ForwardSTOMP(ctx, b.STOMPAddr, prefix)
		},
		configure: func(cfg *config.Config) {
			cfg.RhmsgBrokers = []string{b.STOMPAddr}
			cfg.RhmsgQueue, cfg.RhmsgTopicPrefix = n.queue, n.outPrefix
			cfg.RhmsgInputs = nil
			for _, q := range queues {
				cfg.RhmsgInputs = append(cfg.RhmsgInputs, config.Input{Address: q, Field: "queue"})
			}
		},
		w:      newWatcher(t, b, n),
		prefix: prefix,
		queues: queues,
		serveYAML: fmt.Sprintf("messaging_backend: rhmsg\nrhmsg_brokers: [%s]\nrhmsg_queue: %s\nrhmsg_topic_prefix: %s\nrhmsg_inputs: [%s]\n",
			b.STOMPAddr, n.queue, n.outPrefix, strings.Join(queues, ", ")),
	}
}

// makeVirtualTopicQueues makes the consumer queues of a virtual topic
// exist before the hub sends: a virtual topic copies messages only to
// queues that exist, and SUBSCRIBE is not answered, so a probe goes to
// each topic (prefix and the address of the queue) until it comes out of
// its queue.
func makeVirtualTopicQueues(t testing.TB, b *testenv.ActiveMQ, prefix string, queues, addresses []string) {
	t.Helper()
	conn, err := gostomp.Dial("tcp", b.STOMPAddr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Disconnect() }()
	for i, q := range queues {
		deadline := time.Now().Add(30 * time.Second)
		sub, err := conn.Subscribe("/queue/"+q, gostomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		for got := false; !got; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no probe came through", q)
			}
			if err := conn.Send("/topic/"+prefix+"."+addresses[i], "text/plain", []byte("probe")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sub.C:
				got = true
			case <-time.After(200 * time.Millisecond):
			}
		}
		_ = sub.Unsubscribe()
	}
}

// kojiOnAMQP10 is protonmsg as Koji's plugin sends it, over AMQP 1.0 with
// qpid-proton, to a RabbitMQ node of the test's own: to
// /topic/VirtualTopic.eng.brew.build.*, which feed durable queues bound
// to them that mts reads as rhmsg_inputs over amqps, as on UMB.
func kojiOnAMQP10(t *testing.T) *kojiBus {
	node := amqp10Node(t)
	const mbsQueue = "Consumer.client-mts.queue.VirtualTopic.eng.mbs.module.state.change"
	bindQueue(t, node.AMQPURL, mbsQueue, "VirtualTopic.eng.mbs.module.state.change")
	brew := strings.TrimPrefix(testenv.BrewTopicPrefix, "/topic/")
	var inputs config.Inputs
	for _, a := range kojiAddresses {
		q := "Consumer.client-mts.queue." + brew + "." + a
		bindQueue(t, node.AMQPURL, q, brew+"."+a)
		inputs = append(inputs, config.Input{Address: q, Field: "queue"})
	}
	const announced = "announcements"
	bindQueue(t, node.AMQPURL, announced, "VirtualTopic.eng.mts.#")
	w := &watcher{}
	w.collectAMQP(t, node.AMQPURL, announced, "VirtualTopic.eng.mts.")
	dir := t.TempDir()
	return &kojiBus{
		name: "amqp10",
		dial: func() (*testenv.KojiForwarder, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return testenv.ForwardProtonmsg(ctx, dir, "amqp://guest:guest@"+node.Addr, testenv.BrewTopicPrefix)
		},
		configure: func(cfg *config.Config) {
			cfg.RhmsgBrokers = []string{"amqps://" + node.TLSAddr}
			cfg.RhmsgCertificate, cfg.RhmsgPrivateKey, cfg.RhmsgCACert = node.PKI.ClientCert, node.PKI.ClientKey, node.PKI.CACert
			cfg.RhmsgBrokerType, cfg.RhmsgQueue, cfg.RhmsgTopicPrefix = "rabbitmq", mbsQueue, "VirtualTopic.eng.mts"
			cfg.RhmsgInputs = inputs
		},
		w: w,
	}
}

// kojiOnFedoraMessaging is koji-fedoramessaging's flat bodies over AMQP
// 0-9-1 on the machine's RabbitMQ: to amq.topic with Fedora's routing
// keys, which mts binds to its queue as amqp_inputs.
func kojiOnFedoraMessaging(t *testing.T) *kojiBus {
	rb := newRabbit(t, "mts-koji-")
	w := &watcher{}
	go w.collectDeliveries(rb.announcements, rb.prefix+".")
	return &kojiBus{
		name: "fedora",
		dial: func() (*testenv.KojiForwarder, error) { return testenv.ForwardFedoraMessaging(machineRabbit) },
		configure: func(cfg *config.Config) {
			cfg.MessagingBackend = config.BackendFedoraMessaging
			cfg.AMQPURL, cfg.AMQPQueue, cfg.AMQPRoutingKeys, cfg.AMQPTopicPrefix = machineRabbit, rb.queue, []string{rb.inKey}, rb.prefix
			cfg.AMQPInputs = nil
			for _, topic := range []string{"buildsys.build.state.change", "buildsys.tag", "buildsys.untag"} {
				cfg.AMQPInputs = append(cfg.AMQPInputs, config.Input{Address: testenv.FedoraTopicPrefix + topic, Field: "routing_key"})
			}
		},
		w: w,
	}
}

// collectAMQP collects the messages of queue on the RabbitMQ at url until
// the test ends.
func (w *watcher) collectAMQP(t testing.TB, url, queue, prefix string) {
	t.Helper()
	ch := testenv.RabbitChannel(t, url)
	ds, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go w.collectDeliveries(ds, prefix)
}

// collectDeliveries records AMQP 0-9-1 deliveries, with the topic named
// by the routing key less prefix, until ds is closed.
func (w *watcher) collectDeliveries(ds <-chan amqp091.Delivery, prefix string) {
	for d := range ds {
		var body map[string]any
		_ = json.Unmarshal(d.Body, &body)
		w.mu.Lock()
		w.msgs = append(w.msgs, announced{strings.TrimPrefix(d.RoutingKey, prefix), body})
		w.mu.Unlock()
	}
}

// kojiRecords keeps the decisions the service records.
type kojiRecords struct {
	mu   sync.Mutex
	recs []decision.Record
}

func (k *kojiRecords) Record(_ context.Context, r decision.Record) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.recs = append(k.recs, r)
	return nil
}

// of are the records of Koji events about nvr, in the order they were made.
func (k *kojiRecords) of(nvr string) []decision.Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []decision.Record
	for _, r := range k.recs {
		if ev := r.Decision.Event.Koji; ev != nil && ev.Build.NVR() == nvr {
			out = append(out, r)
		}
	}
	return out
}

// matchedBy counts the records about nvr that rule matched.
func (k *kojiRecords) matchedBy(nvr, rule string) int {
	n := 0
	for _, r := range k.of(nvr) {
		if r.Decision.Matched() && r.Decision.Rule != nil && r.Decision.Rule.ID == rule {
			n++
		}
	}
	return n
}

// kojiStack is the stand-in hub whose messages reach a bus, with the
// tags and packages of the Koji rules, and mts's configuration on that
// bus with the rules.
type kojiStack struct {
	bus   *kojiBus
	relay *relay
	hub   *kojitest.Hub
	mbs   *mbsStandIn
}

func newKojiStack(t *testing.T, bus *kojiBus, opts ...kojitest.Option) *kojiStack {
	t.Helper()
	ks := &kojiStack{bus: bus, relay: newRelay(t, bus.dial), mbs: newMBS(t)}
	ks.hub = kojitest.New(t, append([]kojitest.Option{kojitest.WithEvents(ks.relay.forward)}, opts...)...)
	for _, tag := range []string{tagCandidate, tagPending, tagIndex, tagBlocked, tagLoopX, tagLoopY} {
		ks.hub.AddTag(tag)
		for _, pkg := range []string{"fedora-toolbox", "bash", "loopy"} {
			ks.hub.AddPackage(tag, pkg)
		}
	}
	ks.hub.AddUser("mts", "tag")
	return ks
}

// config is mts on the stack's bus and hub with the Koji rules and
// kojiHops; extra is more settings in YAML.
func (ks *kojiStack) config(t testing.TB, extra string) *config.Config {
	t.Helper()
	cfg := baseConfig(t, busNames{}, ks.hub, ks.mbs)
	cfg.Rules = kojiRules(t)
	ks.bus.configure(cfg)
	if err := cfg.LoadBytes("koji-e2e.yaml", []byte(fmt.Sprintf("max_reaction_hops: %d\n%s", kojiHops, extra))); err != nil {
		t.Fatalf("the settings of Koji's events: %v", err)
	}
	return cfg
}

// serveConfig writes the configuration of an mts serve process on the
// stack's bus (ActiveMQ) and hub, with the Koji rules, kojiHops, a
// decision store of its own and tuning.
func (ks *kojiStack) serveConfig(t testing.TB, tuning string) string {
	t.Helper()
	if ks.bus.serveYAML == "" {
		t.Fatalf("no mts serve settings for the %s bus", ks.bus.name)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "mts.yaml")
	yaml := fmt.Sprintf("rules: [%s]\nmbs_api_url: %s\nkoji_profile: mts-test\nkoji_config: %s\ndecision_store: %s\nmax_reaction_hops: %d\n",
		strings.Join(kojiRules(t), ", "), ks.mbs.URL(), kojiProfile(t, ks.hub), filepath.Join(dir, "decisions.db"), kojiHops)
	if err := os.WriteFile(conf, []byte(yaml+ks.bus.serveYAML+tuning), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// imageNVR is the NVR of the i-th container image of a test.
func imageNVR(first, i int) string { return "fedora-toolbox-40-" + strconv.Itoa(first+i) }

// importImages makes count container images, as OSBS imports them: each
// sends a build.complete whose btypes are empty.
func (ks *kojiStack) importImages(first, count int) []string {
	nvrs := make([]string, count)
	for i := range nvrs {
		nvrs[i] = imageNVR(first, i)
		ks.hub.ImportBuild(kojitest.Build{NVR: nvrs[i], Types: map[string]any{"image": map[string]any{}}})
	}
	return nvrs
}

// tasks counts, per NVR and tag, the tagBuild calls that made a task.
func tasks(hub *kojitest.Hub) map[[2]string]int {
	out := map[[2]string]int{}
	for _, c := range hub.TagCalls() {
		if !c.Bypass && c.TaskID != 0 {
			out[[2]string{c.NVR, c.Tag}]++
		}
	}
	return out
}

// expectChainDone waits until every image went the whole way: into the
// candidate tag, moved to signing-pending, tagged into the index, and
// then checks that each step was one task and nothing else was asked.
func (ks *kojiStack) expectChainDone(t *testing.T, within time.Duration, images []string) {
	t.Helper()
	for deadline := time.Now().Add(within); len(ks.hub.Tagged(tagPending)) < len(images) || len(ks.hub.Tagged(tagIndex)) < len(images); {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d images in %s, %d in %s, %d in %s; %d tagBuild calls; the broker took %d build.complete, %d build.tag, %d build.untag",
				within, len(ks.hub.Tagged(tagIndex)), len(images), tagIndex, len(ks.hub.Tagged(tagPending)), tagPending,
				len(ks.hub.Tagged(tagCandidate)), tagCandidate, len(ks.hub.TagCalls()),
				ks.relay.count("build.complete"), ks.relay.count("build.tag"), ks.relay.count("build.untag"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The echo of the last step must be decided before the counts are
	// final: give stragglers a moment.
	time.Sleep(time.Second)
	got := tasks(ks.hub)
	for _, nvr := range images {
		for _, tag := range []string{tagCandidate, tagPending, tagIndex} {
			if n := got[[2]string{nvr, tag}]; n != 1 {
				t.Errorf("%s: %d tagBuild tasks into %s, want 1", nvr, n, tag)
			}
		}
	}
	if left := ks.hub.Tagged(tagCandidate); len(left) > 0 {
		t.Errorf("left in %s after the moves: %v", tagCandidate, left)
	}
	for _, tag := range []string{tagPending, tagIndex} {
		if got := ks.hub.Tagged(tag); !sameSet(got, images) {
			t.Errorf("%s holds %v, want %v", tag, got, images)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// destinations are the tags (with from_tag for a move) and task ids of
// the build.tag.requested announcements about build id.
func (w *watcher) destinations(id int64) (tags map[string]string, tasks int, errs []string) {
	tags = map[string]string{}
	for _, m := range w.forBuild(id) {
		if m.Topic != decision.TopicRequested {
			continue
		}
		dts, _ := m.Body["destination_tags"].([]any)
		for _, d := range dts {
			dt, _ := d.(map[string]any)
			tag, _ := dt["tag"].(string)
			from, _ := dt["from_tag"].(string)
			tags[tag] = from
			if dt["task_id"] != nil {
				tasks++
			}
			if e, _ := dt["error"].(string); e != "" {
				errs = append(errs, tag+": "+e)
			}
		}
	}
	return tags, tasks, errs
}

// untagsAnnounced are the tags of the build.untag.requested
// announcements about build id.
func (w *watcher) untagsAnnounced(id int64) []string {
	var out []string
	for _, m := range w.forBuild(id) {
		if m.Topic != decision.TopicUntagRequested {
			continue
		}
		uts, _ := m.Body["untag_tags"].([]any)
		for _, u := range uts {
			ut, _ := u.(map[string]any)
			tag, _ := ut["tag"].(string)
			if e, _ := ut["error"].(string); e != "" {
				tag += " (" + e + ")"
			}
			out = append(out, tag)
		}
	}
	return out
}

// expectChainAnnounced checks the build.tag.requested announcements of
// each image: the candidate tag, the move from it to signing-pending and
// the index tag, each with its task; once each when exact (a service
// killed before it acknowledged may announce a step again).
func (ks *kojiStack) expectChainAnnounced(t *testing.T, within time.Duration, images []string, exact bool) {
	t.Helper()
	want := map[string]string{tagCandidate: "", tagPending: tagCandidate, tagIndex: ""}
	for _, nvr := range images {
		id := ks.buildID(t, nvr)
		eventually(t, within, nvr+" announced three times", func() bool {
			tags, _, _ := ks.bus.w.destinations(id)
			return len(tags) >= 3
		})
		tags, taskIDs, errs := ks.bus.w.destinations(id)
		if !maps.Equal(tags, want) || taskIDs < 3 || exact && taskIDs != 3 || len(errs) > 0 {
			t.Errorf("%s announced destinations %v (from tags), %d task ids, errors %v; want %v with 3 task ids",
				nvr, tags, taskIDs, errs, want)
		}
		// The types are known where the rules read them (the image's
		// build.complete); after an event whose rules did not, they are
		// null rather than asked of the hub.
		typed := false
		for _, m := range ks.bus.w.forBuild(id) {
			types, _ := m.Body["types"].([]any)
			typed = typed || slices.Contains(types, any("image"))
			if m.Body["nvr"] != nvr || m.Body["types"] != nil && !slices.Contains(types, any("image")) {
				t.Errorf("%s announced %s with nvr %v and types %v", nvr, m.Topic, m.Body["nvr"], m.Body["types"])
			}
		}
		if !typed {
			t.Errorf("%s: no announcement names its type image", nvr)
		}
	}
}

// buildID is the hub's id of nvr.
func (ks *kojiStack) buildID(t testing.TB, nvr string) int64 {
	t.Helper()
	for _, ev := range ks.relay.snapshot() {
		var body struct {
			Info  map[string]any `json:"info"`
			Build map[string]any `json:"build"`
		}
		if json.Unmarshal(ev.Body, &body) != nil {
			continue
		}
		for _, info := range []map[string]any{body.Info, body.Build} {
			if info != nil && info["nvr"] == nvr {
				id, _ := info["id"].(float64)
				return int64(id)
			}
		}
	}
	t.Fatalf("the hub sent nothing about %s", nvr)
	return 0
}

func (r *relay) snapshot() []kojitest.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

// moves counts the tagBuild tasks of nvr into loop-x and loop-y.
func moves(hub *kojitest.Hub, nvr string) int {
	got := tasks(hub)
	return got[[2]string{nvr, tagLoopX}] + got[[2]string{nvr, tagLoopY}]
}

// expectLoopBounded waits until the loop-x/loop-y moves of nvr stop, and
// checks that they stopped within the bound of kojiHops reactions.
func expectLoopBounded(t *testing.T, hub *kojitest.Hub, nvr string) {
	t.Helper()
	eventually(t, 30*time.Second, nvr+" moved", func() bool { return moves(hub, nvr) >= 1 })
	// Stopped: no new move for three seconds.
	last := moves(hub, nvr)
	for still := time.Now(); time.Since(still) < 3*time.Second; {
		if n := moves(hub, nvr); n != last {
			last, still = n, time.Now()
		}
		if last > 2*kojiHops+2 {
			t.Fatalf("%s moved %d times: the loop is not bounded by max_reaction_hops %d", nvr, last, kojiHops)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last < 2 || last > kojiHops+1 {
		t.Errorf("%s moved %d times between loop-x and loop-y, want 2 to %d (max_reaction_hops %d)", nvr, last, kojiHops+1, kojiHops)
	}
}

// expectLoopStopRecorded checks that the event on which the loop of nvr
// stopped, mts's own echo, was recorded with the loop's rule, no action
// and why nothing was done.
func expectLoopStopRecorded(t *testing.T, recs *kojiRecords, nvr string) {
	t.Helper()
	eventually(t, 10*time.Second, "the loop's stop recorded", func() bool {
		for _, r := range recs.of(nvr) {
			ev := r.Decision.Event.Koji
			if ev.User == "mts" && string(ev.Kind) == "build.tag" && (ev.Tag == tagLoopX || ev.Tag == tagLoopY) &&
				len(r.Decision.Actions) == 0 && r.Decision.Rule != nil && r.Decision.Error != "" {
				t.Logf("the loop of %s stopped on %s into %s: outcome %s, rule %s: %s", nvr, ev.Kind, ev.Tag,
					r.Decision.Outcome, r.Decision.Rule.ID, r.Decision.Error)
				return true
			}
		}
		return false
	})
}
