// Package rules holds the rule sets shipped with mts: Fedora's production
// rules in the legacy format (fedora.yaml) and the same policy in CEL
// (fedora.cel.yaml), with their tests.
package rules
