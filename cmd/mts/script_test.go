package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mts": func() { os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scripts of testdata/script. Each script
// starts with a copy of the repository's rules/ (with its tests) and
// testdata/modulemd under $WORK/repo. UPDATE_SCRIPTS=1 rewrites the
// expected outputs that scripts compare with cmp.
//
// Besides testscript's own commands, scripts have:
//
//	status CODE PROG ARGS...   run PROG and check its exit code exactly
//	signal SIG CODE PROG ARGS...  start PROG, send SIG (INT or TERM) once
//	                           it has run for a moment, and check that it
//	                           exits with CODE soon after (see cmdSignal)
//	genrules N FILE            write a legacy rule file of N rules
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			for _, dir := range []string{"rules", "testdata/modulemd", "testdata/events", "testdata/koji"} {
				if err := copyTree(filepath.Join("..", "..", dir), filepath.Join(env.WorkDir, "repo", dir)); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":   cmdStatus,
			"signal":   cmdSignal,
			"genrules": cmdGenrules,
		},
	})
}

func exitCodeOf(ts *testscript.TestScript, err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	ts.Fatalf("%v", err)
	return -1
}

func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := exitCodeOf(ts, ts.Exec(args[1], args[2:]...))
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: signal INT|TERM CODE PROG ARGS...")
	}
	sig := map[string]os.Signal{"INT": os.Interrupt, "TERM": syscall.SIGTERM}[args[0]]
	if sig == nil {
		ts.Fatalf("unknown signal %q", args[0])
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	path, err := exec.LookPath(args[2])
	ts.Check(err)
	cmd := exec.Command(path, args[3:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = os.Environ()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Standard input stays open and silent, as a terminal would.
	stdinR, stdinW, err := os.Pipe()
	ts.Check(err)
	defer stdinW.Close()
	cmd.Stdin = stdinR
	ts.Check(cmd.Start())
	stdinR.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ts.Fatalf("%s ended before the signal (%v): %s", args[2], err, stderr.String())
	case <-time.After(700 * time.Millisecond):
	}
	ts.Check(cmd.Process.Signal(sig))
	sent := time.Now()
	select {
	case err := <-done:
		took := time.Since(sent)
		ts.Logf("stopped %v after the signal", took.Round(time.Millisecond))
		if got := exitCodeOf(ts, err); got != want {
			ts.Fatalf("%s exited %d after SIG%s, want %d\nstderr: %s", args[2], got, args[0], want, stderr.String())
		}
		// The contract is a second (the process ends itself half a
		// second after the signal); the bound leaves room for a machine
		// shared with other builds.
		if took > 2*time.Second {
			ts.Fatalf("%s took %v to stop", args[2], took)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		ts.Fatalf("%s did not stop within 5s of SIG%s", args[2], args[0])
	}
}

func cmdGenrules(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: genrules N FILE")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- id: rule %d\n  type: module\n  rule:\n    name: '^mod%d-(?P<x>[a-z]+)$'\n  destinations: 'f\\g<x>-%d'\n", i, i, i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o644))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
