package main

import (
	"errors"
	"io"
	"slices"
	"testing"
)

func TestReorder(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard)
	tests := []struct {
		in, want []string
		code     int
	}{
		{[]string{"mts", "lint", "rules/", "--strict"}, []string{"mts", "lint", "--strict", "--", "rules/"}, 0},
		{[]string{"mts", "lint", "a", "-o", "json", "b"}, []string{"mts", "lint", "-o", "json", "--", "a", "b"}, 0},
		{[]string{"mts", "lint", "a", "--format=json"}, []string{"mts", "lint", "--format=json", "--", "a"}, 0},
		{[]string{"mts", "lint", "--", "--strict"}, []string{"mts", "lint", "--", "--strict"}, 0},
		{[]string{"mts", "eval", "--events", "-", "-r", "x"}, []string{"mts", "eval", "--events", "-", "-r", "x"}, 0},
		{[]string{"mts", "koji", "whoami", "--profile", "p"}, []string{"mts", "koji", "whoami", "--profile", "p"}, 0},
		{[]string{"mts", "lint", "--bogus", "x"}, []string{"mts", "lint", "--bogus", "--", "x"}, 0},
		{[]string{"mts", "--version"}, []string{"mts", "--version"}, 0},
		{[]string{"mts", "lnit"}, nil, 2},
		{[]string{"mts", "koji", "nope"}, nil, 2},
		{[]string{"mts", "help", "nope"}, nil, 2},
	}
	for _, tt := range tests {
		got, _, err := reorder(app, tt.in)
		var ee *exitError
		switch {
		case tt.code != 0 && (!errors.As(err, &ee) || ee.code != tt.code):
			t.Errorf("reorder(%q) = %v, want exit %d", tt.in, err, tt.code)
		case tt.code == 0 && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("reorder(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
