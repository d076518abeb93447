package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// The conventions every command follows (README, "Commands"):
//
//   - exit 0 on success, 1 when a failure was found, 2 on usage errors,
//     130 after SIGINT and 143 after SIGTERM;
//   - a usage error prints "mts: REASON" and the command's usage on stderr,
//     and nothing on stdout;
//   - flags may come before or after the arguments ("--" ends the flags);
//   - a reporting command takes -o/--format (formatFlag) and writes only
//     the requested output on stdout.
//
// A command returns usageErr (or conflicts, noArgs) or failErr (failed
// when its report already said why) from its Action; run turns them into
// the exit code and the message. Required flags (Required: true) and flag
// values are checked before the Action, as usage errors. c.Context ends on
// the first SIGINT or SIGTERM: a command that waits should watch it, and
// one that does not stop is ended half a second later with 130 or 143
// (isGraceful lists the commands that stop in their own time). Work that
// can take long calls progress.

// version, when set at build time (-ldflags "-X main.version=v1.2.3"),
// overrides the version from the build info.
var version string

// Version is the one version string of this binary: the module version of
// `go install ...@vX`, else the VCS revision a local build was made from.
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel-" + rev + dirty
}

// exitError carries a process exit code through urfave/cli.
type exitError struct {
	code int
	err  error
	// usage is the command whose usage a usage error prints.
	usage *cli.Command
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks a usage error (exit 2).
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// failErr marks a failure found (exit 1).
func failErr(err error) error {
	return &exitError{code: 1, err: err}
}

// failed is exit 1 with nothing more to print: the report said it all.
func failed() error { return &exitError{code: 1} }

// conflicts is a usage error when two flags of a pair are both set.
func conflicts(c *cli.Context, pairs ...[2]string) error {
	for _, p := range pairs {
		if c.IsSet(p[0]) && c.IsSet(p[1]) {
			return usageErr("--%s and --%s cannot be used together", p[0], p[1])
		}
	}
	return nil
}

// noArgs is a usage error when the command was given arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("%s takes no arguments, got %q", c.Command.FullName(), c.Args().First())
	}
	return nil
}

// choiceFlag is a string flag that takes one of a known list of values,
// checked before the command runs and offered by shell completion.
type choiceFlag struct {
	*cli.StringFlag
	choices []string
}

// formatFlag is -o/--format (alias --output) with its allowed values; the
// first value is the default.
func formatFlag(formats ...string) *choiceFlag {
	return &choiceFlag{choices: formats, StringFlag: &cli.StringFlag{
		Name: "format", Aliases: []string{"o", "output"}, Value: formats[0],
		Usage: "output `FORMAT`: " + strings.Join(formats, ", "),
		Action: func(_ *cli.Context, v string) error {
			if !slices.Contains(formats, v) {
				return usageErr("--format must be one of %s, not %q", strings.Join(formats, ", "), v)
			}
			return nil
		},
	}}
}

// prepare applies the conventions to every command: flag errors are usage
// errors naming the command, and required flags are checked without
// urfave printing help on stdout.
func prepare(cmds []*cli.Command) {
	for _, cmd := range cmds {
		var required []string
		for _, f := range cmd.Flags {
			// Every urfave flag type has the field; urfave would answer a
			// missing one with the help on stdout.
			if v := reflect.ValueOf(f); v.Kind() == reflect.Pointer {
				if r := v.Elem().FieldByName("Required"); r.IsValid() && r.Kind() == reflect.Bool && r.Bool() {
					r.SetBool(false)
					required = append(required, f.Names()[0])
				}
			}
		}
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return &exitError{code: 2, err: err, usage: cmd}
		}
		if len(required) > 0 {
			before := cmd.Before
			cmd.Before = func(c *cli.Context) error {
				for _, name := range required {
					if !c.IsSet(name) {
						return &exitError{code: 2, err: fmt.Errorf("--%s is required", name), usage: cmd}
					}
				}
				if before != nil {
					return before(c)
				}
				return nil
			}
		}
		prepare(cmd.Subcommands)
	}
}

// flagKinds tells which flag names are known and which take a value.
func flagKinds(flags []cli.Flag) (known map[string]bool, takesValue map[string]bool) {
	known, takesValue = map[string]bool{}, map[string]bool{}
	for _, f := range flags {
		tv := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			tv = d.TakesValue()
		}
		for _, n := range f.Names() {
			known[n] = true
			takesValue[n] = tv
		}
	}
	return known, takesValue
}

// flagName is the name of a flag argument ("-o", "--format=json" give "o",
// "format"), or "" for an argument that is not a flag.
func flagName(arg string) (name string, inline bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", false
	}
	name = strings.TrimLeft(arg, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		return name[:i], true
	}
	return name, false
}

// helpTopic refuses `mts help X` for an X that is no command.
func helpTopic(app *cli.App, rest []string) error {
	if len(rest) > 0 && findCommand(app.Commands, rest[0]) == nil {
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q", rest[0])}
	}
	return nil
}

// resolve finds the command that args name (subcommands included), the
// words naming it, and what follows them.
func resolve(cmds []*cli.Command, args []string) (cmd *cli.Command, names, rest []string) {
	rest = args
	for len(rest) > 0 {
		next := findCommand(cmds, rest[0])
		if next == nil {
			break
		}
		cmd = next
		names, rest = append(names, rest[0]), rest[1:]
		if len(cmd.Subcommands) == 0 {
			break
		}
		cmds = cmd.Subcommands
	}
	return cmd, names, rest
}

// reorder moves the flags of a command line before its arguments, as the
// flag package wants them, so that `mts lint rules/ --strict` works. It
// also resolves the command: an unknown command is a usage error.
func reorder(app *cli.App, args []string) ([]string, *cli.Command, error) {
	out := []string{args[0]}
	rest := args[1:]
	// Global flags come first.
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		out, rest = append(out, rest[0]), rest[1:]
	}
	if len(rest) > 0 && (rest[0] == "help" || rest[0] == "h") {
		if err := helpTopic(app, rest[1:]); err != nil {
			return nil, nil, err
		}
		return args, nil, nil
	}
	cmd, names, rest := resolve(app.Commands, rest)
	out = append(out, names...)
	if cmd == nil {
		if len(rest) > 0 {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("unknown command %q", rest[0])}
		}
		return out, nil, nil
	}
	if len(cmd.Subcommands) > 0 {
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			return nil, nil, &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd.Name+" "+rest[0]), usage: cmd}
		}
		return append(out, rest...), cmd, nil
	}
	return append(out, flagsFirst(cmd, rest)...), cmd, nil
}

// flagsFirst puts the flags of a command's arguments before the others,
// which follow a "--".
func flagsFirst(cmd *cli.Command, rest []string) []string {
	known, takesValue := flagKinds(cmd.Flags)
	var flags, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		name, inline := flagName(a)
		if name == "" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		if known[name] && takesValue[name] && !inline && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	if len(positional) > 0 {
		flags = append(flags, "--")
		flags = append(flags, positional...)
	}
	return flags
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if slices.Contains(c.Names(), name) {
			return c
		}
	}
	return nil
}

// printUsage writes the one-line usage of cmd and its flags.
func printUsage(w io.Writer, app *cli.App, cmd *cli.Command) {
	if cmd == nil {
		fmt.Fprintf(w, "usage: %s COMMAND [FLAGS] [ARGS]\ncommands:\n", app.Name)
		for _, c := range app.VisibleCommands() {
			fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Usage)
		}
		fmt.Fprintf(w, "Run '%s COMMAND --help' for a command's flags.\n", app.Name)
		return
	}
	var subs []*cli.Command
	for _, c := range cmd.Subcommands {
		if c.Name != "help" {
			subs = append(subs, c)
		}
	}
	args := cmd.ArgsUsage
	if len(subs) > 0 {
		args = "COMMAND"
	}
	fmt.Fprintf(w, "usage: %s %s [FLAGS] %s\n", app.Name, cmd.FullName(), args)
	for _, c := range subs {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Usage)
	}
	for _, f := range cmd.Flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(f.String(), "\t", "  "))
	}
}

// signals cancels a context on SIGINT or SIGTERM and remembers which
// arrived, for the exit code. A second signal ends the process at once.
type signals struct {
	mu  sync.Mutex
	got os.Signal
}

// notify returns a context cancelled by the first SIGINT or SIGTERM.
func (s *signals) notify(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			s.mu.Lock()
			s.got = sig
			s.mu.Unlock()
			// The default disposition comes back, so a second signal
			// ends a process that does not stop.
			signal.Stop(ch)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// code is the exit code of a process stopped by the signal received, or
// -1 when none was.
func (s *signals) code() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.got {
	case os.Interrupt:
		return 130
	case syscall.SIGTERM:
		return 143
	}
	return -1
}

// stopGrace is how long a command may take to stop after a signal before
// the process ends without it.
const stopGrace = 500 * time.Millisecond
