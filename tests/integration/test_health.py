"""Health and readiness without authentication (`/healthz`, `/readyz`), the replica id in
every audit record, and `audit verify` of several files (one chain per replica)."""

from __future__ import annotations

import json
import subprocess

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import awsgate_env, http_server, read_audit, write_policy
from test_tools import POLICY, call, seed

pytestmark = pytest.mark.anyio

TOKEN = "agent-token-0123456789abcdef"


async def test_readiness_follows_the_audit_log_and_needs_no_token(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    env = awsgate_env(aws.endpoint, AWSGATE_AUTH_TOKEN=TOKEN)
    with http_server(binary, policy, env, tmp_path, "--audit-log", "/dev/full") as s:
        assert httpx.get(f"{s.base}/healthz").json() == {"ok": True}
        assert httpx.get(f"{s.base}/readyz").status_code == 200
        # Everything else still needs the token.
        assert httpx.post(s.mcp_url, json={}).status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert ok and out["error"] == "AuditUnavailable", out
        ready = httpx.get(f"{s.base}/readyz")
        assert ready.status_code == 503 and "audit log cannot be written" in ready.json()["reason"], ready.text
        assert httpx.get(f"{s.base}/healthz").status_code == 200


async def test_every_record_names_its_replica_and_verify_checks_each_file(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    logs = [tmp_path / "replica-a.jsonl", tmp_path / "replica-b.jsonl"]
    for replica, log in zip(("replica-a", "replica-b"), logs):
        with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(log),
                         "--replica-id", replica) as s:
            async with Client(s.mcp_url) as c:
                await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        assert {r["replica"] for r in read_audit(log)} == {replica}
    verified = subprocess.run([str(binary), "audit", "verify", *map(str, logs)], capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.count(": ok,") == 2, verified
    # One record of replica b altered: b fails, a still verifies.
    lines = logs[1].read_text().splitlines()
    record = json.loads(lines[0])
    record["decision"] = "deny" if record.get("decision") == "allow" else "allow"
    logs[1].write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    verified = subprocess.run([str(binary), "audit", "verify", *map(str, logs)], capture_output=True, text=True)
    assert verified.returncode == 1 and "replica-a.jsonl: ok" in verified.stdout, verified
    assert "replica-b.jsonl" in verified.stderr, verified


async def test_metrics_count_what_the_audit_log_records(binary, aws, tmp_path):
    """`--metrics-listen`: Prometheus text whose call counters agree with the result records,
    labelled by agent, action, decision and outcome only; health and readiness there too."""
    from conftest import free_port

    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    audit = tmp_path / "audit.jsonl"
    port = free_port()
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(audit),
                     "--metrics-listen", f"127.0.0.1:{port}") as s:
        async with Client(s.mcp_url) as c:
            await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            await call(c, "s3_get_object", bucket="denied-bucket", key="x")
            await call(c, "s3_get_object", bucket="allowed-bucket", key="missing")
            # An unknown tool name is the client's own string: it makes no series of its own.
            await call(c, "no_such_tool_x1", bucket="b")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"ready": True}
    results = [r for r in read_audit(audit) if r["event"] == "result"]
    counted: dict = {}
    for r in results:
        key = (r["agent"], r.get("action"), r.get("decision"), r["outcome"])
        counted[key] = counted.get(key, 0) + 1
    assert "no_such_tool_x1" not in text
    for (agent, action, decision, outcome), n in counted.items():
        action = action or "-"
        decision = decision or "none"
        line = (f'awsgate_calls_total{{agent="{agent}",action="{action}",decision="{decision}",'
                f'outcome="{outcome}"}} {n}')
        assert line in text, (line, text)
    assert 'awsgate_aws_errors_total{code="NoSuchKey"} 1' in text, text
    assert 'awsgate_build_info{version="' in text and "awsgate_approvals_pending 0" in text
    assert 'awsgate_call_duration_seconds_count{transport="http"} 5' in text
    # No label holds a resource, a key or a client's name.
    assert "read.txt" not in text and "denied-bucket" not in text and 'client' not in text
