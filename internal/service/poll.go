package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fedora-modularity/mts/koji"
)

// poller asks the hub, once a tick, about every task that an event waits
// on, in one request: the hub's work grows with the ticks, not with the
// events waiting.
type poller struct {
	tagger   Tagger
	every    time.Duration
	stopping <-chan struct{}

	mu      sync.Mutex
	waiting map[int][]chan pollAnswer
	running bool
}

type pollAnswer struct {
	task *koji.Task
	err  error
}

func newPoller(t Tagger, every time.Duration, stopping <-chan struct{}) *poller {
	return &poller{tagger: t, every: every, stopping: stopping, waiting: map[int][]chan pollAnswer{}}
}

// state returns the task's state at the next tick. A task the hub does
// not know is an error wrapping koji.ErrNotFound.
func (p *poller) state(ctx context.Context, id int) (*koji.Task, error) {
	ch := make(chan pollAnswer, 1)
	p.mu.Lock()
	p.waiting[id] = append(p.waiting[id], ch)
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	var err error
	select {
	case a := <-ch:
		return a.task, a.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.stopping:
		err = errStopping
	}
	p.mu.Lock()
	p.waiting[id] = slices.DeleteFunc(p.waiting[id], func(c chan pollAnswer) bool { return c == ch })
	if len(p.waiting[id]) == 0 {
		delete(p.waiting, id)
	}
	p.mu.Unlock()
	return nil, err
}

// run ticks while events wait.
func (p *poller) run() {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		batch := p.waiting
		p.waiting = map[int][]chan pollAnswer{}
		if len(batch) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		ids := make([]int, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.every+time.Minute)
		tasks, err := p.tagger.TaskStates(ctx, ids)
		cancel()
		for i, id := range ids {
			a := pollAnswer{err: err}
			if err == nil {
				a.task = tasks[i]
				if a.task == nil {
					a.err = fmt.Errorf("koji: no such task %d: %w", id, koji.ErrNotFound)
				}
			}
			for _, ch := range batch[id] {
				ch <- a
			}
		}
	}
}
