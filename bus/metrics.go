package bus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the counters every bus implementation keeps, labelled with
// the bus name ("stomp", "fedmsg", "amqp"). A consumer and a publisher of
// the same process share one registry, so registering a family twice
// reuses the first registration instead of failing.
type Metrics struct {
	Received      prometheus.Counter
	Malformed     prometheus.Counter
	Reconnects    prometheus.Counter
	Published     prometheus.Counter
	PublishErrors prometheus.Counter
	Duplicates    prometheus.Counter
	Gaps          prometheus.Counter
	connected     *prometheus.GaugeVec
	busName       string
}

// Metric names, exported so that dashboards and tests can refer to them.
const (
	MetricReceived      = "mts_bus_received_messages_total"
	MetricMalformed     = "mts_bus_malformed_messages_total"
	MetricReconnects    = "mts_bus_reconnects_total"
	MetricPublished     = "mts_bus_published_messages_total"
	MetricPublishErrors = "mts_bus_publish_failures_total"
	MetricDuplicates    = "mts_bus_duplicates_dropped_total"
	MetricGaps          = "mts_bus_fedmsg_gaps_total"
	MetricConnected     = "mts_bus_connected"
)

// NewMetrics registers (or reuses) the bus metric families on reg and
// returns the counters for busName. A nil reg keeps the metrics
// unregistered.
func NewMetrics(reg prometheus.Registerer, busName string) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"bus"})
		return register(reg, vec).WithLabelValues(busName)
	}
	m := &Metrics{
		Received:      counter(MetricReceived, "Messages received from the bus, malformed ones included."),
		Malformed:     counter(MetricMalformed, "Messages that were not MBS events; they are logged and acknowledged."),
		Reconnects:    counter(MetricReconnects, "Connections re-established after the previous one was lost."),
		Published:     counter(MetricPublished, "Messages the broker confirmed taking."),
		PublishErrors: counter(MetricPublishErrors, "Publish calls that failed."),
		Duplicates:    counter(MetricDuplicates, "Messages dropped because their message id was already seen."),
		busName:       busName,
	}
	gaps := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricGaps,
		Help: "Jumps in a fedmsg sender's message counter: messages sent but never received.",
	}, []string{"bus"})
	m.Gaps = register(reg, gaps).WithLabelValues(busName)
	connected := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricConnected,
		Help: "1 while the consumer holds a live connection to its broker.",
	}, []string{"bus"})
	m.connected = registerGauge(reg, connected)
	return m
}

// SetConnected records the consumer's connection state.
func (m *Metrics) SetConnected(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.connected.WithLabelValues(m.busName).Set(v)
}

func register(reg prometheus.Registerer, vec *prometheus.CounterVec) *prometheus.CounterVec {
	if reg == nil {
		return vec
	}
	if err := reg.Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		// A clash with a different metric type is a programming error the
		// caller cannot recover from; keep counting, unregistered.
		return vec
	}
	return vec
}

func registerGauge(reg prometheus.Registerer, vec *prometheus.GaugeVec) *prometheus.GaugeVec {
	if reg == nil {
		return vec
	}
	if err := reg.Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing
			}
		}
	}
	return vec
}
