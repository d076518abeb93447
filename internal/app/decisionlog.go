package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/fedora-modularity/mts/internal/decision"
)

// decisionLog is the decision_log: one JSON line per decision, a
// service.Recorder. A failed write holds the event like any dependency.
type decisionLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *decisionLog) Record(_ context.Context, r decision.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("decision log: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("decision log: %w", err)
	}
	return nil
}
