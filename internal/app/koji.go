package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fedora-modularity/mts/internal/lint"
	"github.com/fedora-modularity/mts/internal/report"
	"github.com/fedora-modularity/mts/koji"
)

// KojiLogin is how the koji commands log in: a profile of the koji
// client configuration (File instead of ~/.koji/config when set), with a
// client certificate or a keytab over the profile's authtype.
type KojiLogin struct {
	Profile, File           string
	Cert, Keytab, Principal string
}

// NewKojiLogin is the client of the koji commands; a profile that would
// only give an anonymous session is an error.
func NewKojiLogin(l KojiLogin) (*koji.Client, error) {
	cfg, err := koji.LoadConfig(l.Profile, koji.LoadOptions{File: l.File})
	if err != nil {
		return nil, err
	}
	cl, err := koji.New(cfg, kojiAuth(l.Cert, l.Keytab, l.Principal)...)
	if err != nil {
		return nil, err
	}
	if cl.AuthMethod() == "anonymous" {
		cl.Close()
		return nil, fmt.Errorf("profile %q has no usable authtype (ssl or kerberos), and neither --cert nor --keytab was given", cfg.Profile)
	}
	return cl, nil
}

// kojiAuth are the login options of a certificate or a keytab over the
// profile's authtype.
func kojiAuth(cert, keytab, principal string) []koji.Option {
	var opts []koji.Option
	if cert != "" {
		opts = append(opts, koji.WithCert(cert))
	}
	if keytab != "" {
		opts = append(opts, koji.WithKeytab(principal, keytab))
	}
	return opts
}

// Retrier runs fn again while it fails in a way that may get better;
// what names the call for the lines it may print.
type Retrier func(what string, fn func(ctx context.Context) error) error

// CheckTags logs in and checks that the service may tag into each tag:
// it exists, it is not locked, and the user holds the permission the tag
// asks for (or admin).
func CheckTags(ctx context.Context, cl *koji.Client, tags []string, retry Retrier) (*report.KojiTags, error) {
	var u *koji.User
	err := retry("login", func(ctx context.Context) error {
		var err error
		u, err = cl.GetLoggedInUser(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	r := &report.KojiTags{User: u.Name, Auth: cl.AuthMethod()}
	perms, permErr := cl.GetUserPerms(ctx)
	if permErr != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("cannot read the user's permissions: %v", permErr))
	}
	for _, name := range tags {
		tc := report.TagCheck{Tag: name}
		var t *koji.Tag
		err := retry("getTag "+name, func(ctx context.Context) error {
			var err error
			t, err = cl.GetTag(ctx, name)
			return err
		})
		switch {
		case errors.Is(err, koji.ErrNotFound):
			tc.Problems = append(tc.Problems, "no such tag")
		case err != nil:
			return nil, err
		default:
			if t.Locked {
				tc.Problems = append(tc.Problems, "tag is locked")
			}
			if t.Perm != "" && permErr == nil && !slices.Contains(perms, t.Perm) && !slices.Contains(perms, "admin") {
				tc.Problems = append(tc.Problems, fmt.Sprintf("tagging needs permission %q, which %s lacks", t.Perm, u.Name))
			}
		}
		tc.OK = len(tc.Problems) == 0
		r.Tags = append(r.Tags, tc)
	}
	return r, nil
}

// KojiTags answers lint's questions about destination tags from the Koji
// of a client profile, logged in as nobody.
func KojiTags(profile, file string) (lint.TagChecker, error) {
	client, err := KojiReader(profile, file)
	if err != nil {
		return nil, err
	}
	return kojiTags{client}, nil
}

// KojiReader is a client of the Koji of a client profile (File instead
// of ~/.koji/config when set) that only reads, logged in as nobody: what
// the offline commands ask a hub (tags for lint, build infos for eval).
func KojiReader(profile, file string) (*koji.Client, error) {
	cfg, err := koji.LoadConfig(profile, koji.LoadOptions{File: file})
	if err != nil {
		return nil, fmt.Errorf("koji profile %q: %w", profile, err)
	}
	client, err := koji.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("koji profile %q: %w", profile, err)
	}
	return client, nil
}

// kojiTags is a lint.TagChecker asking a Koji hub.
type kojiTags struct{ c *koji.Client }

func (k kojiTags) TagExists(ctx context.Context, tag string) (bool, error) {
	_, err := k.c.GetTag(ctx, tag)
	if errors.Is(err, koji.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
