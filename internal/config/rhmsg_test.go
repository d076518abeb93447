package config

import (
	"strings"
	"testing"
)

// TestRhmsgProtocol: the broker URIs choose AMQP 1.0 or STOMP, as the
// newest reference's amqps:// rhmsg_brokers and the 0.5 release's
// host:port lists read.
func TestRhmsgProtocol(t *testing.T) {
	tests := []struct {
		name, yaml string
		amqp10     bool
		err        string
	}{
		{"amqps list", "rhmsg_brokers: ['amqps://broker01.example.com:5671', 'amqps://broker02.example.com:5671']\n", true, ""},
		{"comma-separated amqp", "rhmsg_brokers: ['amqp://a:5672,amqp://b:5672']\n", true, ""},
		{"stomp+ssl", "rhmsg_brokers: ['stomp+ssl://a:61612']\n", false, ""},
		{"host:port", "rhmsg_brokers: ['a:61612', 'b:61612']\n", false, ""},
		{"mixed", "rhmsg_brokers: ['amqps://a:5671', 'stomp+ssl://b:61612']\n", true, "rhmsg_brokers: mixes AMQP 1.0"},
		{"prefixes", "rhmsg_brokers: ['amqps://a']\nrhmsg_queue_address_prefix: ''\nrhmsg_topic_address_prefix: /exchange/amq.topic/\n", true, ""},
		{"prefix with stomp", "rhmsg_brokers: ['a:61612']\nrhmsg_topic_address_prefix: 'topic://'\n", false, "rhmsg_topic_address_prefix: only used with AMQP 1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			if err := c.LoadBytes("mts.yaml", []byte("rules: [r]\nmessaging_backend: rhmsg\n"+tt.yaml)); err != nil {
				t.Fatal(err)
			}
			if got := c.RhmsgAMQP10(); got != tt.amqp10 {
				t.Errorf("RhmsgAMQP10 = %v, want %v", got, tt.amqp10)
			}
			err := c.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
	c := Defaults()
	if err := c.LoadBytes("mts.yaml", []byte("rhmsg_queue_address_prefix: ''\n")); err != nil {
		t.Fatal(err)
	}
	if c.RhmsgQueueAddressPrefix == nil || *c.RhmsgQueueAddressPrefix != "" || c.RhmsgTopicAddressPrefix != nil {
		t.Errorf("an empty prefix must read as set and empty, an absent one as unset: %v %v",
			c.RhmsgQueueAddressPrefix, c.RhmsgTopicAddressPrefix)
	}
}

// TestFedoraMessagingKeys: the amqp_* keys are empty unless set, so that
// they win over fedora-messaging's file only where given.
func TestFedoraMessagingKeys(t *testing.T) {
	c := Defaults()
	if c.AMQPURL != "" || c.AMQPQueue != "" || c.AMQPRoutingKeys != nil || c.AMQPTopicPrefix != "" {
		t.Errorf("amqp_* keys have defaults of their own: %+v", c)
	}
	yaml := "rules: [r]\nfedora_messaging_config: /etc/mts/fm.toml\nallow_transient_queue: true\namqp_url: amqps://h/\n"
	if err := c.LoadBytes("mts.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.FedoraMessagingConfig != "/etc/mts/fm.toml" || !c.AllowTransientQueue {
		t.Errorf("got %+v", c)
	}
	c.AMQPURL = "stomp://h"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "amqp_url") {
		t.Errorf("bad amqp_url: %v", err)
	}
}
