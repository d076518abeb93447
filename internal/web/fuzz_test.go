package web_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/fedora-modularity/mts/internal/web"
)

// FuzzParseFilter feeds the API's query parser any query string: it
// returns a filter or an error, never panics. The seeds run as a test.
func FuzzParseFilter(f *testing.F) {
	for _, q := range []string{
		"build=nodejs:12&outcome=unmatched,error&since=7d&limit=10",
		"build=1234", "since=2026-11-30T08:00:00Z", "since=36h", "since=-1d", "since=d",
		"limit=0", "limit=1001", "limit=x", "outcome=,,", "build=%00", "rule=a&rule=b",
	} {
		f.Add(q)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := web.ParseFilter(q, now)
		if err == nil && (fl.Limit < 0 || fl.Limit > 1000) {
			t.Fatalf("limit %d accepted", fl.Limit)
		}
	})
}
