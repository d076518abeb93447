package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func kojiCommand() *cli.Command {
	return &cli.Command{
		Name:   "koji",
		Usage:  "not available yet",
		Hidden: true,
		Action: func(*cli.Context) error { return failErr(errors.New("koji: not available yet")) },
	}
}
