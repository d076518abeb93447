package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("serve: not available yet")) },
	}
}
