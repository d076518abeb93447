// Package amqp10 connects the service to UMB over AMQP 1.0, as the
// reference's rhmsg backend (Qpid Proton) does: it reads the consumer
// queue with credit-based flow control and settles each message only when
// told, and publishes durable messages to topic addresses, waiting for the
// broker's disposition. It fails over across the configured brokers and
// reconnects with backoff. Addresses are spelt the broker's way:
// queue:// and topic:// on ActiveMQ and Artemis, /queue/ and /topic/ on
// RabbitMQ's AMQP 1.0 plugin, or as configured.
// It must not read mts's configuration (internal/app maps it) or decide
// what an event means.
package amqp10

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/bus"
)

// Broker selects the default address prefixes: queue://NAME and
// topic://NAME on ActiveMQ (UMB, ActiveMQ 5 or Artemis); /queue/NAME and
// /topic/ROUTING-KEY on RabbitMQ's AMQP 1.0 plugin (which sends topics to
// amq.topic).
type Broker = bus.Broker

// Broker kinds.
const (
	ActiveMQ = bus.ActiveMQ
	RabbitMQ = bus.RabbitMQ
)

// Defaults from the reference service's configuration.
const (
	DefaultQueue       = bus.UMBQueue
	DefaultTopicPrefix = bus.UMBTopicPrefix
	DefaultPrefetch    = 16
	// MaxPrefetch bounds the link credit: every credited message may sit
	// in memory before a worker takes it.
	MaxPrefetch = 1024
)

// Config describes the brokers and what to read and write on them.
type Config struct {
	// URIs lists the brokers, tried in turn: "amqps://host:port" (TLS) or
	// "amqp://host:port". An entry may itself be a comma-separated list,
	// as rhmsg_brokers and MTS_STOMP_URI give it. The port defaults to
	// 5671 for amqps and 5672 for amqp.
	URIs []string
	// CertFile and KeyFile are the PEM client certificate and key
	// (rhmsg_certificate, rhmsg_private_key).
	CertFile, KeyFile string
	// CAFile is a PEM bundle of CAs to trust for the brokers
	// (rhmsg_ca_cert); empty means the system's.
	CAFile string
	// TLSConfig, when set, is the base TLS configuration (cloned); the
	// files above are added to it.
	TLSConfig *tls.Config
	// Login and Password are sent with SASL PLAIN when Login is set;
	// otherwise the client offers EXTERNAL (the TLS client certificate)
	// and ANONYMOUS, and the broker picks.
	Login, Password string
	// Broker picks the default address prefixes, ActiveMQ by default.
	Broker Broker
	// QueueAddressPrefix and TopicAddressPrefix, when not nil, replace
	// the broker's prefixes; an empty string means none.
	QueueAddressPrefix, TopicAddressPrefix *string
	// Queue is the queue consumed (rhmsg_queue). A queue that already
	// names its address (queue://..., topic://..., /...) is used as is.
	Queue string
	// Inputs are more source addresses read beside Queue, spelt like it,
	// each with the kind its messages are read as when neither their
	// `to` address nor the source names one. Each has a receiving link
	// (and connection) of its own; Prefetch is shared among them all.
	Inputs []bus.Input
	// SubscriptionName (rhmsg_subscription_name), when set, names the
	// receiving link and the connection's container, and asks for a
	// durable source that outlives the link: a durable subscription when
	// Queue is a topic.
	SubscriptionName string
	// Prefetch is the link credit: how many unsettled messages the broker
	// may send ahead, 1 to MaxPrefetch, DefaultPrefetch by default.
	Prefetch int
	// CreditIdle is how long a receiving link with room for more messages
	// may deliver nothing before it is replaced by a fresh one, which
	// restores credit a broker lost count of; 10s by default.
	CreditIdle time.Duration
	// PublishTimeout bounds one publish, the wait for link credit and for
	// the broker's disposition included; 30s by default.
	PublishTimeout time.Duration
	// TopicPrefix is put before published topics (rhmsg_topic_prefix).
	TopicPrefix string
	// ParkingQueue (parking_queue) receives the events that waited past
	// retry_give_up_after; empty means the publisher cannot park.
	ParkingQueue string
	// IdleTimeout is the longest silence accepted from a broker before
	// the connection counts as dead; the broker is asked to send
	// something at least twice as often. 30s by default.
	IdleTimeout time.Duration
	// ConnectTimeout bounds one connection attempt (TCP, TLS, SASL, open,
	// session and link); 10s by default.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff space out reconnection rounds; 200ms and
	// 30s by default.
	MinBackoff, MaxBackoff time.Duration
}

// Endpoint is one broker address.
type Endpoint struct {
	Addr string // host:port
	Host string // for TLS server name checks
	TLS  bool
}

// ParseURIs splits and parses a comma-separated broker list.
func ParseURIs(list string) ([]Endpoint, error) {
	eps, err := bus.ParseBrokers([]string{list}, parseURI)
	if errors.Is(err, bus.ErrNoBroker) {
		return nil, nil
	}
	return eps, err
}

func parseURI(s string) (Endpoint, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("broker URI %q: %w", s, err)
	}
	var ep Endpoint
	port := "5672"
	switch strings.ToLower(u.Scheme) {
	case "amqp":
	case "amqps", "amqp+ssl":
		ep.TLS, port = true, "5671"
	default:
		return Endpoint{}, fmt.Errorf("broker URI %q: want amqp:// or amqps://", s)
	}
	if u.User != nil {
		// Credentials belong in rhmsg_login and rhmsg_passcode, where
		// they are not printed with the URI in every log line.
		return Endpoint{}, fmt.Errorf("broker URI %q: put the login in rhmsg_login, not in the URI", u.Redacted())
	}
	ep.Host = u.Hostname()
	if ep.Host == "" {
		return Endpoint{}, fmt.Errorf("broker URI %q: host is required", s)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	ep.Addr = net.JoinHostPort(ep.Host, port)
	return ep, nil
}

// resolved is a validated Config with its defaults filled in.
type resolved struct {
	Config
	endpoints   []Endpoint
	tls         *tls.Config
	queuePrefix string
	topicPrefix string
}

func (c Config) resolve() (*resolved, error) {
	r := &resolved{Config: c}
	if r.Broker == "" {
		r.Broker = ActiveMQ
	}
	switch r.Broker {
	case ActiveMQ:
		r.queuePrefix, r.topicPrefix = "queue://", "topic://"
	case RabbitMQ:
		r.queuePrefix, r.topicPrefix = "/queue/", "/topic/"
	default:
		return nil, fmt.Errorf("amqp10: unknown broker kind %q", r.Broker)
	}
	if r.QueueAddressPrefix != nil {
		r.queuePrefix = *r.QueueAddressPrefix
	}
	if r.TopicAddressPrefix != nil {
		r.topicPrefix = *r.TopicAddressPrefix
	}
	if err := bus.CheckClientCert(r.CertFile, r.KeyFile); err != nil {
		return nil, fmt.Errorf("amqp10: %w", err)
	}
	var err error
	if r.endpoints, err = bus.ParseBrokers(r.URIs, parseURI); err != nil {
		return nil, fmt.Errorf("amqp10: %w", err)
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	if r.TopicPrefix == "" {
		r.TopicPrefix = DefaultTopicPrefix
	}
	if r.Prefetch == 0 {
		r.Prefetch = DefaultPrefetch
	}
	if r.Prefetch < 1 || r.Prefetch > MaxPrefetch {
		return nil, fmt.Errorf("amqp10: prefetch %d out of range 1..%d", r.Prefetch, MaxPrefetch)
	}
	bus.OrDefault(&r.IdleTimeout, 30*time.Second)
	bus.OrDefault(&r.PublishTimeout, 30*time.Second)
	bus.OrDefault(&r.CreditIdle, 10*time.Second)
	bus.Redials(&r.ConnectTimeout, &r.MinBackoff, &r.MaxBackoff)
	for _, ep := range r.endpoints {
		if ep.TLS {
			t, err := bus.ClientTLS(r.TLSConfig, r.CertFile, r.KeyFile, r.CAFile)
			if err != nil {
				return nil, fmt.Errorf("amqp10: %w", err)
			}
			r.tls = t
			break
		}
	}
	return r, nil
}

// creditCheck is how often a receiving link's credit is looked at while
// it delivers nothing.
func (r *resolved) creditCheck() time.Duration { return min(time.Second, r.CreditIdle) }

// hasScheme reports whether an address already carries its own prefix.
func hasScheme(addr string) bool {
	return strings.Contains(addr, "://") || strings.HasPrefix(addr, "/")
}

// QueueAddress is the source address the consumer of Queue reads.
func (r *resolved) queueAddress() string { return r.sourceAddress(r.Queue) }

// sourceAddress is the address of a queue (or of an address that already
// names its kind).
func (r *resolved) sourceAddress(queue string) string {
	if hasScheme(queue) {
		return queue
	}
	return r.queuePrefix + queue
}

// AllInputs are the source addresses a consumer reads, Queue (with its
// default) first, each with the kind it is read as.
func (c Config) AllInputs() ([]bus.Input, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	return r.inputs(), nil
}

// inputs are Queue (MBS's unless its name says otherwise) and the
// configured inputs, each with its full source address.
func (r *resolved) inputs() []bus.Input {
	ins := []bus.Input{{Address: r.queueAddress()}}
	for _, in := range r.Inputs {
		ins = append(ins, bus.Input{Address: r.sourceAddress(in.Address), Kind: in.Kind})
	}
	return ins
}

// topicAddress is where a relative topic is published.
func (r *resolved) topicAddress(topic string) string {
	return r.topicPrefix + r.TopicPrefix + "." + topic
}
