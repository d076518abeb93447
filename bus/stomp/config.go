// Package stomp connects the service to a STOMP broker: Red Hat's UMB
// (ActiveMQ, where the service reads its own consumer queue of a virtual
// topic) or RabbitMQ's STOMP plugin (a durable named queue bound to a
// topic). It keeps one connection per consumer and a small pool of them
// per publisher, fails over across the configured brokers and reconnects
// with backoff, since the STOMP client library never reconnects by itself.
// It must not read mts's configuration (internal/app maps it) or decide
// what an event means.
package stomp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fedora-modularity/mts/bus"
)

// Broker selects the broker's dialect: on ActiveMQ (Red Hat's UMB)
// consumers read a virtual topic's consumer queue (a NACK would move a
// message to ActiveMQ.DLQ, so mts sends none); on RabbitMQ's STOMP plugin
// they subscribe to /topic/<routing key> with a durable named queue.
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
	// DefaultRabbitTopic is the routing key a RabbitMQ consumer binds its
	// queue to: where MBS sends on UMB.
	DefaultRabbitTopic = "VirtualTopic.eng.mbs.module.state.change"
	// MaxPrefetch bounds unacknowledged messages per subscription. The
	// client library hands messages over through a 16-slot channel and
	// drops the connection when it overflows.
	MaxPrefetch = 16
	// DefaultConnections and MaxConnections bound a Publisher's
	// connections.
	DefaultConnections = 4
	MaxConnections     = 16
)

// Config describes the brokers and what to read and write on them.
type Config struct {
	// URIs lists the brokers, tried in turn: "host:port",
	// "stomp://host:port", "stomp+ssl://host:port" or "ssl://host:port".
	// An entry may itself be a comma-separated list, as MTS_STOMP_URI and
	// rhmsg_brokers give it. A bare host:port uses TLS when CertFile is set.
	URIs []string
	// CertFile and KeyFile are the PEM client certificate and key
	// (MTS_STOMP_CRT, MTS_STOMP_KEY; rhmsg_certificate, rhmsg_private_key).
	CertFile, KeyFile string
	// CAFile is a PEM bundle of CAs to trust for the brokers
	// (rhmsg_ca_cert); empty means the system's.
	CAFile string
	// TLSConfig, when set, is the base TLS configuration (cloned); the
	// files above are added to it.
	TLSConfig *tls.Config
	// Login and Passcode are sent in CONNECT when Login is set.
	Login, Passcode string
	// VirtualHost is CONNECT's host header. RabbitMQ refuses any but an
	// existing virtual host, so it defaults to "/" there; ActiveMQ defaults
	// to the broker's host name.
	VirtualHost string
	// Broker is the dialect, ActiveMQ by default.
	Broker Broker
	// Queue is the queue consumed (rhmsg_queue): on ActiveMQ the consumer
	// queue of the virtual topic, on RabbitMQ the durable queue's name.
	Queue string
	// Topic is, on RabbitMQ only, the routing key the queue is bound to.
	Topic string
	// Inputs are more destinations read beside Queue (or Topic), each
	// with the kind its messages are read as when their destination names
	// none. On ActiveMQ an address is a queue (a virtual topic's consumer
	// queue, such as Consumer.mts.VirtualTopic.eng.brew.build.complete);
	// on RabbitMQ a routing key bound to Queue. An address starting with
	// "/" is a destination used as it is.
	Inputs []bus.Input
	// Prefetch bounds unacknowledged messages, 1 to MaxPrefetch (default).
	Prefetch int
	// TopicPrefix is put before published topics (rhmsg_topic_prefix).
	TopicPrefix string
	// ParkingQueue is where Park sends events the service gave up on
	// (parking_queue); empty: the publisher cannot park.
	ParkingQueue string
	// Connections is how many connections a Publisher keeps, 1 to
	// MaxConnections, DefaultConnections by default. The client library
	// waits for a message's receipt holding its connection, so one
	// connection carries one message at a time: more connections let
	// concurrent publishes wait for their receipts together.
	Connections int
	// HeartBeat is the interval asked of the broker in both directions;
	// 10s by default, negative disables heart-beats. The client library
	// also stops waiting for a receipt after one interval, so it must be
	// longer than the broker's slowest answer.
	HeartBeat time.Duration
	// HeartBeatMargin is how much earlier than HeartBeat the client sends
	// its heart-beats, and how much later than HeartBeat the broker's may
	// arrive, so that a busy consumer is not cut off for one late beat;
	// half of HeartBeat by default.
	HeartBeatMargin time.Duration
	// ConnectTimeout bounds one connection attempt (TCP, TLS and STOMP
	// CONNECT); 10s by default.
	ConnectTimeout time.Duration
	// ReceiptTimeout bounds the wait for the broker's receipt of a
	// published message or an acknowledgement; 30s by default.
	ReceiptTimeout time.Duration
	// MinBackoff and MaxBackoff space out reconnection rounds; 200ms and
	// 30s by default.
	MinBackoff, MaxBackoff time.Duration
}

// Endpoint is one broker address.
type Endpoint struct {
	Addr string // host:port
	TLS  bool
}

// ParseURIs splits and parses a comma-separated broker list. tlsDefault
// says whether a bare host:port uses TLS.
func ParseURIs(list string, tlsDefault bool) ([]Endpoint, error) {
	eps, err := bus.ParseBrokers([]string{list}, parser(tlsDefault))
	if errors.Is(err, bus.ErrNoBroker) {
		return nil, nil
	}
	return eps, err
}

func parser(tlsDefault bool) func(string) (Endpoint, error) {
	return func(s string) (Endpoint, error) { return parseURI(s, tlsDefault) }
}

func parseURI(s string, tlsDefault bool) (Endpoint, error) {
	ep := Endpoint{TLS: tlsDefault}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		switch strings.ToLower(scheme) {
		case "stomp", "tcp":
			ep.TLS = false
		case "stomp+ssl", "ssl", "stomp+tls", "tls", "stomps":
			ep.TLS = true
		case "amqp", "amqps", "amqp+ssl":
			// The rhmsg backend gives these to the AMQP 1.0 bus
			// (bus/amqp10); here they can only be mixed with STOMP ones.
			return Endpoint{}, fmt.Errorf("broker URI %q: an AMQP 1.0 broker; list only AMQP 1.0 or only STOMP brokers", s)
		default:
			return Endpoint{}, fmt.Errorf("broker URI %q: unknown scheme %q", s, scheme)
		}
		s = rest
	}
	// Failover URIs sometimes carry options or a path; only host:port counts.
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("broker URI %q: %w", s, err)
	}
	if host == "" || port == "" {
		return Endpoint{}, fmt.Errorf("broker URI %q: host and port are required", s)
	}
	ep.Addr = net.JoinHostPort(host, port)
	return ep, nil
}

// resolved is a validated Config with its defaults filled in.
type resolved struct {
	Config
	endpoints []Endpoint
	tls       *tls.Config
}

func (c Config) resolve() (*resolved, error) {
	r := &resolved{Config: c}
	if r.Broker == "" {
		r.Broker = ActiveMQ
	}
	if r.Broker != ActiveMQ && r.Broker != RabbitMQ {
		return nil, fmt.Errorf("stomp: unknown broker kind %q", r.Broker)
	}
	if err := bus.CheckClientCert(r.CertFile, r.KeyFile); err != nil {
		return nil, fmt.Errorf("stomp: %w", err)
	}
	var err error
	if r.endpoints, err = bus.ParseBrokers(r.URIs, parser(r.CertFile != "")); err != nil {
		return nil, fmt.Errorf("stomp: %w", err)
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	if r.Topic == "" {
		r.Topic = DefaultRabbitTopic
	}
	if r.TopicPrefix == "" {
		r.TopicPrefix = DefaultTopicPrefix
	}
	if r.Prefetch == 0 {
		r.Prefetch = MaxPrefetch
	}
	if r.Prefetch < 1 || r.Prefetch > MaxPrefetch {
		return nil, fmt.Errorf("stomp: prefetch %d out of range 1..%d", r.Prefetch, MaxPrefetch)
	}
	if r.Connections == 0 {
		r.Connections = DefaultConnections
	}
	if r.Connections < 1 || r.Connections > MaxConnections {
		return nil, fmt.Errorf("stomp: connections %d out of range 1..%d", r.Connections, MaxConnections)
	}
	if r.VirtualHost == "" && r.Broker == RabbitMQ {
		r.VirtualHost = "/"
	}
	if r.HeartBeat == 0 {
		r.HeartBeat = 10 * time.Second
	}
	if r.HeartBeat < 0 {
		r.HeartBeat = 0
	}
	if r.HeartBeatMargin == 0 {
		r.HeartBeatMargin = r.HeartBeat / 2
	}
	bus.OrDefault(&r.ReceiptTimeout, 30*time.Second)
	bus.Redials(&r.ConnectTimeout, &r.MinBackoff, &r.MaxBackoff)
	needTLS := false
	for _, ep := range r.endpoints {
		needTLS = needTLS || ep.TLS
	}
	if needTLS {
		t, err := r.tlsConfig()
		if err != nil {
			return nil, err
		}
		r.tls = t
	}
	return r, nil
}

func (r *resolved) tlsConfig() (*tls.Config, error) {
	t, err := bus.ClientTLS(r.TLSConfig, r.CertFile, r.KeyFile, r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("stomp: %w", err)
	}
	return t, nil
}
