package service

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/fedora-modularity/mts/koji"
)

// Outcomes of one event, the values of the outcome label of
// mts_events_total.
const (
	OutcomeMatched   = "matched"
	OutcomeUnmatched = "unmatched"
	// OutcomeSkipped: no rule applies to the event's state.
	OutcomeSkipped = "skipped"
	// OutcomeFiltered: dropped before any rule by build_state_msg_filter,
	// or a scratch build.
	OutcomeFiltered = "filtered"
	// OutcomeRuleError: a rule failed to evaluate; nothing done.
	OutcomeRuleError = "rule_error"
	// OutcomeModulemdError: no usable modulemd for the build (unknown to
	// MBS, or not a valid document); nothing done.
	OutcomeModulemdError = "modulemd_error"
	// OutcomeRequeued: a transient failure outlasted the retries and the
	// event went back to the broker.
	OutcomeRequeued = "requeued"
)

type metrics struct {
	events         *prometheus.CounterVec
	matched        prometheus.Counter
	failedTag      prometheus.Counter
	txFailed       prometheus.Counter
	ruleHits       *prometheus.CounterVec
	ruleErrors     prometheus.Counter
	decision       prometheus.Histogram
	eventDuration  prometheus.Histogram
	inFlight       prometheus.Gauge
	alreadyTagged  prometheus.Counter
	retries        *prometheus.CounterVec
	modulemdErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_events_total",
			Help: "Module build events handled, by outcome.",
		}, []string{"outcome"}),
		// The next three keep the reference service's names, which
		// existing dashboards query.
		matched: f.NewCounter(prometheus.CounterOpts{
			Name: "matched_module_builds_total", Help: "Module builds that matched a rule.",
		}),
		failedTag: f.NewCounter(prometheus.CounterOpts{
			Name: "failed_tag_build_requests_total", Help: "tagBuild calls that failed with a fault Koji will not change its mind about.",
		}),
		txFailed: f.NewCounter(prometheus.CounterOpts{
			Name: "messaging_tx_failed_total", Help: "Publish attempts the bus did not confirm.",
		}),
		ruleHits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_rule_hits_total", Help: "Decisions won by each rule, by rule id.",
		}, []string{"rule_id"}),
		ruleErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_rule_evaluation_errors_total", Help: "Decisions stopped by a rule that failed to evaluate.",
		}),
		decision: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mts_decision_duration_seconds",
			Help:    "Time to evaluate the rules for one build.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
		eventDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mts_event_duration_seconds",
			Help:    "Time from receiving an event to settling it (ack or nack).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "mts_events_in_flight", Help: "Events received and not yet settled.",
		}),
		alreadyTagged: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_tag_already_tagged_total", Help: "tagBuild calls not made because the build was already in the tag (redelivered events).",
		}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_retries_total", Help: "Retries after transient failures, by step (modulemd, koji, publish).",
		}, []string{"step"}),
		modulemdErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_modulemd_errors_total", Help: "Events whose modulemd could not be had or read.",
		}),
	}
}

// KojiMetrics exports the latency and faults of Koji calls. Pass Observe
// to koji.WithObserver.
type KojiMetrics struct {
	latency *prometheus.HistogramVec
	faults  *prometheus.CounterVec
	errors  *prometheus.CounterVec
}

// NewKojiMetrics registers mts_koji_call_duration_seconds,
// mts_koji_faults_total and mts_koji_transport_errors_total on reg.
func NewKojiMetrics(reg prometheus.Registerer) *KojiMetrics {
	f := promauto.With(reg)
	return &KojiMetrics{
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mts_koji_call_duration_seconds",
			Help:    "Koji hub calls, retries included, by method.",
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

// Observe records one hub call.
func (m *KojiMetrics) Observe(method string, d time.Duration, err error) {
	m.latency.WithLabelValues(method).Observe(d.Seconds())
	if err == nil {
		return
	}
	if code := koji.FaultCode(err); code != 0 {
		m.faults.WithLabelValues(method, strconv.Itoa(code)).Inc()
		return
	}
	m.errors.WithLabelValues(method).Inc()
}
