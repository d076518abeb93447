package app

import (
	"github.com/fedora-modularity/mts/bus"
	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/bus/fedmsg"
	"github.com/fedora-modularity/mts/bus/stomp"
	"github.com/fedora-modularity/mts/internal/config"
)

// backend builds the two ends of one messaging backend from the
// configuration. A publisher that can also park events (bus.Parker) is
// used for retry_give_up_after.
type backend struct {
	consumer  func(cfg *config.Config, opts ...bus.Option) (bus.Consumer, error)
	publisher func(cfg *config.Config, opts ...bus.Option) (bus.Publisher, error)
}

// backends is the table of messaging backends, by messaging_backend.
func backends() map[string]backend {
	return map[string]backend{
		config.BackendRhmsg: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				return stomp.NewConsumer(stompConfig(c), o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				return stomp.NewPublisher(stompConfig(c), o...)
			},
		},
		config.BackendFedoraMessaging: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				return amqp.NewConsumer(amqpConfig(c), o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				return amqp.NewPublisher(amqpConfig(c), o...)
			},
		},
		config.BackendFedmsg: {
			consumer: func(c *config.Config, o ...bus.Option) (bus.Consumer, error) {
				return fedmsg.NewConsumer(fedmsgConfig(c), o...)
			},
			publisher: func(c *config.Config, o ...bus.Option) (bus.Publisher, error) {
				return fedmsg.NewPublisher(fedmsgConfig(c), o...)
			},
		},
	}
}

func stompConfig(c *config.Config) stomp.Config {
	return stomp.Config{
		URIs: c.RhmsgBrokers, CertFile: c.RhmsgCertificate, KeyFile: c.RhmsgPrivateKey,
		CAFile: c.RhmsgCACert, Login: c.RhmsgLogin, Passcode: c.RhmsgPasscode,
		Broker: stomp.Broker(c.RhmsgBrokerType), Queue: c.RhmsgQueue, Topic: c.RhmsgTopic,
		TopicPrefix: c.RhmsgTopicPrefix, Prefetch: min(c.Workers, stomp.MaxPrefetch),
		ParkingQueue: c.ParkingQueue,
	}
}

func amqpConfig(c *config.Config) amqp.Config {
	return amqp.Config{
		URL: c.AMQPURL, CertFile: c.AMQPCertificate, KeyFile: c.AMQPPrivateKey, CAFile: c.AMQPCACert,
		Queue: c.AMQPQueue, Bindings: c.AMQPRoutingKeys, Prefetch: c.Workers,
		TopicPrefix: c.AMQPTopicPrefix, ParkingQueue: c.ParkingQueue, ParkingRoutingKey: c.ParkingRoutingKey,
	}
}

func fedmsgConfig(c *config.Config) fedmsg.Config {
	return fedmsg.Config{
		Endpoints: c.FedmsgEndpoints, Topics: c.FedmsgTopics,
		PublishEndpoint: c.FedmsgPublishEndpoint, TopicPrefix: c.FedmsgTopicPrefix,
		ParkingTopic: c.ParkingRoutingKey,
	}
}
