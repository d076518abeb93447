// Package compat keeps the reference implementation's semantics for legacy
// Modularity rule files: it compiles each legacy rule into CEL for the
// policy engine, and provides the few CEL functions those programs need
// (Python-style regex search with named groups, Python str() and equality,
// YAML 1.1 values, the destinations' cartesian product).
package compat
