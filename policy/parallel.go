package policy

import (
	"runtime"
	"sync"
)

// Parallel calls fn(i) for every i in [0, n) on one worker per processor
// and returns when all are done. Loading, compiling and linting large rule
// sets each run their per-rule work through it, one phase after the
// other, never one pool inside another.
func Parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	// Work is handed out in chunks: per-rule work is a few microseconds,
	// too little to pay a channel operation each.
	const chunk = 64
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				start := next
				next += chunk
				mu.Unlock()
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}
