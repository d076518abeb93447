// Package amqp connects the service to fedora-messaging: AMQP 0-9-1 on
// RabbitMQ. The consumer reads a durable queue of its own bound to the
// topic exchange, so events sent while the service is down wait for it;
// the publisher sends persistent JSON messages with fedora-messaging's
// headers and waits for the broker's confirm.
// It must not read mts's configuration (internal/app maps it) or decide
// what an event means.
package amqp

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus"
)

// Defaults, following Fedora's deployment.
const (
	DefaultURL         = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultExchange    = "amq.topic"
	DefaultQueue       = "mts"
	DefaultBinding     = "org.fedoraproject.prod.mbs.module.state.change"
	DefaultTopicPrefix = "org.fedoraproject.prod.mts"
	DefaultPrefetch    = 16
	// DefaultSchema names the fedora-messaging message class consumers
	// use to parse the body; base.message accepts any JSON object.
	DefaultSchema = "base.message"
	// SeverityInfo is fedora-messaging's INFO severity (Python logging's
	// level number).
	SeverityInfo = 20
)

// Config describes the broker and the queue.
type Config struct {
	// URL is amqp:// or amqps://user:pass@host:port/vhost.
	URL string
	// CertFile and KeyFile are an optional PEM client certificate, CAFile
	// optional PEM CAs, for amqps://. With a certificate the login uses
	// the EXTERNAL mechanism, as Fedora's broker expects.
	CertFile, KeyFile, CAFile string
	// Exchange is the topic exchange, amq.topic by default.
	Exchange string
	// ExchangeDecl, when set, declares Exchange before the queue is bound
	// to it (fedora-messaging's [exchanges]); amq.topic needs none.
	ExchangeDecl *ExchangeDecl
	// PublishExchange is where messages are published, Exchange by
	// default (fedora-messaging's publish_exchange).
	PublishExchange string
	// Queue is the queue the consumer declares and reads.
	Queue string
	// QueueDecl says how Queue is declared; nil means durable, neither
	// exclusive nor auto-deleted, the only kind that keeps the events
	// sent while mts is down.
	QueueDecl *QueueDecl
	// PassiveDeclares only checks that the exchange and queue exist, for
	// brokers where the service may not declare (fedora-messaging's
	// passive_declares).
	PassiveDeclares bool
	// ClientProperties are added to the connection's client properties
	// (fedora-messaging's [client_properties]).
	ClientProperties map[string]any
	// Bindings are the routing keys (topics) bound to Queue, read as MBS
	// events unless the key names another kind.
	Bindings []string
	// Inputs are more routing keys bound to Queue, each with the kind its
	// messages are read as when the key names none: Koji's topics
	// (org.fedoraproject.prod.buildsys.tag, ...) beside MBS's.
	Inputs []bus.Input
	// Prefetch bounds unacknowledged messages (basic.qos).
	Prefetch int
	// TopicPrefix is put before published topics.
	TopicPrefix string
	// ParkingQueue, when set, is the durable queue Park sends events the
	// service gave up on to (parking_queue), through the default
	// exchange; otherwise ParkingRoutingKey (parking_routing_key) is
	// used on Exchange. With neither the publisher cannot park.
	ParkingQueue      string
	ParkingRoutingKey string
	// Schema is sent as fedora_messaging_schema.
	Schema string
	// Heartbeat is the AMQP heart-beat interval, 10s by default.
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff space out reconnections (200ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds one TCP connection attempt, 10s by default.
	ConnectTimeout time.Duration
}

// ExchangeDecl is how an exchange is declared.
type ExchangeDecl struct {
	Type                string
	Durable, AutoDelete bool
	Arguments           map[string]any
}

// QueueDecl is how a queue is declared.
type QueueDecl struct {
	Durable, AutoDelete, Exclusive bool
	Arguments                      map[string]any
}

func (c Config) resolve() (Config, *amqp.Config, error) {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return c, nil, fmt.Errorf("amqp: URL: %w", err)
	}
	if c.Exchange == "" {
		c.Exchange = DefaultExchange
	}
	if c.PublishExchange == "" {
		c.PublishExchange = c.Exchange
	}
	if c.QueueDecl == nil {
		c.QueueDecl = &QueueDecl{Durable: true}
	}
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if len(c.Bindings) == 0 {
		c.Bindings = []string{DefaultBinding}
	}
	if c.Prefetch == 0 {
		c.Prefetch = DefaultPrefetch
	}
	if c.Prefetch < 0 || c.Prefetch > 65535 {
		return c, nil, fmt.Errorf("amqp: prefetch %d out of range", c.Prefetch)
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	bus.OrDefault(&c.Heartbeat, 10*time.Second)
	bus.Redials(&c.ConnectTimeout, &c.MinBackoff, &c.MaxBackoff)
	if err := bus.CheckClientCert(c.CertFile, c.KeyFile); err != nil {
		return c, nil, fmt.Errorf("amqp: %w", err)
	}
	ac := &amqp.Config{
		Heartbeat: c.Heartbeat,
		Dial:      amqp.DefaultDial(c.ConnectTimeout),
		Properties: amqp.Table{
			"connection_name": "mts",
			"product":         "mts",
		},
	}
	for k, v := range c.ClientProperties {
		ac.Properties[k] = v
	}
	if c.CertFile != "" || c.CAFile != "" {
		t, err := bus.ClientTLS(nil, c.CertFile, c.KeyFile, c.CAFile)
		if err != nil {
			return c, nil, fmt.Errorf("amqp: %w", err)
		}
		if c.CertFile != "" {
			ac.SASL = []amqp.Authentication{&amqp.ExternalAuth{}}
		}
		ac.TLSClientConfig = t
	}
	return c, ac, nil
}

// headerInt reads an integer header whatever integer type the sender's
// client chose: Python's pika sends int32 for small numbers.
func headerInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > 1<<63-1 {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}
