package stomp

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// The package's tests share one ActiveMQ broker, started here, and the
// machine's RabbitMQ STOMP plugin.
var (
	amq    *testenv.ActiveMQ
	amqErr error
)

const rabbitSTOMP = "127.0.0.1:61613"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mts-activemq-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if amqErr = testenv.ActiveMQAvailable(); amqErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		amq, amqErr = testenv.StartActiveMQ(ctx, dir)
		cancel()
		if amqErr != nil {
			// A broker that is installed but does not start is a failure.
			fmt.Fprintln(os.Stderr, "activemq:", amqErr)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	if amq != nil {
		amq.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func needActiveMQ(t testing.TB) *testenv.ActiveMQ {
	t.Helper()
	if amq == nil {
		testenv.Missing(t, "activemq: %v", amqErr)
	}
	return amq
}

func needRabbitSTOMP(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", rabbitSTOMP, 2*time.Second)
	if err != nil {
		testenv.Missing(t, "RabbitMQ STOMP on %s (internal/testenv/services.sh enables it): %v", rabbitSTOMP, err)
	}
	c.Close()
}

func netSplit(addr string) (string, string, error) { return net.SplitHostPort(addr) }
