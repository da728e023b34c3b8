"""Reloading the policy: with `--watch`, a change that alters the tool list reaches a
connected client as `notifications/tools/list_changed` and takes effect; an invalid file
leaves the old policy working; SIGHUP reloads without `--watch`; each reload leaves a
`policy_reloaded` audit record naming the old and new hashes."""

from __future__ import annotations

import hashlib
import os
import signal
import time

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import awsgate_env, http_server, read_audit, write_policy
from test_tools import POLICY, assert_denied, call, seed

pytestmark = pytest.mark.anyio

S3_ONLY = POLICY.split("  - sid: AllowedTable")[0]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await anyio.sleep(0.05)


async def test_a_watched_reload_reaches_the_client_and_an_invalid_one_keeps_the_old_policy(binary, aws, tmp_path):
    seed(aws)
    path = write_policy(tmp_path, S3_ONLY)
    audit = tmp_path / "audit.jsonl"
    changed = []

    async def on_message(message) -> None:
        if type(message).__name__ == "ToolListChangedNotification" or getattr(getattr(message, "root", None), "method", "") == "notifications/tools/list_changed":
            changed.append(message)

    params = StdioServerParameters(
        command=str(binary),
        args=["serve", "--policy", str(path), "--audit-log", str(audit), "--watch"],
        env=awsgate_env(aws.endpoint),
    )
    async with Client(params, mode="legacy", message_handler=on_message) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "sqs_send_message" not in names and "s3_get_object" in names
        assert_denied(await call(client, "sqs_send_message", queue_url=aws.queue_url("allowed-queue"), message_body="before"))

        path.write_text(POLICY)
        await wait_for(lambda: changed)
        names = {t.name for t in (await client.list_tools()).tools}
        assert "sqs_send_message" in names
        ok, out = await call(client, "sqs_send_message", queue_url=aws.queue_url("allowed-queue"), message_body="after")
        assert not ok, out

        # An invalid file is refused: the policy in force stays, tools and all.
        path.write_text(POLICY.replace("effect: allow", "effect: alow", 1))
        await anyio.sleep(1.5)
        ok, out = await call(client, "sqs_send_message", queue_url=aws.queue_url("allowed-queue"), message_body="still")
        assert not ok, out
        assert len(changed) == 1

    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url("allowed-queue"), MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in messages) == ["after", "still"]
    reloads = [r for r in read_audit(audit) if r["event"] == "policy_reloaded"]
    assert len(reloads) == 1, reloads
    assert reloads[0]["old_policy_hash"] == sha256(S3_ONLY)
    assert reloads[0]["new_policy_hash"] == sha256(POLICY)
    assert reloads[0]["trigger"] == "watch" and reloads[0]["seq"] > 1


async def test_sighup_reloads_and_a_restart_only_change_is_refused(binary, aws, tmp_path):
    seed(aws)
    path = write_policy(tmp_path, S3_ONLY)
    audit = tmp_path / "audit.jsonl"
    env = awsgate_env(aws.endpoint, AWSGATE_AUTH_TOKEN="operator-test-token-0123456789")
    with http_server(binary, path, env, tmp_path, "--audit-log", str(audit)) as server:
        headers = {"Authorization": "Bearer operator-test-token-0123456789"}
        import httpx

        async def tool_names() -> set[str]:
            async with httpx.AsyncClient(headers=headers) as http:
                async with Client(_streamable(server.mcp_url, http)) as client:
                    return {t.name for t in (await client.list_tools()).tools}

        assert "sqs_send_message" not in await tool_names()
        # A region change needs a restart: refused, the policy stays.
        path.write_text(POLICY.replace("region: us-east-1", "region: eu-west-1"))
        os.kill(server.process.pid, signal.SIGHUP)
        await wait_for(lambda: "policy reload refused" in server.stderr_path.read_text())
        assert "`region`" in server.stderr_path.read_text()
        assert "sqs_send_message" not in await tool_names()

        path.write_text(POLICY)
        os.kill(server.process.pid, signal.SIGHUP)
        await wait_for(lambda: "policy reloaded" in server.stderr_path.read_text())
        assert "sqs_send_message" in await tool_names()
        assert server.process.poll() is None
    reloads = [r for r in read_audit(audit) if r["event"] == "policy_reloaded"]
    assert [r["trigger"] for r in reloads] == ["SIGHUP"]


def _streamable(url: str, http):
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)


async def test_a_call_in_flight_finishes_under_the_policy_it_started_with(binary, aws, tmp_path):
    """AWS answers slowly (a delaying proxy in front of moto); the policy that allowed the call
    is replaced while it waits: the call completes, and the next one is judged by the new
    policy."""
    from faultproxy import FaultProxy

    seed(aws)
    proxy = FaultProxy(int(aws.endpoint.rsplit(":", 1)[1]), delay=lambda op: 2.0 if op == "GET" else 0.0)
    path = write_policy(tmp_path, POLICY)
    changed = []

    async def on_message(message) -> None:
        if type(message).__name__ == "ToolListChangedNotification" or getattr(getattr(message, "root", None), "method", "") == "notifications/tools/list_changed":
            changed.append(message)

    params = StdioServerParameters(command=str(binary), args=["serve", "--policy", str(path), "--watch"],
                                   env=awsgate_env(proxy.endpoint))
    try:
        async with Client(params, mode="legacy", message_handler=on_message) as client:
            results = []

            async def slow_read():
                results.append(await call(client, "s3_get_object", bucket="allowed-bucket", key="read.txt"))

            async with anyio.create_task_group() as group:
                group.start_soon(slow_read)
                await anyio.sleep(0.3)
                # Only the listing statement is left: no S3 object access.
                path.write_text(POLICY.split("  - sid: AllowedBucket")[0])
                await wait_for(lambda: changed)
            [(is_error, out)] = results
            assert not is_error and out["body"] == "hello", out
            assert_denied(await call(client, "s3_get_object", bucket="allowed-bucket", key="read.txt"))
    finally:
        proxy.close()
    assert proxy.forwarded["GET"] == 1


async def test_a_reload_that_cannot_be_audited_does_not_happen(binary, aws, tmp_path):
    """The audit sink is full (`/dev/full`): the reload's record cannot be written, so the new
    policy is refused and the old one stays in force."""
    path = write_policy(tmp_path, S3_ONLY)
    env = awsgate_env(aws.endpoint)
    with http_server(binary, path, env, tmp_path, "--audit-log", "/dev/full", "--watch") as server:
        path.write_text(POLICY)
        await wait_for(lambda: "policy reload refused" in server.stderr_path.read_text())
        log = server.stderr_path.read_text()
        assert "audit log cannot record the reload" in log and "policy reloaded" not in log
        async with Client(server.mcp_url) as client:
            names = {t.name for t in (await client.list_tools()).tools}
        assert "sqs_send_message" not in names


async def test_a_2026_client_hears_of_a_reload_on_subscriptions_listen(binary, aws, tmp_path):
    """The Python SDK 2.x in its default mode (protocol 2026-07-28) has no session to be
    told on: it opens `subscriptions/listen`, and a reload reaches it there."""
    path = write_policy(tmp_path, S3_ONLY)
    audit = tmp_path / "audit.jsonl"
    env = awsgate_env(aws.endpoint)
    with http_server(binary, path, env, tmp_path, "--audit-log", str(audit), "--watch") as server:
        async with Client(server.mcp_url) as client:
            assert "sqs_send_message" not in {t.name for t in (await client.list_tools()).tools}
            async with client.listen(tools_list_changed=True) as subscription:
                assert subscription.honored.tools_list_changed
                path.write_text(POLICY)
                with anyio.fail_after(10):
                    event = await subscription.__anext__()
                assert "tools" in type(event).__name__.lower() or "tool" in repr(event).lower(), event
                assert "sqs_send_message" in {t.name for t in (await client.list_tools()).tools}
