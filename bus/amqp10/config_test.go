package amqp10

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	amqp "github.com/Azure/go-amqp"
)

func TestParseURIs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Endpoint
		err  string
	}{
		{in: "amqps://broker01.example.com:5671, amqps://broker02.example.com", want: []Endpoint{
			{Addr: "broker01.example.com:5671", Host: "broker01.example.com", TLS: true},
			{Addr: "broker02.example.com:5671", Host: "broker02.example.com", TLS: true},
		}},
		{in: "amqp://127.0.0.1", want: []Endpoint{{Addr: "127.0.0.1:5672", Host: "127.0.0.1"}}},
		{in: "amqp+ssl://[::1]:5999", want: []Endpoint{{Addr: "[::1]:5999", Host: "::1", TLS: true}}},
		{in: "stomp+ssl://host:61612", err: "want amqp:// or amqps://"},
		{in: "amqps://user:secret@host", err: "rhmsg_login"},
		{in: "amqps://:5671", err: "host is required"},
	} {
		got, err := ParseURIs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%q: error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestAddresses(t *testing.T) {
	none, slashQueue := "", "/amq/queue/"
	for _, tc := range []struct {
		name       string
		cfg        Config
		queue, pub string
	}{
		{"activemq", Config{}, "queue://" + DefaultQueue, "topic://VirtualTopic.eng.mts.build.tag.requested"},
		{"rabbitmq", Config{Broker: RabbitMQ, Queue: "mts"}, "/queue/mts", "/topic/VirtualTopic.eng.mts.build.tag.requested"},
		{"no prefixes", Config{QueueAddressPrefix: &none, TopicAddressPrefix: &none, Queue: "q", TopicPrefix: "x"},
			"q", "x.build.tag.requested"},
		{"own queue prefix", Config{Broker: RabbitMQ, QueueAddressPrefix: &slashQueue, Queue: "q"},
			"/amq/queue/q", "/topic/VirtualTopic.eng.mts.build.tag.requested"},
		{"queue spelt with its prefix", Config{Queue: "queue://Consumer.x.VirtualTopic.y"},
			"queue://Consumer.x.VirtualTopic.y", "topic://VirtualTopic.eng.mts.build.tag.requested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.URIs = []string{"amqp://localhost"}
			r, err := tc.cfg.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if got := r.queueAddress(); got != tc.queue {
				t.Errorf("queue address %q, want %q", got, tc.queue)
			}
			if got := r.topicAddress("build.tag.requested"); got != tc.pub {
				t.Errorf("topic address %q, want %q", got, tc.pub)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no broker URI"},
		{Config{URIs: []string{"amqp://h"}, Broker: "qpidd"}, "unknown broker kind"},
		{Config{URIs: []string{"amqp://h"}, CertFile: "c.pem"}, "both the certificate and the key"},
		{Config{URIs: []string{"amqp://h"}, Prefetch: MaxPrefetch + 1}, "prefetch"},
		{Config{URIs: []string{"amqps://h"}, CAFile: "/nonexistent/ca.pem"}, "CA file"},
	} {
		if _, err := tc.cfg.resolve(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestPayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  amqp.Message
		want string
		err  error
	}{
		{"data", amqp.Message{Data: [][]byte{[]byte(`{"id":1}`)}}, `{"id":1}`, nil},
		{"data sections", amqp.Message{Data: [][]byte{[]byte(`{"id"`), []byte(`:1}`)}}, `{"id":1}`, nil},
		{"string value", amqp.Message{Value: `{"id":1}`}, `{"id":1}`, nil},
		{"binary value", amqp.Message{Value: []byte(`{"id":1}`)}, `{"id":1}`, nil},
		{"map value", amqp.Message{Value: map[string]any{"id": 1}}, "", errBody},
		{"no body", amqp.Message{}, "", errBody},
	} {
		got, err := payload(&tc.msg)
		if !errors.Is(err, tc.err) || string(got) != tc.want {
			t.Errorf("%s: got %q, %v", tc.name, got, err)
		}
	}
}
