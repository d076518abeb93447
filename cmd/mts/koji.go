package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/internal/app"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/koji"
)

func kojiCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "profile", Value: "koji", Usage: "koji client `PROFILE` (section of the koji configuration)"},
		&cli.StringFlag{Name: "config", TakesFile: true, Usage: "koji client configuration `FILE` read instead of ~/.koji/config"},
		&cli.StringFlag{Name: "cert", TakesFile: true, Usage: "log in with this client certificate `PEM` (certificate and key) instead of the profile's authtype"},
		&cli.StringFlag{Name: "keytab", TakesFile: true, Usage: "log in with Kerberos from this `KEYTAB` (with --principal)"},
		&cli.StringFlag{Name: "principal", Usage: "Kerberos `PRINCIPAL` for --keytab"},
		formatFlag(report.KojiFormats...),
	}
	return &cli.Command{
		Name:  "koji",
		Usage: "check a deployment's Koji access before it goes live",
		Subcommands: []*cli.Command{
			{
				Name:        "whoami",
				Usage:       "log in and print the user and the login method",
				Description: "Exit 0 when the login works, 1 when it does not, 2 on usage errors.",
				Flags:       flags,
				Action:      kojiWhoami,
			},
			{
				Name:  "check",
				Usage: "check that the service may tag into the given tags",
				Description: `Logs in, then checks each tag: it exists, it is not locked, and the
user holds the permission the tag asks for (or admin). Exit 0 when all is
well, 1 when a problem was found, 2 on usage errors.`,
				Flags: append(slices.Clone(flags),
					&cli.StringFlag{Name: "tags", Usage: "comma-separated `TAGS` to check"}),
				Action: kojiCheck,
			},
		},
	}
}

// kojiRetry runs fn with the profile's max_retries and retry_interval,
// printing a line per retry, and gives up at once on what cannot get
// better (koji.Retry).
func kojiRetry(c *cli.Context, cl *koji.Client) app.Retrier {
	return func(what string, fn func(ctx context.Context) error) error {
		return koji.Retry(c.Context, cl.Config(), func(attempt int, wait time.Duration, err error) {
			fmt.Fprintf(c.App.ErrWriter, "%s failed (attempt %d), trying again in %s: %v\n", what, attempt, wait, err)
		}, fn)
	}
}

func kojiClient(c *cli.Context) (*koji.Client, error) {
	if err := noArgs(c); err != nil {
		return nil, err
	}
	if err := conflicts(c, [2]string{"cert", "keytab"}); err != nil {
		return nil, err
	}
	if (c.String("keytab") == "") != (c.String("principal") == "") {
		return nil, usageErr("--keytab and --principal go together")
	}
	cl, err := app.NewKojiLogin(app.KojiLogin{Profile: c.String("profile"), File: c.String("config"),
		Cert: c.String("cert"), Keytab: c.String("keytab"), Principal: c.String("principal")})
	if err != nil {
		return nil, failErr(err)
	}
	return cl, nil
}

func kojiWhoami(c *cli.Context) error {
	cl, err := kojiClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	var u *koji.User
	err = kojiRetry(c, cl)("login", func(ctx context.Context) error {
		u, err = cl.GetLoggedInUser(ctx)
		return err
	})
	if err != nil {
		return failErr(err)
	}
	if err := report.KojiWhoami(c.App.Writer, c.String("format"), u.Name, cl.AuthMethod(), cl.Server()); err != nil {
		return err
	}
	return cl.Logout(c.Context)
}

func kojiCheck(c *cli.Context) error {
	var tags []string
	for _, t := range strings.Split(c.String("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return usageErr("koji check: --tags is required")
	}
	cl, err := kojiClient(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer func() { _ = cl.Logout(c.Context) }()
	r, err := app.CheckTags(c.Context, cl, tags, kojiRetry(c, cl))
	if err != nil {
		return failErr(err)
	}
	if err := report.Koji(c.App.Writer, c.String("format"), r); err != nil {
		return err
	}
	if n := r.Failed(); n > 0 {
		return failErr(fmt.Errorf("%d of %d tags have problems", n, len(tags)))
	}
	return nil
}
