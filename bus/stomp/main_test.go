package stomp

import (
	"net"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/testenv"
)

// The package's tests share one ActiveMQ broker, started here, and the
// machine's RabbitMQ STOMP plugin.
var activeMQ = &testenv.SharedBroker[*testenv.ActiveMQ]{
	Name: "activemq", Available: testenv.ActiveMQAvailable, Start: testenv.StartActiveMQ,
	Stop: (*testenv.ActiveMQ).Stop,
}

const rabbitSTOMP = "127.0.0.1:61613"

func TestMain(m *testing.M) { testenv.MainWithBroker(m, activeMQ) }

func needActiveMQ(t testing.TB) *testenv.ActiveMQ {
	t.Helper()
	return activeMQ.Need(t)
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
