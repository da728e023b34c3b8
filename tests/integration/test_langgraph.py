"""LangGraph's MCP adapter (langchain-mcp-adapters, in its own venv with mcp<2) loads
awsgate's tools and invokes them, over stdio and over HTTP+SSE."""

from __future__ import annotations

import json

from conftest import awsgate_env, http_server, run_in_venv, write_policy
from test_tools import POLICY, seed


def run_client(*args: str, env: dict[str, str]) -> dict:
    return run_in_venv(".venv-langchain", "langchain_client.py", *args, env=env)


def check(output: dict) -> None:
    assert len(output["tools"]) == 24 and "dynamodb_query" in output["tools"]
    assert json.loads(output["allowed"])["body"] == "hello"
    assert "AccessDenied" in output["denied"] and "arn:aws:s3:::denied-bucket/x.txt" in output["denied"]


def test_langgraph_adapter_over_stdio(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    check(run_client("stdio", str(binary), str(policy), env=awsgate_env(aws.endpoint)))


def test_langgraph_adapter_over_sse(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path) as server:
        check(run_client("sse", server.sse_url, env=awsgate_env(aws.endpoint)))
