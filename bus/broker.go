package bus

import (
	"errors"
	"strings"
	"time"
)

// Broker is the kind of broker behind UMB's buses (STOMP and AMQP 1.0):
// it picks the dialect, the addresses and the defaults.
type Broker string

// Broker kinds.
const (
	// ActiveMQ is Red Hat's UMB (ActiveMQ 5 or Artemis).
	ActiveMQ Broker = "activemq"
	// RabbitMQ is RabbitMQ with its STOMP or AMQP 1.0 plugin.
	RabbitMQ Broker = "rabbitmq"
)

// Defaults of UMB, from the reference service's configuration.
const (
	// UMBQueue is the consumer queue of MBS's virtual topic.
	UMBQueue = "Consumer.client-mts.queue.VirtualTopic.eng.mbs.module.state.change"
	// UMBTopicPrefix is put before the topics mts publishes.
	UMBTopicPrefix = "VirtualTopic.eng.mts"
)

// ErrNoBroker is a broker list with no broker in it.
var ErrNoBroker = errors.New("no broker URI configured")

// ParseBrokers parses every broker of uris, each entry of which may itself
// be a comma-separated list (as rhmsg_brokers and MTS_STOMP_URI give it),
// with parse; blanks are skipped, and an empty list is ErrNoBroker.
func ParseBrokers[E any](uris []string, parse func(string) (E, error)) ([]E, error) {
	var eps []E
	for _, list := range uris {
		for _, s := range strings.Split(list, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			ep, err := parse(s)
			if err != nil {
				return nil, err
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil, ErrNoBroker
	}
	return eps, nil
}

// CheckClientCert refuses a client certificate without its key, or a key
// without its certificate.
func CheckClientCert(certFile, keyFile string) error {
	if (certFile == "") != (keyFile == "") {
		return errors.New("a client certificate needs both the certificate and the key file")
	}
	return nil
}

// Durations every broker connection has, by default: one connection
// attempt is bounded by DefaultConnectTimeout, and reconnection rounds are
// spaced from DefaultMinBackoff up to DefaultMaxBackoff.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultMinBackoff     = 200 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
)

// Redials fills the connect timeout and the backoff bounds a
// configuration leaves at zero or below with their defaults.
func Redials(connectTimeout, minBackoff, maxBackoff *time.Duration) {
	OrDefault(connectTimeout, DefaultConnectTimeout)
	OrDefault(minBackoff, DefaultMinBackoff)
	OrDefault(maxBackoff, DefaultMaxBackoff)
}

// OrDefault sets *d to def when it is zero or below.
func OrDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
