#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 that tests/integration/test_sidecar_js.py drives as a
# sidecar client: the exact versions tests/integration/js/package-lock.json pins, with
# `npm ci`, once per lock file (a stamp in node_modules records the lock file installed).
# Needs node 20 or later (the SDK's minimum) and npm; without them it fails, it does not skip.
set -euo pipefail
cd "$(dirname "$0")/../tests/integration/js"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "scripts/js-env.sh: \`$tool\` is not on PATH. The JavaScript SDK sidecar test needs node 20 or" >&2
    echo "later and npm (Debian: apt-get install nodejs npm)." >&2
    exit 1
  fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "scripts/js-env.sh: node $(node --version) is too old; the AWS SDK for JavaScript v3 needs node 20 or later." >&2
  exit 1
fi

stamp=node_modules/.awsgate-package-lock.json
if [ -f "$stamp" ] && cmp -s "$stamp" package-lock.json; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
