package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Completion scripts ask mts itself for the candidates (completeCommand),
// so that they come from the same definitions the command line is parsed
// with. The answer's first line says what the shell should offer: "words"
// (the lines that follow) or "files" (file and directory names, which the
// shell knows best how to list and quote).
const bashCompletion = `# bash completion for mts; load with: source <(mts completion bash)
_mts() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  # bash splits --format=json at "="; the value is what is completed.
  [[ $cur == = ]] && cur=
  local -a out
  out=($(command "${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  if [[ ${out[0]} == files ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=("${out[@]:1}")
  fi
  return 0
}
complete -F _mts mts
`

const zshCompletion = `#compdef mts
# zsh completion for mts; load with: source <(mts completion zsh)
_mts() {
  local -a out
  out=("${(@f)$(command "${words[1]}" __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "${out[1]}" == files ]]; then
    _files
  else
    compadd -- "${(@)out[2,-1]}"
  fi
}
compdef _mts mts
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash or zsh)",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("completion: give the shell, bash or zsh")
			}
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			}
			return usageErr("completion: unknown shell %q, want bash or zsh", c.Args().First())
		},
	}
}

// completeCommand answers the completion scripts: its arguments are "--"
// and the words of the command line after "mts", the last one being the
// word completed (empty at a blank).
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			words := c.Args().Slice()
			if len(words) > 0 && words[0] == "--" {
				words = words[1:]
			}
			if len(words) == 0 {
				words = []string{""}
			}
			kind, cands := complete(c.App, words)
			_, err := fmt.Fprintln(c.App.Writer, kind)
			for _, w := range cands {
				if err == nil {
					_, err = fmt.Fprintln(c.App.Writer, w)
				}
			}
			return err
		},
	}
}

// Kinds of completion answer: words to offer, or the names of files.
const (
	offerWords = "words"
	offerFiles = "files"
)

// complete tells what to offer for the last of words, the command line
// after "mts" as the shell split it.
func complete(app *cli.App, words []string) (kind string, cands []string) {
	words = joinEquals(words)
	cur := words[len(words)-1]
	at := walk(app, words[:len(words)-1])
	name, inline := flagName(cur)
	switch {
	case at.valueOf != nil:
		return flagValues(at.valueOf, cur)
	case at.dashdash || !strings.HasPrefix(cur, "-"):
		return at.operands(cur)
	case inline:
		return flagValues(findFlag(at.flags, name), cur[strings.IndexByte(cur, '=')+1:])
	}
	return offerWords, matching(flagNames(at.flags), cur)
}

// joinEquals puts back together the "--flag=value" words that bash splits
// at "=".
func joinEquals(words []string) []string {
	var out []string
	glue := false
	for _, w := range words {
		last := len(out) - 1
		switch {
		case glue:
			out[last] += w
			glue = false
		case w == "=" && last >= 0 && strings.HasPrefix(out[last], "-") && !strings.Contains(out[last], "="):
			out[last] += w
			glue = true
		default:
			out = append(out, w)
		}
	}
	return out
}

// cmdline is where a command line stands before the word completed.
type cmdline struct {
	cmd      *cli.Command   // the command named, nil before one is
	cmds     []*cli.Command // the commands that may come next
	flags    []cli.Flag     // the flags of cmd (or of mts)
	dashdash bool           // after "--": no more flags
	valueOf  cli.Flag       // the flag whose value is the word completed
}

// walk reads the words before the one completed as reorder would.
func walk(app *cli.App, words []string) cmdline {
	at := cmdline{cmds: app.Commands, flags: app.Flags}
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, inline := flagName(w)
		switch {
		case w == "--" && !at.dashdash:
			at.dashdash = true
		case at.dashdash || name == "":
			at.operand(w)
		case !inline:
			if f := findFlag(at.flags, name); f != nil && takesValue(f) {
				if i+1 == len(words) {
					at.valueOf = f
				}
				i++
			}
		}
	}
	return at
}

// operand moves into the command w names, or past the commands when w is
// an argument.
func (at *cmdline) operand(w string) {
	sub := findCommand(at.cmds, w)
	switch {
	case sub == nil:
		at.cmds = nil
	case sub.Name != "help":
		at.cmd, at.cmds, at.flags = sub, sub.Subcommands, sub.Flags
	}
}

// operands offers the commands that may come next, or else what the
// command's arguments are: the choices of an ArgsUsage such as "bash|zsh",
// and files for a list ("PATH...": every command taking several arguments
// takes files and directories).
func (at cmdline) operands(cur string) (string, []string) {
	if names := commandNames(at.cmds); len(names) > 0 {
		return offerWords, matching(names, cur)
	}
	switch {
	case at.cmd == nil:
		return offerWords, nil
	case strings.Contains(at.cmd.ArgsUsage, "|"):
		return offerWords, matching(strings.Split(at.cmd.ArgsUsage, "|"), cur)
	case strings.HasSuffix(at.cmd.ArgsUsage, "..."):
		return offerFiles, nil
	}
	return offerWords, nil
}

// flagValues offers the values of f: its choices, or files when it names
// one.
func flagValues(f cli.Flag, cur string) (string, []string) {
	switch f := f.(type) {
	case *choiceFlag:
		return offerWords, matching(f.choices, cur)
	case *cli.StringFlag:
		if f.TakesFile {
			return offerFiles, nil
		}
	case *cli.StringSliceFlag:
		if f.TakesFile {
			return offerFiles, nil
		}
	}
	return offerWords, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

// flagNames are the names of the visible flags as typed, --help included.
func flagNames(flags []cli.Flag) []string {
	names := []string{"--help"}
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			if len(n) == 1 {
				names = append(names, "-"+n)
			} else if n != "help" {
				names = append(names, "--"+n)
			}
		}
	}
	return names
}

// commandNames are the names of the visible commands, help left out.
func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

func matching(words []string, prefix string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff), made from the command definitions",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			page, err := c.App.ToMan()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
