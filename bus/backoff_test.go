package bus

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	tests := []struct {
		name     string
		b        Backoff
		min, max time.Duration
	}{
		{"zero value", Backoff{}, 100 * time.Millisecond, 30 * time.Second},
		{"configured", Backoff{Min: 50 * time.Millisecond, Max: time.Second}, 50 * time.Millisecond, time.Second},
		{"max below min", Backoff{Min: time.Second, Max: time.Millisecond}, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			if d := b.Next(); d < tt.min/2 || d > tt.min {
				t.Fatalf("first delay %v, want within [%v, %v]", d, tt.min/2, tt.min)
			}
			var last time.Duration
			for range 40 {
				last = b.Next()
				if last > tt.max {
					t.Fatalf("delay %v above the cap %v", last, tt.max)
				}
			}
			if last < tt.max/2 {
				t.Fatalf("after 40 steps the delay is %v, want at least %v", last, tt.max/2)
			}
			b.Reset()
			if d := b.Next(); d > tt.min {
				t.Fatalf("after Reset the delay is %v, want at most %v", d, tt.min)
			}
		})
	}
}
