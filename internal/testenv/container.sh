#!/bin/bash
# Builds the mts container image from Containerfile with buildah (vfs
# storage, chroot isolation: works as root on a CI machine without a
# container runtime) and runs `mts version` and `mts lint` on each shipped
# policy in it.
set -euo pipefail
cd "$(dirname "$0")/../.."

ctx=$(mktemp -d)
storage=$(mktemp -d)
image=localhost/mts:test
ctr=
cleanup() {
	[ -n "$ctr" ] && buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs rm "$ctr" >/dev/null 2>&1 || true
	rm -rf "$ctx"
	rm -rf "$storage" 2>/dev/null || true
}
trap cleanup EXIT

b() { buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs "$@"; }

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" \
	-o "$ctx/mts" ./cmd/mts
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
echo 'mts:x:1001:1001:Message Tagging Service:/:/sbin/nologin' >"$ctx/passwd"
cp -r rules "$ctx/rules"
mkdir "$ctx/state"
cp Containerfile "$ctx/Containerfile"

b build --isolation chroot -f "$ctx/Containerfile" -t "$image" "$ctx"
ctr=$(b from "$image")
b run --isolation chroot "$ctr" -- /usr/bin/mts version
b run --isolation chroot "$ctr" -- /usr/bin/mts lint rules/
b run --isolation chroot "$ctr" -- /usr/bin/mts lint policies/fedora-cel/
b run --isolation chroot "$ctr" -- /usr/bin/mts serve --help >/dev/null
b inspect --type image "$image" | grep -q '"/var/lib/mts"' || { echo "container: no /var/lib/mts volume" >&2; exit 1; }
# The unprivileged user keeps a decision store in the volume.
b run --isolation chroot --env MTS_CONFIG_FILE= "$ctr" -- /usr/bin/mts serve --dev --rules rules/ --events /dev/null --decision-store /var/lib/mts/decisions.db
b run --isolation chroot "$ctr" -- /usr/bin/mts why --store /var/lib/mts/decisions.db nodejs:20 | grep -q 'no decision recorded' ||
	{ echo "container: the decision store in /var/lib/mts cannot be read" >&2; exit 1; }
echo "container: ok"
