package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fedora-modularity/mts/koji"
)

func kojiCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "profile", Value: "koji", Usage: "koji client `PROFILE` (section of the koji configuration)"},
		&cli.StringFlag{Name: "config", Usage: "koji client configuration `FILE` read instead of ~/.koji/config"},
		&cli.StringFlag{Name: "cert", Usage: "log in with this client certificate `PEM` (certificate and key) instead of the profile's authtype"},
		&cli.StringFlag{Name: "keytab", Usage: "log in with Kerberos from this `KEYTAB` (with --principal)"},
		&cli.StringFlag{Name: "principal", Usage: "Kerberos `PRINCIPAL` for --keytab"},
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
func kojiRetry(c *cli.Context, cl *koji.Client, what string, fn func(ctx context.Context) error) error {
	return koji.Retry(c.Context, cl.Config(), func(attempt int, wait time.Duration, err error) {
		fmt.Fprintf(c.App.ErrWriter, "%s failed (attempt %d), trying again in %s: %v\n", what, attempt, wait, err)
	}, fn)
}

func kojiClient(c *cli.Context) (*koji.Client, error) {
	if c.NArg() > 0 {
		return nil, usageErr("koji %s: unexpected arguments %q", c.Command.Name, c.Args().Slice())
	}
	if (c.String("keytab") == "") != (c.String("principal") == "") {
		return nil, usageErr("--keytab and --principal go together")
	}
	cfg, err := koji.LoadConfig(c.String("profile"), koji.LoadOptions{File: c.String("config")})
	if err != nil {
		return nil, failErr(err)
	}
	var opts []koji.Option
	if p := c.String("cert"); p != "" {
		opts = append(opts, koji.WithCert(p))
	}
	if kt := c.String("keytab"); kt != "" {
		opts = append(opts, koji.WithKeytab(c.String("principal"), kt))
	}
	cl, err := koji.New(cfg, opts...)
	if err != nil {
		return nil, failErr(err)
	}
	if cl.AuthMethod() == "anonymous" {
		return nil, failErr(fmt.Errorf("profile %q has no usable authtype (ssl or kerberos), and neither --cert nor --keytab was given", cfg.Profile))
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
	err = kojiRetry(c, cl, "login", func(ctx context.Context) error {
		u, err = cl.GetLoggedInUser(ctx)
		return err
	})
	if err != nil {
		return failErr(err)
	}
	_, err = fmt.Fprintf(c.App.Writer, "user: %s\nauth: %s\nserver: %s\n", u.Name, cl.AuthMethod(), cl.Server())
	if err == nil {
		err = cl.Logout(c.Context)
	}
	return err
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
	w := c.App.Writer
	var u *koji.User
	err = kojiRetry(c, cl, "login", func(ctx context.Context) error {
		u, err = cl.GetLoggedInUser(ctx)
		return err
	})
	if err != nil {
		return failErr(err)
	}
	fmt.Fprintf(w, "logged in as %s (%s)\n", u.Name, cl.AuthMethod())
	perms, permErr := cl.GetUserPerms(c.Context)
	if permErr != nil {
		fmt.Fprintf(w, "note: cannot read the user's permissions: %v\n", permErr)
	}
	problems := 0
	for _, name := range tags {
		var t *koji.Tag
		err := kojiRetry(c, cl, "getTag "+name, func(ctx context.Context) error {
			var err error
			t, err = cl.GetTag(ctx, name)
			return err
		})
		switch {
		case errors.Is(err, koji.ErrNotFound):
			fmt.Fprintf(w, "PROBLEM %s: no such tag\n", name)
			problems++
			continue
		case err != nil:
			return failErr(err)
		}
		var issues []string
		if t.Locked {
			issues = append(issues, "tag is locked")
		}
		if t.Perm != "" && permErr == nil && !slices.Contains(perms, t.Perm) && !slices.Contains(perms, "admin") {
			issues = append(issues, fmt.Sprintf("tagging needs permission %q, which %s lacks", t.Perm, u.Name))
		}
		if len(issues) > 0 {
			fmt.Fprintf(w, "PROBLEM %s: %s\n", name, strings.Join(issues, "; "))
			problems++
			continue
		}
		fmt.Fprintf(w, "ok %s\n", name)
	}
	if problems > 0 {
		return failErr(fmt.Errorf("%d of %d tags have problems", problems, len(tags)))
	}
	return nil
}
