package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
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
	// OutcomeBuildInfoError: the rules on a Koji event's kind read more
	// of the build than its message carried, and the hub does not know
	// the build (or, in --dev, no hub is asked); nothing done.
	OutcomeBuildInfoError = "build_info_error"
	// OutcomeLoopStopped: a Koji event made by the service's own user
	// would have been one reaction too many on its build
	// (max_reaction_hops); nothing done.
	OutcomeLoopStopped = "loop_stopped"
	// OutcomeParked: held longer than retry_give_up_after, the event went
	// to the parking destination.
	OutcomeParked = "parked"
	// OutcomeUnsettled: the service stopped before the event's outcome;
	// it stays unacknowledged and the broker delivers it again.
	OutcomeUnsettled = "unsettled"
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
	depUp          *prometheus.GaugeVec
	held           prometheus.Gauge
	heldTime       prometheus.Histogram
	heldTotal      prometheus.Histogram
	parked         *prometheus.CounterVec
	lookup         prometheus.Histogram
	cancelled      prometheus.Counter
	buildInfo      *prometheus.CounterVec
	loopStops      prometheus.Counter
	untagRefused   prometheus.Counter
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
			Help:    "Time from receiving an event to acknowledging it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "mts_events_in_flight", Help: "Events received and not yet settled.",
		}),
		alreadyTagged: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_tag_already_tagged_total", Help: "tagBuild calls not made because the build was already in the tag (redelivered events).",
		}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_retries_total", Help: "Transient failures after which an event was held to try again, by dependency.",
		}, []string{"dependency"}),
		modulemdErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_modulemd_errors_total", Help: "Events whose modulemd could not be had or read.",
		}),
		depUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mts_dependency_up", Help: "1 while the dependency answers, 0 while events wait for it.",
		}, []string{"dependency"}),
		held: f.NewGauge(prometheus.GaugeOpts{
			Name: "mts_events_held", Help: "Events held, unacknowledged, until a dependency answers again.",
		}),
		heldTime: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mts_event_held_seconds",
			Help:    "How long an event waited for a dependency, each time it was held.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 10),
		}),
		heldTotal: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mts_event_held_total_seconds",
			Help:    "From the first hold to the acknowledgement, for events that were held.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 10),
		}),
		parked: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_events_parked_total", Help: "Events sent to the parking destination after retry_give_up_after, by the dependency they waited for.",
		}, []string{"dependency"}),
		lookup: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "mts_tag_lookup_duration_seconds",
			Help:    "The look at the hub (tag listing and pending tasks, one multiCall) before tagBuild, per event.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		cancelled: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_tag_tasks_cancelled_total", Help: "tagBuild tasks of ours cancelled before they ran: another process started one for the same build at the same moment.",
		}),
		buildInfo: f.NewCounterVec(prometheus.CounterOpts{
			Name: "mts_koji_build_info_fetches_total",
			Help: "Builds asked of the hub (getBuild and getBuildType) because a Koji event's rules read more than its message carried, by result (ok, not_found, refused; a transient failure is counted in mts_retries_total).",
		}, []string{"result"}),
		loopStops: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_reaction_loop_stops_total", Help: "Koji events not acted on: their build had max_reaction_hops consecutive reactions to the service's own tags and untags (a rule loop?).",
		}),
		untagRefused: f.NewCounter(prometheus.CounterOpts{
			Name: "mts_untag_refused_total", Help: "untagBuild calls refused with a fault Koji will not change its mind about (not allowed, locked tag, unknown tag).",
		}),
	}
}
