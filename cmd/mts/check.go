package main

import (
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/report"
)

// checkConfig is `serve --check-config`: every problem of the deployment,
// each with its key and line, on stdout; exit 1 when there is one.
func checkConfig(c *cli.Context, cfg *config.Config, loadErr error) error {
	res, err := app.CheckDeployment(c.Context, cfg, loadErr, c.Bool("connect"))
	if err != nil {
		return failErr(err)
	}
	if err := report.Check(c.App.Writer, c.String("format"), res.Problems, res.Reached, res.Backend, res.Inputs); err != nil {
		return err
	}
	if len(res.Problems) > 0 {
		return failed()
	}
	return nil
}

// newLogger writes logs to w: text for a person at a terminal, JSON lines
// for a log collector otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
