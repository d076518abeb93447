// Command mts is the Message Tagging Service: it tags module builds in Koji
// according to rules, and carries the tools rule authors use to check them.
// It only parses flags, signals and exit codes: everything that runs the
// pipeline or touches the outside is assembled in internal/app, and every
// output is written by internal/report.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

// isGraceful tells the commands that stop on their own after a signal,
// taking the time they need (serve finishes the events in flight), and
// exit 0 when they stopped cleanly.
func isGraceful(cmd *cli.Command) bool { return cmd != nil && cmd.Name == "serve" }

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:        "mts",
		Usage:       "tag module builds in Koji according to rules",
		Version:     Version(),
		HideVersion: true,
		Reader:      stdin,
		Writer:      stdout,
		ErrWriter:   stderr,
		// Errors are printed once, by run, with the right exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				return printVersion(c)
			}
			return &exitError{code: 2, err: errors.New("give a command")}
		},
		Commands: commands(),
	}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return &exitError{code: 2, err: err}
	}
	prepare(app.Commands)
	return app
}

func printVersion(c *cli.Context) error {
	_, err := fmt.Fprintf(c.App.Writer, "mts %s\n", c.App.Version)
	return err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print the version",
		Action: func(c *cli.Context) error { return errors.Join(noArgs(c), printVersion(c)) },
	}
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var sig signals
	ctx, stop := sig.notify(ctx)
	defer stop()
	app := newApp(stdin, stdout, stderr)
	args, cmd, err := reorder(app, args)
	if err != nil {
		return exitCode(app, nil, stderr, err)
	}
	if !isGraceful(cmd) {
		// A command that does not stop in time after a signal is ended,
		// so that every command stops within a second.
		go func() {
			<-ctx.Done()
			if code := sig.code(); code > 0 {
				time.Sleep(stopGrace)
				os.Exit(code)
			}
		}()
	}
	err = app.RunContext(ctx, args)
	if code := sig.code(); code > 0 && (!isGraceful(cmd)) {
		return code
	}
	return exitCode(app, cmd, stderr, err)
}

// exitCode prints err as the conventions say and returns the exit code;
// cmd is the command that ran, whose usage a usage error shows.
func exitCode(app *cli.App, cmd *cli.Command, stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		fmt.Fprintln(stderr, "mts:", err)
		return 1
	}
	if msg := ee.Error(); msg != "" {
		fmt.Fprintln(stderr, "mts:", msg)
	}
	if ee.code == 2 {
		if ee.usage == nil {
			ee.usage = cmd
		}
		printUsage(stderr, app, ee.usage)
	}
	return ee.code
}

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// commands are mts's commands, in the order help lists them.
func commands() []*cli.Command {
	return []*cli.Command{
		versionCommand(),
		serveCommand(),
		evalCommand(),
		explainCommand(),
		compileCommand(),
		lintCommand(),
		testCommand(),
		diffCommand(),
		whyCommand(),
		replayCommand(),
		kojiCommand(),
		completionCommand(),
		completeCommand(),
		manCommand(),
	}
}
