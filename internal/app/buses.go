package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/bus/amqp10"
	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/config"
)

// backend builds the two ends of one messaging backend from the
// configuration. A publisher that can also park events (bus.Parker) is
// used for retry_give_up_after, on the setting parkingOn names: the
// configuration accepts either, and an event parked on a destination
// that is not set would stay held for ever.
//
// check finds, without connecting, what would stop the bus ends from
// starting with the settings as the service merges them (nil when the
// configuration's own checks cover it all); probe is the connection
// `serve --check-config --connect` tries once.
type backend struct {
	consumer  func(cfg *config.Config, opts ...bus.Option) (bus.Consumer, error)
	publisher func(cfg *config.Config, opts ...bus.Option) (bus.Publisher, error)
	parkingOn func(cfg *config.Config) (setting, value string)
	check     func(cfg *config.Config) config.Problems
	probes    func(cfg *config.Config) ([]config.Probe, error)
}

func parkingQueue(c *config.Config) (string, string) { return "parking_queue", c.ParkingQueue }

func parkingRoutingKey(c *config.Config) (string, string) {
	return "parking_routing_key", c.ParkingRoutingKey
}

// backends is the table of messaging backends, by messaging_backend. The
// rhmsg brokers' URIs choose between STOMP and AMQP 1.0.
func backends() map[string]backend {
	return map[string]backend{
		config.BackendRhmsg: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				if c.RhmsgAMQP10() {
					return amqp10.NewConsumer(AMQP10Config(c), o...)
				}
				return stomp.NewConsumer(StompConfig(c), o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				if c.RhmsgAMQP10() {
					return amqp10.NewPublisher(AMQP10Config(c), o...)
				}
				return stomp.NewPublisher(StompConfig(c), o...)
			},
			parkingOn: parkingQueue,
			probes: func(c *config.Config) ([]config.Probe, error) {
				sc, ac := StompConfig(c), AMQP10Config(c)
				return []config.Probe{{Name: "connecting", Key: "rhmsg_brokers", Try: func(ctx context.Context) error {
					if c.RhmsgAMQP10() {
						return amqp10.Probe(ctx, ac)
					}
					return stomp.Probe(ctx, sc)
				}}}, nil
			},
		},
		config.BackendFedoraMessaging: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				ac, err := AMQPConfig(c)
				if err != nil {
					return nil, err
				}
				return amqp.NewConsumer(ac, o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				ac, err := AMQPConfig(c)
				if err != nil {
					return nil, err
				}
				return amqp.NewPublisher(ac, o...)
			},
			// A queue or, when none is set, a routing key.
			parkingOn: func(c *config.Config) (string, string) {
				if c.ParkingQueue != "" {
					return parkingQueue(c)
				}
				return parkingRoutingKey(c)
			},
			check: func(c *config.Config) config.Problems {
				ac, err := mergeFedoraMessaging(c)
				if err != nil {
					return config.Problems{c.KeyProblem("fedora_messaging_config", "%v", err)}
				}
				if err := amqp.Validate(ac); err != nil {
					// Where amqp_url is not set, the URL came from the file.
					key := "amqp_url"
					if c.AMQPURL == "" {
						key = "fedora_messaging_config"
					}
					return config.Problems{c.KeyProblem(key, "%v", err)}
				}
				return nil
			},
			probes: func(c *config.Config) ([]config.Probe, error) {
				ac, err := AMQPConfig(c)
				if err != nil {
					return nil, err
				}
				return []config.Probe{{Name: "connecting", Key: "amqp_url", Try: func(ctx context.Context) error {
					return amqp.Probe(ctx, ac)
				}}}, nil
			},
		},
		config.BackendFedmsg: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				return fedmsg.NewConsumer(fedmsgConfig(c), o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				return fedmsg.NewPublisher(fedmsgConfig(c), o...)
			},
			// fedmsg has no queues: a topic under the prefix.
			parkingOn: parkingRoutingKey,
			probes: func(c *config.Config) ([]config.Probe, error) {
				var probes []config.Probe
				for _, e := range c.FedmsgEndpoints {
					probes = append(probes, dialProbe("fedmsg_endpoints", e))
				}
				return probes, nil
			},
		},
	}
}

// NewPublisher is the publishing end of the configured bus alone, for
// tools that announce without consuming (`mts replay --apply`).
func NewPublisher(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (bus.Publisher, error) {
	b, ok := backends()[cfg.MessagingBackend]
	if !ok {
		return nil, fmt.Errorf("messaging_backend %s: not available in this build", cfg.MessagingBackend)
	}
	return b.publisher(cfg, bus.WithLogger(log), bus.WithRegisterer(reg))
}

// StompConfig is the rhmsg backend on STOMP brokers.
func StompConfig(c *config.Config) stomp.Config {
	return stomp.Config{
		URIs: c.RhmsgBrokers, CertFile: c.RhmsgCertificate, KeyFile: c.RhmsgPrivateKey,
		CAFile: c.RhmsgCACert, Login: c.RhmsgLogin, Passcode: c.RhmsgPasscode,
		Broker: stomp.Broker(c.RhmsgBrokerType), Queue: c.RhmsgQueue, Topic: c.RhmsgTopic,
		Inputs:      busInputs(c.RhmsgInputs),
		TopicPrefix: c.RhmsgTopicPrefix, Prefetch: min(c.Workers, stomp.MaxPrefetch),
		ParkingQueue: c.ParkingQueue,
	}
}

// AMQP10Config is the rhmsg backend on AMQP 1.0 brokers (amqps://), as the
// newest reference's rhmsg speaks to UMB.
func AMQP10Config(c *config.Config) amqp10.Config {
	return amqp10.Config{
		URIs: c.RhmsgBrokers, CertFile: c.RhmsgCertificate, KeyFile: c.RhmsgPrivateKey,
		CAFile: c.RhmsgCACert, Login: c.RhmsgLogin, Password: c.RhmsgPasscode,
		Broker: amqp10.Broker(c.RhmsgBrokerType), Queue: c.RhmsgQueue, Inputs: busInputs(c.RhmsgInputs),
		QueueAddressPrefix: c.RhmsgQueueAddressPrefix, TopicAddressPrefix: c.RhmsgTopicAddressPrefix,
		SubscriptionName: c.RhmsgSubscriptionName, TopicPrefix: c.RhmsgTopicPrefix,
		Prefetch: min(c.Workers, amqp10.MaxPrefetch), ParkingQueue: c.ParkingQueue,
	}
}

// AMQPConfig is the fedora-messaging backend: mts's amqp_* keys, then what
// fedora-messaging's config.toml gives for the keys left empty, then the
// bus's defaults.
func AMQPConfig(c *config.Config) (amqp.Config, error) {
	ac, err := mergeFedoraMessaging(c)
	if err != nil {
		return ac, fmt.Errorf("fedora_messaging_config: %w", err)
	}
	return ac, nil
}

func mergeFedoraMessaging(c *config.Config) (amqp.Config, error) {
	ac := amqp.Config{
		URL: c.AMQPURL, CertFile: c.AMQPCertificate, KeyFile: c.AMQPPrivateKey, CAFile: c.AMQPCACert,
		Queue: c.AMQPQueue, Bindings: c.AMQPRoutingKeys, Inputs: busInputs(c.AMQPInputs), Prefetch: c.Workers,
		TopicPrefix: c.AMQPTopicPrefix, ParkingQueue: c.ParkingQueue, ParkingRoutingKey: c.ParkingRoutingKey,
	}
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }
	file := amqp.FedoraMessagingFile(c.FedoraMessagingConfig, os.LookupEnv, exists)
	if file == "" {
		return ac, nil
	}
	fm, err := amqp.LoadFedoraMessaging(file)
	if err != nil {
		return ac, err
	}
	return fm.Apply(ac, c.AllowTransientQueue)
}

func fedmsgConfig(c *config.Config) fedmsg.Config {
	return fedmsg.Config{
		Endpoints: c.FedmsgEndpoints, Topics: c.FedmsgTopics, Inputs: busInputs(c.FedmsgInputs),
		PublishEndpoint: c.FedmsgPublishEndpoint, TopicPrefix: c.FedmsgTopicPrefix,
		ParkingTopic: c.ParkingRoutingKey,
	}
}

// busInputs are the configuration's inputs as the buses take them.
func busInputs(ins config.Inputs) []bus.Input {
	var out []bus.Input
	for _, in := range ins {
		out = append(out, bus.Input{Address: in.Address, Kind: in.Kind})
	}
	return out
}

// consumerInputs are what the configured bus's consumer reads, the MBS
// queue or topics first, as `serve --check-config` reports them: each
// address and the kind its messages are read as. Nil in development mode
// (events come from a file) or when the bus settings do not resolve (a
// problem the check reports).
func consumerInputs(c *config.Config) []string {
	if c.Dev {
		return nil
	}
	var ins []bus.Input
	var err error
	switch c.MessagingBackend {
	case config.BackendRhmsg:
		if c.RhmsgAMQP10() {
			ins, err = AMQP10Config(c).AllInputs()
		} else {
			ins, err = StompConfig(c).AllInputs()
		}
	case config.BackendFedoraMessaging:
		var ac amqp.Config
		if ac, err = AMQPConfig(c); err == nil {
			ins, err = ac.AllInputs()
		}
	case config.BackendFedmsg:
		ins = fedmsgConfig(c).AllInputs()
	}
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.String())
	}
	return out
}
