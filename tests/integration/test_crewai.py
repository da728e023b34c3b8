"""CrewAI's `MCPServerAdapter` (crewai-tools[mcp], in its own venv: it pins its own mcp 1.x
and a large dependency tree) loads awsgate's tools and runs them, over stdio and HTTP+SSE."""

from __future__ import annotations

from conftest import awsgate_env, http_server, run_in_venv, write_policy
from test_tools import POLICY, seed


def run_client(*args: str, env: dict[str, str]) -> dict:
    # No telemetry: the machine has no network, and the test should not wait on one.
    env = dict(env, CREWAI_DISABLE_TELEMETRY="true", OTEL_SDK_DISABLED="true", CREWAI_TRACING_ENABLED="false")
    return run_in_venv(".venv-crewai", "crewai_client.py", *args, env=env)


def check(output: dict) -> None:
    assert len(output["tools"]) == 24 and "sqs_send_message" in output["tools"]
    assert "hello" in output["allowed"]
    assert "AccessDenied" in output["denied"] and "arn:aws:s3:::denied-bucket/x.txt" in output["denied"]


def test_crewai_adapter_over_stdio(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    check(run_client("stdio", str(binary), str(policy), env=awsgate_env(aws.endpoint)))


def test_crewai_adapter_over_sse(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path) as server:
        check(run_client("sse", server.sse_url, env=awsgate_env(aws.endpoint)))
