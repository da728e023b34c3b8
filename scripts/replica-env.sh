#!/usr/bin/env bash
# Installs what the replica tests run: Debian's `redis-server` (the shared store),
# `haproxy` (the documented load balancer) and `prometheus` (scraping the replicas), when
# any is missing. Needs root (or sudo) and the Debian mirror. The tests start each on a free
# loopback port; the packages' own services are not used.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v prometheus >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} = 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
