// Package compat keeps the reference implementation's semantics for legacy
// Modularity rule files: it writes each legacy rule as CEL, provides the few
// CEL functions that CEL calls (Python-style regex search with named groups,
// Python str() and equality, YAML 1.1 values, the destinations' cartesian
// product), and evaluates the rules natively through the same functions for
// the policy engine, without a program per rule.
// It must not know files, buses or Koji: only the reference's semantics.
package compat
