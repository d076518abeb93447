package bus

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Options carries what every bus implementation takes besides its own
// configuration: where to log and where to register metrics.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Option sets one of the Options.
type Option func(*Options)

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *Options) { o.Logger = l }
}

// WithRegisterer sets where metrics are registered; without it the metrics
// are kept but registered nowhere.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *Options) { o.Registerer = r }
}

// ApplyOptions resolves opts over the defaults.
func ApplyOptions(opts []Option) Options {
	var o Options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Named resolves opts for one end of the bus called name: its logger,
// which names the bus (and attrs), and the bus's metrics.
func Named(opts []Option, name string, attrs ...any) (*slog.Logger, *Metrics) {
	o := ApplyOptions(opts)
	return o.Logger.With(append([]any{"bus", name}, attrs...)...), NewMetrics(o.Registerer, name)
}
