package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgress(t *testing.T) {
	var w lockedBuilder
	stop := showProgress(context.Background(), &w, "linting", 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.String(), "mts: linting...") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	got := w.String()
	if !strings.HasPrefix(got, "\rmts: linting... ") || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("progress wrote %q, want the line and then its erasure", got)
	}

	// Work that ends before the wait shows nothing.
	var quiet lockedBuilder
	showProgress(context.Background(), &quiet, "linting", time.Hour)()
	if quiet.String() != "" {
		t.Errorf("quick work wrote %q", quiet.String())
	}
}
