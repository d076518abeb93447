// Package rules holds the rule sets shipped with mts, one policy per
// directory, each with its tests: fedora/ is Fedora's production rules in
// the legacy format, fedora-cel/ the same policy written in CEL. Point the
// service's rules at one directory; tests/modulemd holds the documents the
// tests of both use.
// It holds data and tests only, no code of the service.
package rules
