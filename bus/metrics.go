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
	// LinksReplaced counts receiving links replaced by fresh ones, by
	// reason: "overrun" (the broker sent more than the credit), "idle" (a
	// link with room delivered nothing for a while) and "stalled" (the
	// fresh link of an idle one delivered at once: the old one had lost
	// its credit while messages waited).
	LinksReplaced *prometheus.CounterVec
	connected     *prometheus.GaugeVec
	credit        *prometheus.GaugeVec
	unsettled     *prometheus.GaugeVec
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
	MetricLinksReplaced = "mts_bus_links_replaced_total"
	MetricLinkCredit    = "mts_bus_link_credit"
	MetricUnsettled     = "mts_bus_unsettled_messages"
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
		Malformed:     counter(MetricMalformed, "Messages that were not events of the kind their topic or input names; they are logged and acknowledged."),
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
	replaced := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricLinksReplaced,
		Help: "Receiving links replaced by fresh ones, by reason (overrun, idle, stalled).",
	}, []string{"bus", "reason"})
	m.LinksReplaced = register(reg, replaced).MustCurryWith(prometheus.Labels{"bus": busName})
	m.credit = registerGauge(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricLinkCredit,
		Help: "Messages the broker may still send on the receiving link, by the consumer's count.",
	}, []string{"bus"}))
	m.unsettled = registerGauge(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricUnsettled,
		Help: "Messages received and not yet settled: handed to a worker or waiting for one.",
	}, []string{"bus"}))
	return m
}

// SetCredit records the link credit the broker holds by the consumer's
// count and the messages received and not yet settled.
func (m *Metrics) SetCredit(credit, unsettled float64) {
	m.credit.WithLabelValues(m.busName).Set(credit)
	m.unsettled.WithLabelValues(m.busName).Set(unsettled)
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
