package bus

import (
	"context"
	"errors"
)

// ProbeAll tries every broker once with try (a deployment check that
// consumes nothing) and returns every failure, joined.
func ProbeAll[E any](ctx context.Context, eps []E, try func(context.Context, E) error) error {
	var errs []error
	for _, ep := range eps {
		if err := try(ctx, ep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ProbeAny tries the brokers in turn until one answers try; when none
// does, it returns every failure, joined.
func ProbeAny[E any](ctx context.Context, eps []E, try func(context.Context, E) error) error {
	var errs []error
	for _, ep := range eps {
		err := try(ctx, ep)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
