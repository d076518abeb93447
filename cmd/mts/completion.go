package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Completion scripts ask mts itself for the candidates: urfave/cli answers
// a command line ending in --generate-bash-completion with one word per
// line, from the same definition the flags are parsed from.
const bashCompletion = `# bash completion for mts; load with: source <(mts completion bash)
_mts_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  [[ "$cur" == -* ]] && words+=("$cur")
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$("${words[0]}" "${words[@]:1}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
  [[ ${#COMPREPLY[@]} -eq 0 ]] && compopt -o default
  return 0
}
complete -F _mts_complete mts
`

const zshCompletion = `#compdef mts
# zsh completion for mts; load with: source <(mts completion zsh)
_mts() {
  local -a words_before candidates
  words_before=("${words[@]:0:$((CURRENT-1))}")
  [[ "${words[CURRENT]}" == -* ]] && words_before+=("${words[CURRENT]}")
  candidates=("${(@f)$("${words_before[1]}" "${words_before[@]:1}" --generate-bash-completion 2>/dev/null)}")
  if [[ -n "${candidates[1]}" ]]; then
    compadd -a candidates
  else
    _files
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
