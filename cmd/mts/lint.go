package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:   "lint",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("lint: not available yet")) },
	}
}
