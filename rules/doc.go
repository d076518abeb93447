// Package rules holds the rule sets shipped with mts, one policy per
// directory, each with its tests: fedora/ is Fedora's production rules in
// the legacy format, fedora-cel/ the same policy written in CEL. Point the
// service's rules at one directory; tests/modulemd holds the documents the
// tests of both use.
//
// examples/ holds policies on Koji's own build events (rule files with
// on:), each a working example with its tests: containers/ tags container
// images into their RHEL's candidate tag on build.complete, eln-follow/
// follows RPMs tagged into Rawhide with a tag of ELN's, signing-move/ moves
// builds from an updates candidate tag on to signing (one tag and one untag
// make one move), and modules-from-koji/ is Fedora's module policy deciding
// on the build.complete of module builds MBS imported into Koji instead of
// MBS's own events. tests/koji holds the build infos their tests use, as a
// hub answers getBuild and getBuildType. rules_test.go checks that each
// directory is one policy whose tests pass, that fedora-cel/ decides as
// fedora/, and that modules-from-koji/ tags each module build and its
// -devel twin where fedora/ does.
//
// It holds data and tests only, no code of the service.
package rules
