// Package testenv lets integration tests find the real services they need
// (brokers, Apache httpd, a Kerberos KDC) and decide what to do when one is
// missing: skip on a developer's machine, fail in CI.
// It is for tests only: no production package imports it.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI, where a missing service is a
// failure rather than a reason to skip.
func InCI() bool {
	return os.Getenv("CI") != ""
}

// Missing reports that a service the test needs is not available. Under CI
// it fails the test; elsewhere it skips it, so that `go test ./...` stays
// usable on a machine without the services installed.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("required service missing (CI is set): "+format, args...)
	}
	tb.Skipf("service missing (run internal/testenv/run-tests.sh to install it): "+format, args...)
}
