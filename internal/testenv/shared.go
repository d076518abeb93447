package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// SharedBroker is a broker all the tests of a package share, which its
// TestMain starts once with MainWithBroker.
type SharedBroker[B any] struct {
	Name string
	// Available says why the machine cannot run the broker, nil when it can.
	Available func() error
	Start     func(ctx context.Context, dir string) (B, error)
	Stop      func(B)

	broker  B
	started bool
	err     error
}

// MainWithBroker runs m's tests around s: it starts the broker in a
// temporary directory when the machine has it, runs the tests, stops the
// broker and exits. A broker that is installed but does not start is a
// failure.
func MainWithBroker[B any](m *testing.M, s *SharedBroker[B]) {
	dir, err := os.MkdirTemp("", "mts-"+s.Name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if s.err = s.Available(); s.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		s.broker, s.err = s.Start(ctx, dir)
		cancel()
		if s.err != nil {
			fmt.Fprintln(os.Stderr, s.Name+":", s.err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		s.started = true
	}
	code := m.Run()
	if s.started {
		s.Stop(s.broker)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// Need is the shared broker, or, when the machine has none, Missing.
func (s *SharedBroker[B]) Need(tb testing.TB) B {
	tb.Helper()
	if !s.started {
		Missing(tb, "%s: %v", s.Name, s.err)
	}
	return s.broker
}

// Get is the shared broker, and whether it runs.
func (s *SharedBroker[B]) Get() (B, bool) { return s.broker, s.started }
