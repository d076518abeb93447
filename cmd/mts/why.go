package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/config"
	"github.com/fedora-modularity/mts/internal/history"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/internal/web"
)

func whyCommand() *cli.Command {
	return &cli.Command{
		Name:      "why",
		Usage:     "show every recorded decision for a build, and why it was made",
		ArgsUsage: "BUILD",
		Description: `BUILD is name:stream:version:context (or its first fields, such as
name:stream), an NVR (of a module build, or its -devel twin's; of any
Koji build whose own events were decided on) or the MBS module build id or
Koji build id.
Decisions are read from decision stores (--store, repeatable: one per
consumer) or from running services (--server, repeatable; the token of
their API from --token-file, else from the api_token_file of --config),
newest first, each with its outcome, rule, destinations, Koji tasks and
their states, and the per-criterion explanation computed again against the
rules revision that made it. Without --store or --server, the
decision_store of the configuration (--config or MTS_CONFIG_FILE) is read,
else ` + config.DefaultDecisionStore + `. Flags may also follow BUILD.
Exit 0 (also when nothing was recorded for the build), 1 when a store or
server cannot be read, 2 on usage errors.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "store", TakesFile: true, Usage: "decision store `FILE` (repeatable)"},
			&cli.StringSliceFlag{Name: "server", Usage: "`URL` of a running mts serve's listener (repeatable)"},
			&cli.StringFlag{Name: "token-file", TakesFile: true, Usage: "`FILE` holding the bearer token of the servers' API (default: api_token_file of --config or $MTS_CONFIG_FILE)"},
			&cli.StringFlag{Name: "config", TakesFile: true, Usage: "YAML configuration `FILE` of mts serve, for its decision_store and api_token_file (default $MTS_CONFIG_FILE)"},
			formatFlag(report.WhyFormats...),
		},
		Action: runWhy,
	}
}

func runWhy(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("why takes one BUILD (name:stream:version:context, NVR or MBS id)")
	}
	build := strings.TrimSpace(c.Args().First())
	if build == "" {
		return usageErr("why: empty BUILD")
	}
	servers, stores := c.StringSlice("server"), c.StringSlice("store")
	if len(servers) > 0 && len(stores) > 0 {
		return usageErr("why: give --store or --server, not both")
	}
	var w *history.Why
	var err error
	if len(servers) > 0 {
		w, err = whyFromServers(c, servers, build)
	} else {
		w, err = whyFromStores(c, stores, build)
	}
	if err != nil {
		return err
	}
	return report.Why(c.App.Writer, c.String("format"), w)
}

// whyFromServers asks the APIs of running services, with the token of
// --token-file or of the configuration's api_token_file.
func whyFromServers(c *cli.Context, servers []string, build string) (*history.Why, error) {
	client := web.Client{HTTP: &http.Client{Timeout: time.Minute}}
	tokenFile := c.String("token-file")
	if tokenFile == "" && (c.IsSet("config") || os.Getenv(config.EnvConfigFile) != "") {
		cfg, err := serveFileConfig(c.String("config"))
		if err != nil {
			return nil, err
		}
		tokenFile = cfg.APITokenFile
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, failErr(err)
		}
		client.Token = strings.TrimSpace(string(b))
	}
	w, err := client.WhyFromServers(c.Context, servers, build)
	if err != nil {
		if errors.Is(err, web.ErrUnauthorized) && tokenFile == "" {
			err = fmt.Errorf("%w: give --token-file", err)
		}
		return nil, failErr(err)
	}
	return w, nil
}

// whyFromStores reads the stores, by default the configuration's.
func whyFromStores(c *cli.Context, stores []string, build string) (*history.Why, error) {
	if len(stores) == 0 {
		path, err := configuredStore(c.String("config"))
		if err != nil {
			return nil, err
		}
		stores = []string{path}
	}
	var open []*history.Store
	defer func() {
		for _, s := range open {
			s.Close()
		}
	}()
	for _, p := range stores {
		s, err := history.OpenReadOnly(c.Context, p)
		if err != nil {
			return nil, failErr(err)
		}
		open = append(open, s)
	}
	w, err := history.WhyFromStores(c.Context, open, build)
	if err != nil {
		return nil, failErr(err)
	}
	return w, nil
}

// configuredStore is the decision_store of the serve configuration at
// file (or MTS_CONFIG_FILE), or the default path.
func configuredStore(file string) (string, error) {
	cfg, err := serveFileConfig(file)
	if err != nil {
		return "", err
	}
	if cfg.DecisionStore == "" {
		return "", usageErr("decision_store is empty in the configuration: give --store")
	}
	return cfg.DecisionStore, nil
}

// serveFileConfig reads the serve configuration file at file (or
// MTS_CONFIG_FILE) over the defaults, without the checks that only serve
// needs.
func serveFileConfig(file string) (*config.Config, error) {
	cfg, err := config.Load(file, os.LookupEnv)
	if err != nil {
		return nil, failErr(err)
	}
	return cfg, nil
}
