package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// progressAfter is how long work runs before progress is shown.
const progressAfter = 2 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress shows, on stderr when it is a terminal, that long work is
// still going: after a few seconds, one line updated every second. The
// returned function stops it and clears the line; it may be called more
// than once.
func progress(c *cli.Context, what string) func() {
	if !isTerminal(c.App.ErrWriter) {
		return func() {}
	}
	return showProgress(c.Context, c.App.ErrWriter, what, progressAfter)
}

// showProgress writes the progress line to w after the first wait.
func showProgress(ctx context.Context, w io.Writer, what string, after time.Duration) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		start := time.Now()
		shown := false
		t := time.NewTimer(after)
		defer t.Stop()
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-ctx.Done():
				if shown {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				shown = true
				fmt.Fprintf(w, "\rmts: %s... %s", what, time.Since(start).Truncate(time.Second))
				t.Reset(time.Second)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-stopped
	}
}
