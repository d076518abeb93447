package koji

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics exports the latency and faults of hub calls:
// mts_koji_call_duration_seconds, mts_koji_faults_total and
// mts_koji_transport_errors_total.
type Metrics struct {
	latency *prometheus.HistogramVec
	faults  *prometheus.CounterVec
	errors  *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: kept, registered nowhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mts_koji_call_duration_seconds",
			Help:    "Koji hub calls, by method (a resend after a broken connection or a new login included).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"method"}),
		faults: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_koji_faults_total", Help: "Faults answered by the Koji hub, by method and fault code.",
		}, []string{"method", "code"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_koji_transport_errors_total", Help: "Koji calls that failed without a fault (network, TLS, HTTP status).",
		}, []string{"method"}),
	}
}

// WithMetrics records every call in m, and the faults of the tagBuild
// calls a multiCall carries.
func WithMetrics(m *Metrics) Option {
	return func(o *options) {
		o.observer = m.Observe
		o.faultObserver = m.ObserveFault
	}
}

// ObserveFault counts the fault of a call made inside a multiCall, whose
// time is the multiCall's.
func (m *Metrics) ObserveFault(method string, err error) {
	if code := FaultCode(err); code != 0 {
		m.faults.WithLabelValues(method, strconv.Itoa(code)).Inc()
	}
}

// Observe records one hub call.
func (m *Metrics) Observe(method string, d time.Duration, err error) {
	m.latency.WithLabelValues(method).Observe(d.Seconds())
	if err == nil {
		return
	}
	if code := FaultCode(err); code != 0 {
		m.faults.WithLabelValues(method, strconv.Itoa(code)).Inc()
		return
	}
	m.errors.WithLabelValues(method).Inc()
}
