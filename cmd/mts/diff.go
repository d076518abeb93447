package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:   "diff",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("diff: not available yet")) },
	}
}
