#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs and prepares the
# services the integration tests need, checks formatting and static
# analysis, then runs every test (unit, golden, integration) once.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash internal/testenv/install.sh
bash internal/testenv/services.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
echo "== go mod tidy -diff"
go mod tidy -diff
echo "== go vet"
go vet ./...
echo "== staticcheck"
go tool staticcheck ./...
echo "== deadcode"
dead=$(go tool deadcode -test ./...)
if [ -n "$dead" ]; then
	echo "unreachable code: $dead" >&2
	exit 1
fi
echo "== container image"
bash internal/testenv/container.sh
echo "== go test"
# One package at a time: the integration tests of several packages start
# brokers, Koji and MBS stand-ins and time-sensitive outages, and on a
# 2-core machine running them side by side starves them.
go test -p 1 -count=1 -timeout 20m ./... "$@"
