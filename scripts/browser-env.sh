#!/usr/bin/env bash
# Installs the browser the console's tests drive: Debian's headless-capable `chromium` and
# its `chromium-driver`, when either is missing. Needs root (or sudo) and the Debian mirror.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
