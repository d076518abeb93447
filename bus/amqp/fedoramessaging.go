package amqp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EnvFedoraMessagingConf names fedora-messaging's configuration file, as
// fedora-messaging itself reads it.
const EnvFedoraMessagingConf = "FEDORA_MESSAGING_CONF"

// DefaultFedoraMessagingFile is where fedora-messaging looks without
// FEDORA_MESSAGING_CONF.
const DefaultFedoraMessagingFile = "/etc/fedora-messaging/config.toml"

// ErrTransientQueue is wrapped when a fedora-messaging file declares the
// consumer's queue exclusive, auto-deleted or not durable and that was not
// allowed.
var ErrTransientQueue = errors.New("transient queue")

// FedoraMessaging is the part of a fedora-messaging configuration file
// (config.toml) that concerns a consumer: the broker, TLS files, the
// client properties, the exchanges, queues and bindings to declare and
// the prefetch. Keys that only mean something to fedora-messaging's own
// Python runtime (callback, consumer_config, log_config) are accepted and
// ignored.
type FedoraMessaging struct {
	// File is where the configuration was read from.
	File string `toml:"-"`

	AMQPURL          string                `toml:"amqp_url"`
	ClientProperties map[string]any        `toml:"client_properties"`
	PublishExchange  string                `toml:"publish_exchange"`
	TopicPrefix      string                `toml:"topic_prefix"`
	PassiveDeclares  bool                  `toml:"passive_declares"`
	Exchanges        map[string]FMExchange `toml:"exchanges"`
	Queues           map[string]FMQueue    `toml:"queues"`
	Bindings         []FMBinding           `toml:"bindings"`
	QoS              FMQoS                 `toml:"qos"`
	TLS              FMTLS                 `toml:"tls"`
	Callback         string                `toml:"callback"`
	ConsumerConfig   map[string]any        `toml:"consumer_config"`
	LogConfig        map[string]any        `toml:"log_config"`
}

// FMExchange is one [exchanges.NAME] table.
type FMExchange struct {
	Type       string         `toml:"type"`
	Durable    *bool          `toml:"durable"`
	AutoDelete bool           `toml:"auto_delete"`
	Arguments  map[string]any `toml:"arguments"`
}

// FMQueue is one [queues.NAME] table.
type FMQueue struct {
	Durable    *bool          `toml:"durable"`
	AutoDelete bool           `toml:"auto_delete"`
	Exclusive  bool           `toml:"exclusive"`
	Arguments  map[string]any `toml:"arguments"`
}

// FMBinding is one [[bindings]] entry.
type FMBinding struct {
	Queue       string         `toml:"queue"`
	Exchange    string         `toml:"exchange"`
	RoutingKeys []string       `toml:"routing_keys"`
	Arguments   map[string]any `toml:"arguments"`
}

// FMQoS is the [qos] table.
type FMQoS struct {
	PrefetchSize  int `toml:"prefetch_size"`
	PrefetchCount int `toml:"prefetch_count"`
}

// FMTLS is the [tls] table.
type FMTLS struct {
	CACert   string `toml:"ca_cert"`
	KeyFile  string `toml:"keyfile"`
	CertFile string `toml:"certfile"`
}

// FedoraMessagingFile says which fedora-messaging file applies: the
// configured one (fedora_messaging_config), else FEDORA_MESSAGING_CONF,
// else /etc/fedora-messaging/config.toml when it exists. Empty means none.
func FedoraMessagingFile(configured string, lookupEnv func(string) (string, bool), exists func(string) bool) string {
	if configured != "" {
		return configured
	}
	if v, ok := lookupEnv(EnvFedoraMessagingConf); ok && v != "" {
		return v
	}
	if exists(DefaultFedoraMessagingFile) {
		return DefaultFedoraMessagingFile
	}
	return ""
}

// LoadFedoraMessaging reads a fedora-messaging configuration file. An
// unknown key is an error naming the file, line and key, so that a
// misspelt key does not silently fall back to a default.
func LoadFedoraMessaging(path string) (*FedoraMessaging, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fedora-messaging configuration: %w", err)
	}
	return ParseFedoraMessaging(path, data)
}

// ParseFedoraMessaging reads the TOML data of a file named name.
func ParseFedoraMessaging(name string, data []byte) (*FedoraMessaging, error) {
	f := &FedoraMessaging{File: name}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			var msgs []string
			for _, e := range strict.Errors {
				row, _ := e.Position()
				msgs = append(msgs, fmt.Sprintf("%s:%d: %s: unknown key", name, row, strings.Join(e.Key(), ".")))
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		case errors.As(err, &de):
			row, col := de.Position()
			key := strings.Join(de.Key(), ".")
			if key != "" {
				return nil, fmt.Errorf("%s:%d:%d: %s: %w", name, row, col, key, err)
			}
			return nil, fmt.Errorf("%s:%d:%d: %w", name, row, col, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Apply fills what c leaves empty from the file: mts's own amqp_* keys
// win where both are set. The queue consumed is c.Queue when set,
// otherwise the file's only queue; its bindings are the file's bindings
// of that queue, or, when c names another queue, those of the file's only
// queue (so that a durable queue of mts's own replaces a transient one).
// A queue the file declares exclusive, auto-deleted or not durable loses
// every event sent while mts is down: it is refused unless
// allowTransient.
func (f *FedoraMessaging) Apply(c Config, allowTransient bool) (Config, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", f.File, fmt.Sprintf(format, args...))
	}
	if c.URL == "" {
		c.URL = f.AMQPURL
	}
	if c.CAFile == "" {
		c.CAFile = f.TLS.CACert
	}
	if c.CertFile == "" && c.KeyFile == "" {
		c.CertFile, c.KeyFile = f.TLS.CertFile, f.TLS.KeyFile
	}
	if c.ClientProperties == nil {
		c.ClientProperties = f.ClientProperties
	}
	if c.PublishExchange == "" {
		c.PublishExchange = f.PublishExchange
	}
	if c.TopicPrefix == "" && f.TopicPrefix != "" {
		// fedora-messaging puts topic_prefix before every topic an
		// application publishes; mts's topics are "mts.<event>".
		c.TopicPrefix = f.TopicPrefix + ".mts"
	}
	if f.QoS.PrefetchSize != 0 {
		return c, bad("qos.prefetch_size: %d: RabbitMQ supports only 0", f.QoS.PrefetchSize)
	}
	if f.QoS.PrefetchCount > 0 {
		c.Prefetch = f.QoS.PrefetchCount
	}

	names := make([]string, 0, len(f.Queues))
	for name := range f.Queues {
		names = append(names, name)
	}
	slices.Sort(names)
	fileQueue := ""
	if len(names) == 1 {
		fileQueue = names[0]
	}
	switch {
	case c.Queue != "":
	case fileQueue != "":
		c.Queue = fileQueue
	case len(names) > 1:
		return c, bad("[queues] lists %s: mts reads one queue; set amqp_queue to choose", strings.Join(names, ", "))
	}
	if q, ok := f.Queues[c.Queue]; ok {
		transient := q.Exclusive || q.AutoDelete || (q.Durable != nil && !*q.Durable)
		if transient && !allowTransient {
			return c, fmt.Errorf("%s: queues.%s: %w: the queue is exclusive, auto-deleted or not durable, so every "+
				"event sent while mts is down is lost; declare it durable = true, auto_delete = false, exclusive = false, "+
				"or set amqp_queue to a durable queue of mts's own, or set allow_transient_queue: true to accept the loss",
				f.File, c.Queue, ErrTransientQueue)
		}
		c.QueueDecl = &QueueDecl{
			Durable: q.Durable == nil || *q.Durable, AutoDelete: q.AutoDelete, Exclusive: q.Exclusive,
			Arguments: q.Arguments,
		}
	}
	c.PassiveDeclares = c.PassiveDeclares || f.PassiveDeclares

	if len(c.Bindings) == 0 {
		from := c.Queue
		if !f.hasBindings(from) && fileQueue != "" {
			from = fileQueue
		}
		for i, b := range f.Bindings {
			if b.Queue != from {
				continue
			}
			if len(b.Arguments) > 0 {
				return c, bad("bindings[%d].arguments: header bindings are not supported", i)
			}
			if c.Exchange == "" {
				c.Exchange = b.Exchange
			} else if b.Exchange != c.Exchange {
				return c, bad("bindings[%d].exchange: %q: the queue's bindings name exchanges %q and %q; mts binds one",
					i, b.Exchange, c.Exchange, b.Exchange)
			}
			c.Bindings = append(c.Bindings, b.RoutingKeys...)
		}
	}
	if x, ok := f.Exchanges[c.Exchange]; ok && c.Exchange != "" {
		c.ExchangeDecl = &ExchangeDecl{
			Type: x.Type, Durable: x.Durable == nil || *x.Durable, AutoDelete: x.AutoDelete,
			Arguments: x.Arguments,
		}
		if c.ExchangeDecl.Type == "" {
			c.ExchangeDecl.Type = "topic"
		}
	}
	return c, nil
}

func (f *FedoraMessaging) hasBindings(queue string) bool {
	for _, b := range f.Bindings {
		if b.Queue == queue {
			return true
		}
	}
	return false
}
