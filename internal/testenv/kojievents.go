package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/fedora-modularity/mts/koji/kojitest"
	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Where Koji's messages go, as the hubs that send them are set up.
const (
	// BrewTopicPrefix is Brew's protonmsg topic_prefix on a RabbitMQ
	// broker (on ActiveMQ the same name without "/topic/" is a topic).
	BrewTopicPrefix = "/topic/VirtualTopic.eng.brew"
	// FedoraTopicPrefix is the environment prefix of Fedora's topics
	// (routing keys on amq.topic).
	FedoraTopicPrefix = "org.fedoraproject.prod."
)

// KojiForwarder sends a stand-in Koji hub's messages to a real broker, as
// the hub's plugins would: Forward is the function to give
// kojitest.WithEvents. The hub calls it one message at a time; a message
// the broker did not take is recorded (Err) rather than retried.
type KojiForwarder struct {
	send  func(kojitest.Event) error
	close func()

	mu   sync.Mutex
	errs []error
	sent int
}

// Forward sends one message.
func (f *KojiForwarder) Forward(ev kojitest.Event) {
	err := f.send(ev)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s (seq %d): %w", ev.Address, ev.Seq, err))
		return
	}
	f.sent++
}

// Err is every failure to send so far, nil when there was none.
func (f *KojiForwarder) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// Sent is how many messages the broker took.
func (f *KojiForwarder) Sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

// Close ends the forwarder's connection; call it after the hub stopped
// sending.
func (f *KojiForwarder) Close() { f.close() }

// ForwardProtonmsg sends the hub's messages as Koji's protonmsg plugin
// does, over AMQP 1.0 with a python3-qpid-proton peer (the library the
// plugin uses) connected to url ("amqp://guest:guest@127.0.0.1:PORT"):
// to prefix + "." + the message's address (on RabbitMQ's AMQP 1.0 plugin
// "/topic/X" is amq.topic with routing key X), the JSON body as an AMQP
// string value, the summary as application properties, not durable.
func ForwardProtonmsg(ctx context.Context, dir, url, prefix string) (*KojiForwarder, error) {
	peer, err := StartProtonSender(ctx, dir, url, prefix+".build.complete")
	if err != nil {
		return nil, err
	}
	return &KojiForwarder{
		send: func(ev kojitest.Event) error {
			return peer.SendMessage(ProtonOut{Address: prefix + "." + ev.Address, Body: string(ev.Body),
				Value: true, Properties: ev.Properties})
		},
		close: peer.Stop,
	}, nil
}

// ForwardSTOMP sends the hub's messages in protonmsg's shape over STOMP
// to the broker at addr (ActiveMQ, as UMB), for consumers of virtual
// topics: to "/topic/" + prefix + "." + address (prefix without
// "/topic/", e.g. "VirtualTopic.eng.brew"), the JSON body as a text
// message, each application property as a header (a null one left out),
// not persistent.
func ForwardSTOMP(ctx context.Context, addr, prefix string) (*KojiForwarder, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := stomp.Connect(nc, stomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("stomp %s: %w", addr, err)
	}
	return &KojiForwarder{
		send: func(ev kojitest.Event) error {
			opts := []func(*frame.Frame) error{stomp.SendOpt.NoContentLength,
				stomp.SendOpt.Header("persistent", "false"), stomp.SendOpt.Receipt}
			for k, v := range ev.Properties {
				if v != nil {
					opts = append(opts, stomp.SendOpt.Header(k, fmt.Sprint(v)))
				}
			}
			return conn.Send("/topic/"+prefix+"."+ev.Address, "application/json", ev.Body, opts...)
		},
		close: func() { _ = conn.Disconnect() },
	}, nil
}

// ForwardFedoraMessaging sends the hub's messages as
// koji-fedoramessaging does, over AMQP 0-9-1 to the broker at url: the
// flat JSON body to amq.topic with routing key FedoraTopicPrefix + the
// topic, with fedora-messaging's properties and headers
// (fedora_messaging_schema, fedora_messaging_severity, sent-at,
// priority), persistent, each confirmed by the broker.
func ForwardFedoraMessaging(url string) (*KojiForwarder, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	var mu sync.Mutex // one publish and its confirmation at a time
	return &KojiForwarder{
		send: func(ev kojitest.Event) error {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now().UTC()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "amq.topic", FedoraTopicPrefix+ev.Topic, false, false, amqp.Publishing{
				ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent,
				MessageId: uuid.NewString(), Timestamp: now, Body: ev.Fedora,
				Headers: amqp.Table{
					"fedora_messaging_schema":   FedoraSchema(ev.Topic),
					"fedora_messaging_severity": int32(20),
					"sent-at":                   now.Format("2006-01-02T15:04:05.000000-07:00"),
					"priority":                  int32(0),
				},
			})
			if err != nil {
				return err
			}
			ok, err := dc.WaitContext(ctx)
			if err == nil && !ok {
				err = errors.New("the broker did not confirm the message")
			}
			return err
		},
		close: func() { conn.Close() },
	}, nil
}

// FedoraSchema is the fedora_messaging_schema koji-fedoramessaging's
// messages of a topic carry.
func FedoraSchema(topic string) string {
	switch topic {
	case "buildsys.tag":
		return "koji_fedoramessaging.tag.TagV1"
	case "buildsys.untag":
		return "koji_fedoramessaging.untag.UntagV1"
	case "buildsys.build.state.change":
		return "koji_fedoramessaging.build.BuildStateChangeV1"
	}
	return "base.message"
}

// ForwardFedmsg sends the hub's messages as Fedora's hub did over fedmsg
// before fedora-messaging: a python3-zmq PUB socket bound to endpoint
// ("tcp://127.0.0.1:PORT"), frames topic and envelope, the topic
// FedoraTopicPrefix + the message's topic, the flat body under "msg".
// ZeroMQ drops what no subscriber is connected for yet.
func ForwardFedmsg(ctx context.Context, dir, endpoint string) (*KojiForwarder, error) {
	peer, err := StartZMQPublisher(ctx, dir, endpoint)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	i := 0
	return &KojiForwarder{
		send: func(ev kojitest.Event) error {
			mu.Lock()
			i++
			n := i
			mu.Unlock()
			topic := FedoraTopicPrefix + ev.Topic
			env, err := json.Marshal(map[string]any{
				"topic": topic, "msg": json.RawMessage(ev.Fedora), "i": n,
				"msg_id":    fmt.Sprintf("%d-%s", time.Now().Year(), uuid.NewString()),
				"timestamp": float64(time.Now().UnixNano()) / 1e9, "username": "apache",
			})
			if err != nil {
				return err
			}
			return peer.Send(topic, env)
		},
		close: peer.Stop,
	}, nil
}
