"""Faults and limits: a proxy that drops or delays moto's answers, unwritable and
never-drained stderr, cancellation, SIGTERM with open streams, idle sockets, a secret a
credential process prints, hostile Host headers and malformed JSON-RPC. Raw JSON-RPC over
the server's pipes where a client library would hide what is on the wire."""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import ACCOUNT, REGION, awsgate_env, http_server, read_audit, stop, write_policy
from faultproxy import FaultProxy
from test_tools import POLICY, call, gateway, seed

pytestmark = pytest.mark.anyio

APPROVAL_POLICY = f"""
version: 1
name: faults
region: {REGION}
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
  call_timeout_seconds: 2
statements:
  - sid: Writes
    effect: allow
    actions: [s3:PutObject, s3:GetObject, sqs:SendMessage, sqs:GetQueueUrl]
    resources: ["arn:aws:s3:::allowed-bucket/*", "arn:aws:sqs:{REGION}:{ACCOUNT}:allowed-queue"]
  - sid: Approved
    effect: allow
    actions: [s3:PutObject]
    resources: ["arn:aws:s3:::allowed-bucket/approved/*"]
    approval: required
"""


def moto_port(aws) -> int:
    return int(aws.endpoint.rsplit(":", 1)[1])


class Stdio:
    """awsgate over stdio, spoken to in raw JSON-RPC lines."""

    def __init__(self, binary: Path, policy: Path, env: dict[str, str], *, audit: Path | None = None,
                 stderr=subprocess.DEVNULL, capabilities: dict | None = None, preexec=None):
        args = [str(binary), "serve", "--policy", str(policy)]
        if audit is not None:
            args += ["--audit-log", str(audit)]
        self.process = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                        preexec_fn=preexec)
        self.pending = b""
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": capabilities or {}, "clientInfo": {"name": "raw", "version": "1"}}})
        assert self.read(20)["id"] == 0
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message) -> None:
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"no message within {timeout}s")
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("awsgate closed stdout")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def reply_to(self, request_id, timeout: float = 20) -> dict:
        while True:
            message = self.read(timeout)
            if message.get("id") == request_id and "method" not in message:
                return message

    def call(self, request_id, name: str, arguments: dict) -> None:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments}})

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        stop(self.process)


def tool_error(reply: dict) -> str | None:
    result = reply["result"]
    return result["structuredContent"].get("error") if result.get("isError") else None


async def test_a_write_whose_answer_is_lost_reaches_aws_once_and_says_its_outcome_is_unknown(binary, aws, tmp_path):
    seed(aws)
    proxy = FaultProxy(moto_port(aws), drop_after=lambda op: op in ("SendMessage", "PUT"))
    try:
        async with gateway(binary, proxy.endpoint, tmp_path, POLICY) as c:
            queue = aws.queue_url("allowed-queue")
            failed, out = await call(c, "sqs_send_message", queue_url=queue, message_body="exactly once")
            assert failed and out["error"] == "OutcomeUnknown", out
            assert "may or may not" in out["message"] and "does not retry" in out["message"]
            failed, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="once.txt", body="x")
            assert failed and out["error"] == "OutcomeUnknown", out
            # A read is retried as usual, and still works through the proxy.
            failed, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not failed, out
    finally:
        proxy.close()
    assert proxy.forwarded["SendMessage"] == 1, proxy.forwarded
    assert proxy.forwarded["PUT"] == 1, proxy.forwarded
    attributes = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"


async def test_a_write_that_times_out_says_its_outcome_is_unknown(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, APPROVAL_POLICY)
    proxy = FaultProxy(moto_port(aws), delay=lambda op: 4.0 if op == "SendMessage" else 0.0)
    server = Stdio(binary, policy, awsgate_env(proxy.endpoint), audit=tmp_path / "audit.jsonl")
    try:
        server.call(1, "sqs_send_message", {"queue_url": aws.queue_url("allowed-queue"), "message_body": "slow"})
        reply = server.reply_to(1)
        assert tool_error(reply) == "OutcomeUnknown", reply
        assert "call_timeout_seconds" in reply["result"]["structuredContent"]["message"]
    finally:
        server.close()
        proxy.close()


def test_an_unwritable_stderr_refuses_calls_instead_of_panicking(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, APPROVAL_POLICY)
    with open("/dev/full", "wb") as full:
        server = Stdio(binary, policy, awsgate_env(aws.endpoint), stderr=full)
        try:
            for i in range(1, 4):
                server.call(i, "s3_get_object", {"bucket": "allowed-bucket", "key": "read.txt"})
                assert tool_error(server.reply_to(i)) == "AuditUnavailable"
            assert server.process.poll() is None, "the server must keep running"
        finally:
            server.close()
    assert server.process.returncode != 101, "a panic"


def test_a_stderr_nobody_drains_refuses_calls_within_seconds(binary, aws, tmp_path):
    """stderr is a pipe whose reader never reads: once it is full, writes block. Each call
    must still be answered, within the audit sink's bounded wait."""
    seed(aws)
    policy = write_policy(tmp_path, APPROVAL_POLICY)
    server = Stdio(binary, policy, awsgate_env(aws.endpoint), stderr=subprocess.PIPE)
    try:
        errors = []
        for i in range(1, 400):
            started = time.monotonic()
            server.call(i, "s3_get_object", {"bucket": "other-bucket", "key": "k"})
            reply = server.reply_to(i, timeout=10)
            assert time.monotonic() - started < 6
            errors.append(tool_error(reply))
            if errors[-1] == "AuditUnavailable" and errors.count("AuditUnavailable") >= 3:
                break
        assert errors[0] == "AccessDenied"
        assert errors[-1] == "AuditUnavailable", errors[-5:]
    finally:
        server.close()


def test_a_call_cancelled_while_it_waits_for_approval_never_reaches_aws(binary, aws, tmp_path):
    seed(aws)
    policy = write_policy(tmp_path, APPROVAL_POLICY)
    audit = tmp_path / "audit.jsonl"
    server = Stdio(binary, policy, awsgate_env(aws.endpoint), audit=audit, capabilities={"elicitation": {"form": {}}})
    try:
        server.call(1, "s3_put_object", {"bucket": "allowed-bucket", "key": "approved/q.csv", "body": "x"})
        question = server.read(20)
        assert question["method"] == "elicitation/create", question
        server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "reason": "user"}})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(r.get("outcome") == "cancelled" for r in read_audit(audit)):
            time.sleep(0.05)
        # The human says yes after all: too late, the call is gone.
        server.send({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"approve": True}}})
        server.call(2, "s3_get_object", {"bucket": "allowed-bucket", "key": "read.txt"})
        assert tool_error(server.reply_to(2)) is None
    finally:
        server.close()
    assert not aws.object_exists("allowed-bucket", "approved/q.csv")
    results = [r for r in read_audit(audit) if r["event"] == "result" and r["tool"] == "s3_put_object"]
    assert [(r["outcome"], r["error"]) for r in results] == [("cancelled", "Cancelled")]


def test_a_client_that_never_answers_cannot_pile_up_approvals(binary, aws, tmp_path):
    """Each waiting call holds its arguments; the count of waiting approvals is capped, so a
    flood of 1,000 uploads that nobody answers stays small."""
    seed(aws)
    policy = write_policy(tmp_path, APPROVAL_POLICY)
    server = Stdio(binary, policy, awsgate_env(aws.endpoint), audit=tmp_path / "audit.jsonl",
                   capabilities={"elicitation": {"form": {}}})
    body = "x" * (256 << 10)
    try:
        refused = 0
        for i in range(1, 1001):
            server.call(i, "s3_put_object", {"bucket": "allowed-bucket", "key": f"approved/{i}", "body": body})
        deadline = time.monotonic() + 120
        while refused < 1000 - 16 and time.monotonic() < deadline:
            message = server.read(30)
            if "method" not in message and tool_error(message) == "ApprovalDenied":
                assert "most approvals" in message["result"]["structuredContent"]["message"]
                refused += 1
        rss = int(Path(f"/proc/{server.process.pid}/status").read_text().split("VmRSS:")[1].split()[0])
        print(f"resident memory with 16 approvals waiting after 1,000 asked: {rss / 1024:.1f} MiB")
        assert refused == 1000 - 16
        assert rss < 100 * 1024, rss
    finally:
        server.close()
    for i in (1, 500, 1000):
        assert not aws.object_exists("allowed-bucket", f"approved/{i}")


def test_sigterm_ends_the_server_within_a_second_with_an_sse_client_connected(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "a.jsonl")) as s:
        with httpx.Client(timeout=5) as client, client.stream("GET", s.sse_url) as events:
            first = next(events.iter_lines())
            assert first.startswith("event: endpoint")
            started = time.monotonic()
            s.process.send_signal(signal.SIGTERM)
            s.process.wait(timeout=10)
            took = time.monotonic() - started
    assert took < 1.0, f"took {took:.2f}s"


def test_idle_sockets_are_closed_even_at_a_low_descriptor_limit(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    env = awsgate_env(aws.endpoint)
    stderr_path = tmp_path / "http.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(binary), "serve", "--policy", str(policy), "--transport", "http", "--listen", "127.0.0.1:0",
             "--audit-log", str(tmp_path / "a.jsonl")],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=low_limit)
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in stderr_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            port = int(stderr_path.read_text().split("listening on http://127.0.0.1:")[1].split("/")[0])
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
            time.sleep(1)
            started = time.monotonic()
            for sock in idle:
                sock.settimeout(20)
                assert sock.recv(1) == b"", "the server must close an idle socket"
                sock.close()
            print(f"300 idle sockets closed within {time.monotonic() - started + 1:.1f}s of opening")
            reply = httpx.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                          "clientInfo": {"name": "t", "version": "1"}}},
                               headers={"Accept": "application/json, text/event-stream"}, timeout=10)
            assert reply.status_code == 200, reply.text
        finally:
            stop(process)


def test_sessions_are_capped_and_memory_stays_bounded(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "a.jsonl"),
                     "--max-sessions", "200") as s:
        def rss_kib() -> int:
            return int(Path(f"/proc/{s.process.pid}/status").read_text().split("VmRSS:")[1].split()[0])

        with httpx.Client(timeout=10) as client:
            ids = []
            for n in range(1, 10_001):
                reply = client.post(s.mcp_url, json=initialize, headers=headers)
                assert reply.status_code == 200
                ids.append(reply.headers["mcp-session-id"])
                if n == 2_000:
                    early = rss_kib()
            rss = rss_kib()
            print(f"resident memory after 2,000 sessions: {early / 1024:.1f} MiB, after 10,000: {rss / 1024:.1f} MiB (cap 200)")
            # The newest session works; the oldest was closed to make room.
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            newest = client.post(s.mcp_url, json=ping, headers={**headers, "mcp-session-id": ids[-1],
                                                                "mcp-protocol-version": "2025-06-18"})
            oldest = client.post(s.mcp_url, json=ping, headers={**headers, "mcp-session-id": ids[0],
                                                                "mcp-protocol-version": "2025-06-18"})
            # A client that ends its session is told it ended (204, as the MCP SDKs expect).
            ended = client.delete(s.mcp_url, headers={"mcp-session-id": ids[-1], "mcp-protocol-version": "2025-06-18"})
            assert ended.status_code == 204, ended
            after = client.post(s.mcp_url, json=ping, headers={**headers, "mcp-session-id": ids[-1],
                                                               "mcp-protocol-version": "2025-06-18"})
    assert newest.status_code == 200, newest.text
    assert oldest.status_code == 404, oldest.text
    assert after.status_code == 404, after.text
    # Past the cap, more sessions cost no more memory.
    assert rss - early < 16 * 1024, (early, rss)


def test_a_secret_printed_by_a_failing_credential_process_reaches_no_output(binary, aws, tmp_path):
    canary = "CANARY-SECRET-5f0c2b"
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile agent]\n"
        f"credential_process = sh -c 'echo \"aws_secret_access_key={canary}\" >&2; echo {canary}; exit 1'\n"
        f"region = {REGION}\n"
    )
    policy = write_policy(tmp_path, POLICY)
    audit = tmp_path / "audit.jsonl"
    env = {k: v for k, v in awsgate_env(aws.endpoint).items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_PROFILE="agent", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        server = Stdio(binary, policy, env, audit=audit, stderr=stderr)
        try:
            server.call(1, "s3_get_object", {"bucket": "allowed-bucket", "key": "read.txt"})
            reply = server.reply_to(1)
        finally:
            server.close()
    assert tool_error(reply) == "CredentialsUnavailable", reply
    for output in (json.dumps(reply), stderr_path.read_text(), audit.read_text()):
        assert canary not in output


def test_hostile_host_and_origin_forms_are_refused(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "a.jsonl")) as s:
        port = s.base.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}@evil.example", "[::1]evil.example", "evil.example", f"localhost:{port}/x"):
            with socket.create_connection(("127.0.0.1", int(port))) as sock:
                sock.sendall(f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\n{{}}".encode())
                status = sock.recv(200).split(b"\r\n", 1)[0]
            assert b" 403 " in status or b" 400 " in status, (host, status)
        reply = httpx.post(s.mcp_url, headers={"Origin": "http://localhost@evil.example"}, json={})
        assert reply.status_code == 403


def test_malformed_json_rpc_gets_the_right_error_codes(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    server = Stdio(binary, policy, awsgate_env(aws.endpoint), audit=tmp_path / "audit.jsonl")
    try:
        server.send(b"this is not json")
        parse = server.read(10)
        assert parse["error"]["code"] == -32700 and parse["id"] is None
        server.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"nme": "x"}})
        assert server.reply_to(3)["error"]["code"] == -32602
        server.send({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": "a string"})
        assert server.reply_to(4)["error"]["code"] == -32602
        server.send({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"cursor": "bogus"}})
        assert server.reply_to(5)["error"]["code"] == -32602
        server.send({"jsonrpc": "2.0", "id": 6, "method": "no/such/method"})
        assert server.reply_to(6)["error"]["code"] == -32601
        server.send({"jsonrpc": "2.0", "id": 7, "method": "tools/list"})
        assert server.reply_to(7)["result"]["tools"]
    finally:
        server.close()


def test_malformed_json_rpc_over_streamable_http_gets_400_and_the_right_codes(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "a.jsonl")) as s:
        with httpx.Client(timeout=10, headers=headers) as client:
            init = client.post(s.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
            session = {"mcp-session-id": init.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
            cases = [
                (b"this is not json", -32700, None),
                (b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"nme":"x"}}', -32602, 3),
                (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"s"}', -32602, 5),
            ]
            for body, code, request_id in cases:
                reply = client.post(s.mcp_url, content=body, headers=session)
                assert reply.status_code == 400, (body, reply.status_code, reply.text)
                assert reply.json()["error"]["code"] == code and reply.json()["id"] == request_id


def test_malformed_json_rpc_over_legacy_sse_is_answered_on_the_event_stream(binary, aws, tmp_path):
    """An HTTP+SSE client waits for its answers on the event stream: a malformed POST is
    answered there too (and in the POST's 400), with the request's id where it has one."""
    policy = write_policy(tmp_path, POLICY)
    cases = [
        (b"this is not json", -32700, None),
        (b"[]", -32600, None),
        (b'{"jsonrpc":"1.0","id":2,"method":"tools/list"}', -32600, 2),
        (b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"nme":"x"}}', -32602, 3),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"s"}', -32602, 5),
        (b'{"jsonrpc":"2.0","id":6,"method":7}', -32600, 6),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":8,"method":"no/such/method"}', -32601, 8),
    ]
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "a.jsonl")) as s:
        with httpx.Client(timeout=10) as client, client.stream("GET", s.sse_url) as stream:
            lines = stream.iter_lines()

            def next_event() -> tuple[str, str]:
                event, data = "", ""
                for line in lines:
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data = line.split(":", 1)[1].strip()
                    elif line == "" and data:
                        return event, data
                raise AssertionError("the event stream ended")

            event, endpoint = next_event()
            assert event == "endpoint", (event, endpoint)
            post_url = s.base + endpoint
            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
            assert client.post(post_url, json=init).status_code == 202
            assert json.loads(next_event()[1])["id"] == 1
            client.post(post_url, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
            for body, code, request_id in cases:
                reply = client.post(post_url, content=body, headers={"Content-Type": "application/json"})
                assert reply.status_code in (202, 400), (body, reply.status_code, reply.text)
                event, data = next_event()
                answer = json.loads(data)
                assert event == "message" and answer["error"]["code"] == code, (body, answer)
                assert answer["id"] == request_id, (body, answer)
