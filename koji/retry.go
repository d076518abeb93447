package koji

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Hopeless says why err cannot get better by trying again, when the
// error does not make that plain: a host name that does not resolve, a
// TLS verification failure or a refused certificate. It returns "" for
// anything else.
func Hopeless(err error) string {
	var (
		dns  *net.DNSError
		tlsE *TLSError
	)
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Sprintf("host %s does not resolve", dns.Name)
	case errors.As(err, &tlsE):
		return "TLS verification failed or the certificate was refused"
	}
	return ""
}

// Retry runs fn as the koji command-line client runs a call: up to
// 1+MaxRetries times, RetryInterval apart (the profile's max_retries and
// retry_interval), for the `mts koji` commands; the service does not use
// it, its pipeline decides its own retries. onRetry, when set, hears of
// each failure before the wait. Retry gives up at once, with the reason,
// on what cannot get better (see Hopeless), and returns at once what is
// not Retryable.
func Retry(ctx context.Context, cfg *Config, onRetry func(attempt int, wait time.Duration, err error), fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if why := Hopeless(err); why != "" {
			return &GiveUpError{Reason: why, Err: err}
		}
		if !Retryable(err) {
			return err
		}
		if attempt > cfg.MaxRetries {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if onRetry != nil {
			onRetry(attempt, cfg.RetryInterval, err)
		}
		t := time.NewTimer(cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to try again: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// GiveUpError is a call Retry did not try again, and why.
type GiveUpError struct {
	Reason string
	Err    error
}

func (e *GiveUpError) Error() string {
	return fmt.Sprintf("%s (not retried): %v", e.Reason, e.Err)
}

func (e *GiveUpError) Unwrap() error { return e.Err }
