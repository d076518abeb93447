package config

import (
	"strings"
	"testing"
	"time"
)

func TestDeliveryKeys(t *testing.T) {
	base := "rules: [r.yaml]\nmessaging_backend: rhmsg\nrhmsg_brokers: [a:1]\n"
	tests := []struct {
		name, yaml, err string
	}{
		{"never give up by default", "", ""},
		{"give up needs a parking place", "retry_give_up_after: 2h\n", "retry_give_up_after: needs parking_queue or parking_routing_key"},
		{"give up with a parking queue", "retry_give_up_after: 2h\nparking_queue: mts.parked\n", ""},
		{"negative give up", "retry_give_up_after: -1s\n", "retry_give_up_after: must not be negative"},
		{"old retry_attempts still loads", "retry_attempts: 5\n", ""},
		{"task poll", "koji_task_poll_interval: 0s\n", "koji_task_poll_interval: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			if err := c.LoadBytes("f.yaml", []byte(base+tt.yaml)); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
	c := Defaults()
	if c.RetryGiveUpAfter != 0 || c.TaskPollInterval.D() != time.Second {
		t.Errorf("defaults: give up %v, poll %v", c.RetryGiveUpAfter.D(), c.TaskPollInterval.D())
	}
}
