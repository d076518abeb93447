package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-modularity/mts/bus/amqp"
	"github.com/fedora-modularity/mts/bus/bustest"
	"github.com/fedora-modularity/mts/internal/config"
)

// TestEndToEndAMQPInputs runs the service with amqp_inputs binding Koji's
// fedora-messaging topics beside MBS's to its one queue: Koji's events
// are consumed and acknowledged side by side with MBS's, and the MBS
// event is still tagged.
func TestEndToEndAMQPInputs(t *testing.T) {
	rb := newRabbit(t, "mts-inputs-test-")
	koji := strings.TrimSuffix(rb.inKey, "mbs.module.state.change") + "buildsys."
	hub, m := newHub(t), newMBS(t)
	cfg := baseConfig(t, busNames{}, hub, m)
	cfg.MessagingBackend = config.BackendFedoraMessaging
	cfg.AMQPURL, cfg.AMQPQueue, cfg.AMQPRoutingKeys, cfg.AMQPTopicPrefix = machineRabbit, rb.queue, []string{rb.inKey}, rb.prefix
	cfg.AMQPInputs = config.Inputs{
		{Address: koji + "tag", Field: "routing_key"},
		{Address: koji + "untag", Field: "routing_key"},
		{Address: koji + "build.state.change", Field: "routing_key"},
	}
	startApp(t, cfg)
	for key, body := range map[string]string{"tag": bustest.FedoraTag, "untag": bustest.FedoraUntag, "build.state.change": bustest.FedoraStateChange} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := rb.ch.PublishWithContext(ctx, amqp.DefaultExchange, koji+key, false, false, amqp091.Publishing{
			ContentType: "application/json", DeliveryMode: amqp091.Persistent, Body: []byte(body),
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	ev := javaEvent(1, "ready")
	addJava(hub, m, ev)
	rb.send(t, ev)
	timeout := time.After(20 * time.Second)
	for tagged := false; !tagged; {
		select {
		case d := <-rb.announcements:
			tagged = d.RoutingKey == rb.prefix+".build.tag.requested" && parseAnnouncement(t, d.Body).Build.ID == 1
		case <-timeout:
			t.Fatal("no build.tag.requested for the MBS event")
		}
	}
	eventually(t, 10*time.Second, "the queue empty", func() bool {
		q, err := rb.ch.QueueDeclarePassive(rb.queue, true, false, false, false, nil)
		return err == nil && q.Messages == 0
	})
}
