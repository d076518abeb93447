#!/usr/bin/env bash
# Installs, from Debian's packages, every service the integration tests
# start: ActiveMQ, Apache httpd with mod_ssl and mod_auth_gssapi, an MIT
# Kerberos KDC, python3-zmq, python3-pika and python3-qpid-proton peers,
# Python 3 with python3-yaml (the reference's re and PyYAML, as oracles),
# buildah, chromium for the status page, and tmux for the shell completion
# tests. Idempotent.
set -euo pipefail
pkgs=(activemq apache2 libapache2-mod-auth-gssapi krb5-kdc krb5-admin-server krb5-user chromium
      python3-zmq python3-pika python3-qpid-proton python3-yaml buildah tmux openssl ca-certificates faketime)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
