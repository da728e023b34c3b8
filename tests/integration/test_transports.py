"""The transports with real clients: streamable HTTP and HTTP+SSE with the Python MCP SDK,
the bearer token, Host and Origin checks, and the refusals at start."""

from __future__ import annotations

import subprocess

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from conftest import awsgate_env, http_server, read_audit, write_policy
from test_tools import POLICY, assert_denied, call, seed

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
JSON_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def start(binary, aws, tmp_path, *args, **env):
    policy = write_policy(tmp_path, POLICY)
    audit = tmp_path / "audit.jsonl"
    return http_server(binary, policy, awsgate_env(aws.endpoint, **env), tmp_path, "--audit-log", str(audit), *args), audit


async def test_streamable_http_with_the_python_sdk(binary, aws, tmp_path):
    seed(aws)
    server, audit = start(binary, aws, tmp_path)
    with server as s:
        async with Client(s.mcp_url) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not ok and out["body"] == "hello"
            assert_denied(await call(c, "s3_get_object", bucket="denied-bucket", key="x.txt"))
        async with Client(s.mcp_url, mode="legacy") as c:
            ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="via-http.txt", body="h")
            assert not ok and aws.object_exists("allowed-bucket", "via-http.txt")
    assert "s3_get_object" in names and len(names) == 24
    outcomes = [r["outcome"] for r in read_audit(audit) if r["event"] == "result"]
    assert outcomes == ["ok", "denied", "ok"]


async def test_http_sse_with_the_python_sdk(binary, aws, tmp_path):
    seed(aws)
    server, audit = start(binary, aws, tmp_path)
    with server as s:
        async with Client(sse_client(s.sse_url), mode="legacy") as c:
            names = {t.name for t in (await c.list_tools()).tools}
            ok, out = await call(c, "dynamodb_get_item", table="allowed-table", key={"pk": "a"})
            assert not ok and out["item"]["name"] == "first"
            assert_denied(await call(c, "dynamodb_get_item", table="denied-table", key={"pk": "a"}))
    assert len(names) == 24
    records = [r for r in read_audit(audit) if r["event"] == "result"]
    assert [r["outcome"] for r in records] == ["ok", "denied"]
    assert records[0]["client"]["name"]


async def test_bearer_token_is_required_when_set(binary, aws, tmp_path):
    seed(aws)
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    server, _ = start(binary, aws, tmp_path, "--auth-token-file", str(token_file))
    with server as s:
        for route, method in ((s.mcp_url, "POST"), (s.sse_url, "GET"), (f"{s.base}/message?sessionId=x", "POST")):
            response = httpx.request(method, route, json=INITIALIZE, headers=JSON_HEADERS)
            assert response.status_code == 401, (route, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = httpx.request(method, route, json=INITIALIZE, headers={**JSON_HEADERS, "Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        headers = {"Authorization": "Bearer s3cret-token"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            ok, _ = await call(c, "s3_list_bucket", bucket="allowed-bucket")
            assert not ok
        async with Client(sse_client(s.sse_url, headers=headers), mode="legacy") as c:
            ok, _ = await call(c, "s3_list_bucket", bucket="allowed-bucket")
            assert not ok


async def test_token_from_the_environment(binary, aws, tmp_path):
    seed(aws)
    server, _ = start(binary, aws, tmp_path, AWSGATE_AUTH_TOKEN="env-token")
    with server as s:
        assert httpx.post(s.mcp_url, json=INITIALIZE, headers=JSON_HEADERS).status_code == 401
        ok = httpx.post(s.mcp_url, json=INITIALIZE, headers={**JSON_HEADERS, "Authorization": "Bearer env-token"})
        assert ok.status_code == 200


async def test_host_and_origin_are_checked(binary, aws, tmp_path):
    seed(aws)
    server, _ = start(binary, aws, tmp_path)
    with server as s:
        port = s.base.rsplit(":", 1)[1]
        good = httpx.post(s.mcp_url, json=INITIALIZE, headers=JSON_HEADERS)
        assert good.status_code == 200
        for host in (f"evil.example:{port}", "attacker.test"):
            response = httpx.post(s.mcp_url, json=INITIALIZE, headers={**JSON_HEADERS, "Host": host})
            assert response.status_code == 403, host
            assert httpx.get(s.sse_url, headers={"Host": host}).status_code == 403
        for origin in ("https://evil.example", "http://attacker.test:8080", "null"):
            response = httpx.post(s.mcp_url, json=INITIALIZE, headers={**JSON_HEADERS, "Origin": origin})
            assert response.status_code == 403, origin
        local = httpx.post(s.mcp_url, json=INITIALIZE, headers={**JSON_HEADERS, "Origin": f"http://localhost:{port}"})
        assert local.status_code == 200


async def test_request_bodies_are_bounded(binary, aws, tmp_path):
    seed(aws)
    server, _ = start(binary, aws, tmp_path)
    with server as s:
        huge = b"{" + b" " * (13 * 1024 * 1024) + b"}"
        response = httpx.post(s.mcp_url, content=huge, headers=JSON_HEADERS)
        assert response.status_code == 413
        response = httpx.post(f"{s.base}/message?sessionId=unknown", content=huge, headers=JSON_HEADERS)
        assert response.status_code == 413
        assert httpx.post(f"{s.base}/message?sessionId=unknown", json=INITIALIZE).status_code == 404


def test_non_loopback_address_needs_a_token(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    result = subprocess.run(
        [str(binary), "serve", "--policy", str(policy), "--transport", "http", "--listen", "0.0.0.0:0"],
        env=awsgate_env(aws.endpoint),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "not a loopback address" in result.stderr and "AWSGATE_AUTH_TOKEN" in result.stderr


def test_server_refuses_an_invalid_policy(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY.replace("s3:ListAllMyBuckets", "s3:ListAllMyBucket"))
    result = subprocess.run(
        [str(binary), "serve", "--policy", str(policy)],
        env=awsgate_env(aws.endpoint),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert f"{policy}:" in result.stderr and "unknown action `s3:ListAllMyBucket`; did you mean `s3:ListAllMyBuckets`?" in result.stderr
    assert result.stdout == ""


def test_policy_from_the_environment_and_logs_only_on_stderr(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    request = (
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},'
        '"clientInfo":{"name":"raw","version":"0"}}}\n'
    )
    result = subprocess.run(
        [str(binary), "serve"],
        env=awsgate_env(aws.endpoint, AWSGATE_POLICY=str(policy)),
        input=request,
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and '"serverInfo"' in lines[0] and "awsgate: integration" in lines[0]
    assert "awsgate ready" in result.stderr


async def test_rate_limit_holds_across_stateless_http_requests(binary, aws, tmp_path):
    """2026-07-28 clients are served statelessly over HTTP: the limit must still hold."""
    seed(aws)
    policy = write_policy(tmp_path, POLICY.replace("calls_per_minute: 0", "calls_per_minute: 2"))
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path) as s:
        async with Client(s.mcp_url) as c:
            results = [await call(c, "s3_list_bucket", bucket="allowed-bucket") for _ in range(3)]
    assert [ok for ok, _ in results] == [False, False, True]
    assert results[2][1]["error"] == "RateLimited"
