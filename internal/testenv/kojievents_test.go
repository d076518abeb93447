package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/build"
	"github.com/fedora-modularity/mts/koji/kojitest"
	"github.com/go-stomp/stomp/v3"
)

const (
	eventTag = "f40-updates-candidate"
	eventRPM = "bash-5.2.26-3.fc40"
	eventMod = "nodejs-20-4020240501.abcd1234"
)

// kojiActivity starts a hub that hands its messages to forward (and
// records them) and makes one tag, one untag and one import: a
// build.tag, a build.untag and a build.complete.
func kojiActivity(t *testing.T, forward func(kojitest.Event)) func() []kojitest.Event {
	t.Helper()
	var mu sync.Mutex
	var sent []kojitest.Event
	hub := kojitest.New(t, kojitest.WithEvents(func(ev kojitest.Event) {
		mu.Lock()
		sent = append(sent, ev)
		mu.Unlock()
		forward(ev)
	}))
	hub.AddTag(eventTag)
	hub.AddBuild(kojitest.Build{NVR: eventRPM})
	hub.Tag(eventTag, eventRPM)
	hub.Untag(eventTag, eventRPM)
	hub.ImportBuild(kojitest.Build{NVR: eventMod, Module: &kojitest.Module{
		Name: "nodejs", Stream: "20", Version: "4020240501", Context: "abcd1234", ModulemdStr: "document: modulemd\n"}})
	return func() []kojitest.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]kojitest.Event(nil), sent...)
	}
}

var wantKinds = []build.Kind{build.KindTag, build.KindUntag, build.KindComplete}

// sameJSON compares values as JSON carries them.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// TestForwardKojiEventsToRabbitMQ: the protonmsg shape over AMQP 1.0
// and Fedora's over AMQP 0-9-1 reach subscribers of a real RabbitMQ as
// the hub sent them, and decode as what happened.
func TestForwardKojiEventsToRabbitMQ(t *testing.T) {
	if err := RabbitMQAvailable(); err != nil {
		Missing(t, "rabbitmq-server: %v", err)
	}
	if err := ProtonAvailable(); err != nil {
		Missing(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node, err := StartRabbitMQAMQP10(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	url := "amqp://guest:guest@" + node.Addr

	receivers := map[string]*ProtonPeer{}
	for _, a := range []string{"build.tag", "build.untag", "build.complete"} {
		p, err := StartProtonReceiver(ctx, t.TempDir(), url, BrewTopicPrefix+"."+a)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		receivers[a] = p
	}
	ch := RabbitChannel(t, node.AMQPURL)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, FedoraTopicPrefix+"buildsys.#", "amq.topic", false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	pm, err := ForwardProtonmsg(ctx, t.TempDir(), url, BrewTopicPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	fm, err := ForwardFedoraMessaging(node.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer fm.Close()
	sent := kojiActivity(t, func(ev kojitest.Event) { pm.Forward(ev); fm.Forward(ev) })

	for i := range wantKinds {
		select {
		case d := <-deliveries:
			ev := waitSent(t, sent, i)
			if d.RoutingKey != FedoraTopicPrefix+ev.Topic || string(d.Body) != string(ev.Fedora) {
				t.Errorf("fedora-messaging %s %s, sent %s %s", d.RoutingKey, d.Body, ev.Topic, ev.Fedora)
			}
			if d.ContentType != "application/json" || d.Headers["fedora_messaging_schema"] != FedoraSchema(ev.Topic) || d.Headers["sent-at"] == nil {
				t.Errorf("fedora-messaging properties %q headers %v", d.ContentType, d.Headers)
			}
			m, err := build.DecodeMessage(d.RoutingKey, "", d.Body)
			if err != nil || m.Kind != wantKinds[i] {
				t.Errorf("fedora-messaging message %d decodes as %v, %v; want %s", i, m.Kind, err, wantKinds[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("fedora-messaging message %d never came", i)
		}
	}
	for i := range wantKinds {
		ev := waitSent(t, sent, i)
		select {
		case m := <-receivers[ev.Address].Received():
			if m.Body != string(ev.Body) || m.BodyKind != "value" || m.Durable {
				t.Errorf("protonmsg %s: %s body %.80s durable %v, sent %.80s", ev.Address, m.BodyKind, m.Body, m.Durable, ev.Body)
			}
			if !sameJSON(t, m.Properties, ev.Properties) {
				t.Errorf("protonmsg %s properties %v, sent %v", ev.Address, m.Properties, ev.Properties)
			}
			km, err := build.DecodeMessage(BrewTopicPrefix+"."+ev.Address, "", []byte(m.Body))
			if err != nil || km.Kind != wantKinds[i] {
				t.Errorf("protonmsg %s decodes as %v, %v", ev.Address, km.Kind, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("protonmsg %s never came", ev.Address)
		}
	}
	// A message can reach its consumer before the broker's confirm
	// reaches the forwarder, which counts it only then.
	for deadline := time.Now().Add(10 * time.Second); (pm.Sent() < len(wantKinds) || fm.Sent() < len(wantKinds)) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := pm.Err(); err != nil {
		t.Error(err)
	}
	if err := fm.Err(); err != nil {
		t.Error(err)
	}
	if pm.Sent() != len(wantKinds) || fm.Sent() != len(wantKinds) {
		t.Errorf("sent %d and %d, want %d each", pm.Sent(), fm.Sent(), len(wantKinds))
	}
}

// waitSent is the i-th message the hub sent, once it did.
func waitSent(t *testing.T, sent func() []kojitest.Event, i int) kojitest.Event {
	t.Helper()
	for range 1000 {
		if s := sent(); len(s) > i {
			return s[i]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the hub never sent message %d", i)
	return kojitest.Event{}
}

// TestForwardKojiEventsToActiveMQ: the protonmsg shape over STOMP reaches
// the virtual topic consumer queues of a real ActiveMQ, with the
// properties as headers.
func TestForwardKojiEventsToActiveMQ(t *testing.T) {
	if err := ActiveMQAvailable(); err != nil {
		Missing(t, "activemq: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := StartActiveMQ(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	conn, err := stomp.Dial("tcp", a.STOMPAddr, stomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Disconnect() }()
	const prefix = "VirtualTopic.eng.brew"
	subs := map[string]*stomp.Subscription{}
	for _, addr := range []string{"build.tag", "build.untag", "build.complete"} {
		s, err := conn.Subscribe("/queue/Consumer.mts.queue."+prefix+"."+addr, stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		subs[addr] = s
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	// SUBSCRIBE is not answered: the consumer queues exist once a probe
	// sent to their topic gets through (a probe sent before is dropped).
	for addr, s := range subs {
		for got := false; !got; {
			if err := conn.Send("/topic/"+prefix+"."+addr, "text/plain", []byte(stompProbe)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.C:
				got = true
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("%s: no probe got through", addr)
			}
		}
	}
	fwd, err := ForwardSTOMP(ctx, a.STOMPAddr, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	sent := kojiActivity(t, fwd.Forward)
	for i := range wantKinds {
		ev := waitSent(t, sent, i)
		m := nextNonProbe(t, subs[ev.Address])
		{
			if string(m.Body) != string(ev.Body) {
				t.Errorf("%s body %.80s, sent %.80s", ev.Address, m.Body, ev.Body)
			}
			for k, v := range ev.Properties {
				got, ok := m.Header.Contains(k)
				if v == nil && ok || v != nil && got != fmt.Sprint(v) {
					t.Errorf("%s header %s = %q (%v), sent %v", ev.Address, k, got, ok, v)
				}
			}
			km, err := build.DecodeMessage(prefix+"."+ev.Address, "", m.Body)
			if err != nil || km.Kind != wantKinds[i] {
				t.Errorf("%s decodes as %v, %v", ev.Address, km.Kind, err)
			}
		}
	}
	if err := fwd.Err(); err != nil {
		t.Error(err)
	}
}

const stompProbe = "probe"

// nextNonProbe is the next message of s that is not a late probe.
func nextNonProbe(t *testing.T, s *stomp.Subscription) *stomp.Message {
	t.Helper()
	for {
		select {
		case m := <-s.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if string(m.Body) != stompProbe {
				return m
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no message", s.Destination())
		}
	}
}

// TestForwardKojiEventsOverFedmsg: Fedora's shape in fedmsg envelopes
// reaches a ZeroMQ subscriber.
func TestForwardKojiEventsOverFedmsg(t *testing.T) {
	if err := ZMQAvailable(); err != nil {
		Missing(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	fwd, err := ForwardFedmsg(ctx, t.TempDir(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	sub, err := StartZMQSubscriber(ctx, t.TempDir(), endpoint, FedoraTopicPrefix+"buildsys.")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	// ZeroMQ drops what is published before the subscription arrived:
	// send a probe until one gets through.
	probe := kojitest.Event{Topic: "buildsys.probe", Fedora: []byte(`{}`)}
	for got := false; !got; {
		fwd.Forward(probe)
		select {
		case <-sub.Received():
			got = true
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the subscriber never got a probe")
		}
	}
	drain := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-sub.Received():
		case <-drain:
			done = true
		}
	}
	sent := kojiActivity(t, fwd.Forward)
	for i := range wantKinds {
		ev := waitSent(t, sent, i)
		select {
		case frames := <-sub.Received():
			var env struct {
				Topic string          `json:"topic"`
				Msg   json.RawMessage `json:"msg"`
				I     int             `json:"i"`
			}
			if len(frames) != 2 || json.Unmarshal([]byte(frames[1]), &env) != nil {
				t.Fatalf("fedmsg frames %q", frames)
			}
			if frames[0] != FedoraTopicPrefix+ev.Topic || env.Topic != frames[0] || !sameJSON(t, env.Msg, json.RawMessage(ev.Fedora)) {
				t.Errorf("fedmsg %s %s, sent %s %s", frames[0], env.Msg, ev.Topic, ev.Fedora)
			}
			km, err := build.DecodeMessage(frames[0], "", []byte(frames[1]))
			if err != nil || km.Kind != wantKinds[i] {
				t.Errorf("fedmsg %s decodes as %v, %v", frames[0], km.Kind, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fedmsg message %d never came", i)
		}
	}
}
