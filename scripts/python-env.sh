#!/usr/bin/env bash
# Creates the Python environments the integration tests and the demo use, once per set of
# requirements (a stamp file records what was installed):
#   .venv            moto[server] (the local AWS emulator), boto3, the MCP Python SDK (2.x), pytest
#   .venv-langchain  langchain-mcp-adapters, which needs mcp<2, so it lives apart
#   .venv-crewai     crewai-tools with its MCP extra (mcp 1.x and a large tree: ~1 GB, ~2.5 min)
#   .venv-awscli     the AWS CLI v1, a sidecar client (it pins its own botocore)
#   .venv-strands    Strands Agents' `use_aws` tool, a sidecar client
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

make_venv() {
  local dir=$1 requirements=$2
  local stamp="$dir/.requirements"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$requirements")" ]; then
    return
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}

make_venv .venv tests/integration/requirements.txt
if [ "${1:-}" != "--main-only" ]; then
  make_venv .venv-langchain tests/integration/requirements-langchain.txt
  make_venv .venv-crewai tests/integration/requirements-crewai.txt
  make_venv .venv-awscli tests/integration/requirements-awscli.txt
  make_venv .venv-strands tests/integration/requirements-strands.txt
fi
