package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

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
		formatFlag("text", "json"),
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
	if err := noArgs(c); err != nil {
		return nil, err
	}
	if err := conflicts(c, [2]string{"cert", "keytab"}); err != nil {
		return nil, err
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
	if c.String("format") == report.JSON {
		err = report.JSONDocument(c.App.Writer, struct {
			User   string `json:"user"`
			Auth   string `json:"auth"`
			Server string `json:"server"`
		}{u.Name, cl.AuthMethod(), cl.Server()})
	} else {
		_, err = fmt.Fprintf(c.App.Writer, "user: %s\nauth: %s\nserver: %s\n", u.Name, cl.AuthMethod(), cl.Server())
	}
	if err == nil {
		err = cl.Logout(c.Context)
	}
	return err
}

// tagCheck is how one tag fared in `koji check`.
type tagCheck struct {
	Tag      string   `json:"tag"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
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
	var u *koji.User
	err = kojiRetry(c, cl, "login", func(ctx context.Context) error {
		u, err = cl.GetLoggedInUser(ctx)
		return err
	})
	if err != nil {
		return failErr(err)
	}
	var notes []string
	perms, permErr := cl.GetUserPerms(c.Context)
	if permErr != nil {
		notes = append(notes, fmt.Sprintf("cannot read the user's permissions: %v", permErr))
	}
	var results []tagCheck
	problems := 0
	for _, name := range tags {
		tc := tagCheck{Tag: name}
		var t *koji.Tag
		err := kojiRetry(c, cl, "getTag "+name, func(ctx context.Context) error {
			var err error
			t, err = cl.GetTag(ctx, name)
			return err
		})
		switch {
		case errors.Is(err, koji.ErrNotFound):
			tc.Problems = append(tc.Problems, "no such tag")
		case err != nil:
			return failErr(err)
		default:
			if t.Locked {
				tc.Problems = append(tc.Problems, "tag is locked")
			}
			if t.Perm != "" && permErr == nil && !slices.Contains(perms, t.Perm) && !slices.Contains(perms, "admin") {
				tc.Problems = append(tc.Problems, fmt.Sprintf("tagging needs permission %q, which %s lacks", t.Perm, u.Name))
			}
		}
		tc.OK = len(tc.Problems) == 0
		if !tc.OK {
			problems++
		}
		results = append(results, tc)
	}
	w := c.App.Writer
	if c.String("format") == report.JSON {
		if err := report.JSONDocument(w, struct {
			User  string     `json:"user"`
			Auth  string     `json:"auth"`
			Notes []string   `json:"notes,omitempty"`
			Tags  []tagCheck `json:"tags"`
		}{u.Name, cl.AuthMethod(), notes, results}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "logged in as %s (%s)\n", u.Name, cl.AuthMethod())
		for _, n := range notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		for _, tc := range results {
			if tc.OK {
				fmt.Fprintf(w, "ok %s\n", tc.Tag)
			} else {
				fmt.Fprintf(w, "PROBLEM %s: %s\n", tc.Tag, strings.Join(tc.Problems, "; "))
			}
		}
	}
	if problems > 0 {
		return failErr(fmt.Errorf("%d of %d tags have problems", problems, len(tags)))
	}
	return nil
}
