package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:   "eval",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("eval: not available yet")) },
	}
}
