package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/koji"
	"github.com/fedora-modularity/mts/policy"
)

func lintCommand() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check rule files for mistakes",
		ArgsUsage: "PATH...",
		Description: `Checks rule files (legacy Modularity YAML and CEL rule files; directories
give their *.yaml files, rule tests excepted) and reports every load error and
the warnings of the diagnostic table in the README, each with a code
(MTS1xx errors, MTS2xx warnings, MTS3xx information). Exit 0 when no error
was found (no warning either with --strict), 1 otherwise, 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"o", "output"}, Value: "text", Usage: "output format: " + strings.Join(lint.Formats(), ", ")},
			&cli.BoolFlag{Name: "strict", Usage: "fail on warnings too"},
			&cli.Uint64Flag{Name: "max-cost", Value: policy.DefaultCostLimit, Usage: "estimated CEL cost above which a rule is reported"},
			&cli.Uint64Flag{Name: "assume-size", Value: lint.DefaultAssumedSize, Usage: "size of document collections and strings assumed by cost estimates"},
			&cli.StringFlag{Name: "koji-profile", Usage: "check that literal destination tags exist in the Koji of this client `PROFILE`"},
			&cli.StringFlag{Name: "koji-config", Usage: "koji client configuration `FILE` read instead of ~/.koji/config"},
			stateFlag(),
		},
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if !slices.Contains(lint.Formats(), format) {
				return usageErr("--format must be one of %s, not %q", strings.Join(lint.Formats(), ", "), format)
			}
			if c.NArg() == 0 {
				return usageErr("lint: give rule files or directories")
			}
			opts := lint.Options{DefaultState: c.String("default-state"), MaxCost: c.Uint64("max-cost"), AssumedSize: c.Uint64("assume-size")}
			if p := c.String("koji-profile"); p != "" {
				cfg, err := koji.LoadConfig(p, koji.LoadOptions{File: c.String("koji-config")})
				if err != nil {
					return failErr(fmt.Errorf("koji profile %q: %w", p, err))
				}
				client, err := koji.New(cfg)
				if err != nil {
					return failErr(fmt.Errorf("koji profile %q: %w", p, err))
				}
				opts.Tags = kojiTags{client}
			}
			res, err := lint.Paths(c.Context, c.Args().Slice(), opts)
			if err != nil {
				return failErr(err)
			}
			if err := lint.Write(c.App.Writer, format, res, c.Bool("strict"), version); err != nil {
				return failErr(err)
			}
			if res.Failed(c.Bool("strict")) {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
}

// kojiTags answers lint's tag questions from a Koji hub.
type kojiTags struct{ c *koji.Client }

func (k kojiTags) TagExists(ctx context.Context, tag string) (bool, error) {
	_, err := k.c.GetTag(ctx, tag)
	if errors.Is(err, koji.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
