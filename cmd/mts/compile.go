package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:   "compile",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("compile: not available yet")) },
	}
}
