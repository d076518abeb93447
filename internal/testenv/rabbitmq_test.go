package testenv

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestRabbitMQStartRestart(t *testing.T) {
	if err := RabbitMQAvailable(); err != nil {
		Missing(t, "rabbitmq-server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := StartRabbitMQ(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if err := r.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", time.Since(start))
	c, err := net.Dial("tcp", r.STOMPAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
