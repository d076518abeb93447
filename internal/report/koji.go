package report

import (
	"fmt"
	"io"
	"strings"
)

// KojiFormats are the formats of the koji commands.
var KojiFormats = []string{Text, JSON}

// KojiWhoami writes who `mts koji whoami` logged in as, how, and where.
func KojiWhoami(w io.Writer, format, user, auth, server string) error {
	if format == JSON {
		return writeJSON(w, struct {
			User   string `json:"user"`
			Auth   string `json:"auth"`
			Server string `json:"server"`
		}{user, auth, server})
	}
	_, err := fmt.Fprintf(w, "user: %s\nauth: %s\nserver: %s\n", user, auth, server)
	return err
}

// KojiTags is what `mts koji check` found.
type KojiTags struct {
	User  string     `json:"user"`
	Auth  string     `json:"auth"`
	Notes []string   `json:"notes,omitempty"`
	Tags  []TagCheck `json:"tags"`
}

// TagCheck is how one tag fared.
type TagCheck struct {
	Tag      string   `json:"tag"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// Failed is how many tags have problems.
func (r *KojiTags) Failed() int {
	n := 0
	for _, t := range r.Tags {
		if !t.OK {
			n++
		}
	}
	return n
}

// Koji writes what `mts koji check` found: the login, notes, and a line
// per tag.
func Koji(w io.Writer, format string, r *KojiTags) error {
	if format == JSON {
		return writeJSON(w, r)
	}
	fmt.Fprintf(w, "logged in as %s (%s)\n", r.User, r.Auth)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, tc := range r.Tags {
		if tc.OK {
			fmt.Fprintf(w, "ok %s\n", tc.Tag)
		} else {
			fmt.Fprintf(w, "PROBLEM %s: %s\n", tc.Tag, strings.Join(tc.Problems, "; "))
		}
	}
	return nil
}
