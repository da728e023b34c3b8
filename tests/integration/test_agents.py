"""Many agents on one gateway (`serve --agents`): each sees and may do only what its own
policy allows, over streamable HTTP, the older HTTP+SSE transport and the sidecar; a
session opened by one agent is refused with another's token; the rate limit holds per
agent however many sessions it opens and whatever name its client gives; every audit
record names the agent. `awsgate agent-token new` and `awsgate check` on an agents file;
`aws:PrincipalTag`, and the role session named after the agent; a reload of the agents file,
all or nothing."""

from __future__ import annotations

import hashlib
import re
import time

import anyio
import subprocess

import boto3
import botocore.exceptions
import httpx
import httpx2
import pytest
from botocore.config import Config
from mcp import Client
from mcp.types import Implementation
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from conftest import ACCOUNT, awsgate_env, free_port, http_server, read_audit
from test_sidecar import keys_file
from test_roles import enforcing_moto  # noqa: F401 - a fixture
from test_tools import call, seed

pytestmark = pytest.mark.anyio


def policy(name: str, bucket: str, calls_per_minute: int = 0) -> str:
    return f"""
version: 1
name: {name}
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: {calls_per_minute}
statements:
  - sid: Own{name.title().replace('-', '')}
    effect: allow
    actions: ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
    resources: ["arn:aws:s3:::{bucket}", "arn:aws:s3:::{bucket}/*"]
"""


def token(binary, name: str) -> tuple[str, str]:
    """A new static token for `name`: the token, and its `token_sha256:` line."""
    out = subprocess.run([str(binary), "agent-token", "new", name], capture_output=True, text=True, check=True).stdout
    secret = re.search(r"^# ([A-Za-z0-9_-]{43})$", out, flags=re.M).group(1)
    line = re.search(r"^token_sha256: [0-9a-f]{64}$", out, flags=re.M).group(0)
    return secret, line


def agents_setup(binary, tmp_path, limit: int = 0):
    (tmp_path / "reports.yaml").write_text(policy("reports", "allowed-bucket", limit))
    (tmp_path / "support.yaml").write_text(policy("support", "denied-bucket", limit))
    reports_token, reports_line = token(binary, "reports-bot")
    support_token, support_line = token(binary, "support-bot")
    keys, key_id, secret = keys_file(binary, tmp_path, "reports-key")
    agents = tmp_path / "agents.yaml"
    agents.write_text(f"""
agents:
  - name: reports-bot
    policy: reports.yaml
    {reports_line}
    agent_key: reports-key
    tags: {{team: reports}}
  - name: support-bot
    policy: support.yaml
    {support_line}
""")
    return agents, keys, {"reports-bot": reports_token, "support-bot": support_token}, (key_id, secret)


def agents_server(binary, aws, tmp_path, agents, *args):
    # `http_server` passes `--policy`; the agents file replaces it.
    return http_server(binary, agents, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "audit.jsonl"),
                       *args, policy_flag="--agents")


async def test_two_agents_see_and_do_only_their_own_policies(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="denied-bucket", Key="support.txt", Body=b"support's")
    agents, keys, tokens, (key_id, secret) = agents_setup(binary, tmp_path)
    port = free_port()
    with agents_server(binary, aws, tmp_path, agents, "--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys)) as s:
        headers = {"Authorization": f"Bearer {tokens['reports-bot']}"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not ok and out["body"] == "hello", out
            ok, out = await call(c, "s3_get_object", bucket="denied-bucket", key="support.txt")
            assert ok and out["error"] == "AccessDenied", out
        support = {"Authorization": f"Bearer {tokens['support-bot']}"}
        async with Client(sse_client(s.sse_url, headers=support), mode="legacy") as c:
            ok, out = await call(c, "s3_get_object", bucket="denied-bucket", key="support.txt")
            assert not ok and out["body"] == "support's", out
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert ok and out["error"] == "AccessDenied", out

        # Unknown and missing tokens: 401, naming no agent.
        for bad in ({"Authorization": "Bearer not-a-token"}, {}):
            reply = httpx.post(s.mcp_url, headers={**bad, "Content-Type": "application/json",
                                                   "Accept": "application/json, text/event-stream"},
                               json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert reply.status_code == 401 and reply.headers["www-authenticate"].startswith("Bearer"), reply.text
        refused = httpx.get(f"{s.mcp_url}?access_token={tokens['reports-bot']}", headers={"Accept": "text/event-stream"})
        assert refused.status_code == 400 and "query string" in refused.text

        # The sidecar: the key is reports-bot's, judged by its policy.
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          config=Config(retries={"max_attempts": 1}))
        assert s3.get_object(Bucket="allowed-bucket", Key="read.txt")["Body"].read() == b"hello"
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            s3.get_object(Bucket="denied-bucket", Key="support.txt")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    records = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "decision"]
    assert [(r["agent"], r["decision"]) for r in records] == [
        ("reports-bot", "allow"), ("reports-bot", "deny"), ("support-bot", "allow"), ("support-bot", "deny"),
        ("reports-bot", "allow"), ("reports-bot", "deny")]
    assert [r["transport"] for r in records] == ["http", "http", "sse", "sse", "sidecar", "sidecar"]


async def test_a_session_belongs_to_the_agent_that_opened_it(binary, aws, tmp_path):
    seed(aws)
    agents, _, tokens, _ = agents_setup(binary, tmp_path)
    with agents_server(binary, aws, tmp_path, agents) as s:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        opened = httpx.post(s.mcp_url, headers={**base, "Authorization": f"Bearer {tokens['reports-bot']}"}, json=init)
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        other = {**base, "Authorization": f"Bearer {tokens['support-bot']}", "mcp-session-id": session,
                 "mcp-protocol-version": "2025-06-18"}
        refused = httpx.post(s.mcp_url, headers=other, json=listing)
        assert refused.status_code == 403 and "another agent" in refused.text
        own = {**other, "Authorization": f"Bearer {tokens['reports-bot']}"}
        httpx.post(s.mcp_url, headers=own, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = httpx.post(s.mcp_url, headers=own, json=listing)
        assert listed.status_code == 200 and "s3_get_object" in listed.text

        # The SSE session too: another agent cannot post to it.
        with httpx.Client(timeout=10) as http, http.stream(
                "GET", s.sse_url, headers={"Authorization": f"Bearer {tokens['reports-bot']}"}) as stream:
            lines = stream.iter_lines()
            endpoint = next(line for line in lines if line.startswith("data:")).split(":", 1)[1].strip()
            posted = http.post(s.base + endpoint, json=init, headers={"Authorization": f"Bearer {tokens['support-bot']}"})
            assert posted.status_code == 403 and "another agent" in posted.text


async def test_the_rate_limit_holds_per_agent_across_sessions_and_client_names(binary, aws, tmp_path):
    seed(aws)
    agents, _, tokens, _ = agents_setup(binary, tmp_path, limit=3)
    with agents_server(binary, aws, tmp_path, agents) as s:
        outcomes = []
        # Six sessions of one agent, each client calling itself something else.
        for n in range(6):
            headers = {"Authorization": f"Bearer {tokens['reports-bot']}"}
            async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers)),
                              mode="legacy", client_info=Implementation(name=f"client-{n}", version="1")) as c:
                ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket")
                outcomes.append(out.get("error", "ran"))
        assert outcomes == ["ran", "ran", "ran", "RateLimited", "RateLimited", "RateLimited"], outcomes
        # Another agent has its own budget.
        headers = {"Authorization": f"Bearer {tokens['support-bot']}"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            ok, out = await call(c, "s3_list_bucket", bucket="denied-bucket")
            assert "error" not in out, out


def test_agent_tokens_and_checking_an_agents_file(binary, tmp_path):
    secret, line = token(binary, "ci-job")
    assert len(secret) == 43 and line.startswith("token_sha256: ")
    bad = subprocess.run([str(binary), "agent-token", "new", "bad name"], capture_output=True, text=True)
    assert bad.returncode != 0 and "not an agent name" in bad.stderr
    (tmp_path / "p.yaml").write_text(policy("p", "b"))
    good = tmp_path / "agents.yaml"
    good.write_text(f"agents:\n  - name: ci-job\n    policy: p.yaml\n    {line}\n")
    checked = subprocess.run([str(binary), "check", str(good)], capture_output=True, text=True)
    assert checked.returncode == 0 and "agent `ci-job`: ok" in checked.stdout, checked
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"agents:\n  - name: ci-job\n    policy: p.yaml\n    {line}\n  - name: twin\n    policy: missing.yaml\n    {line}\n")
    checked = subprocess.run([str(binary), "check", str(broken)], capture_output=True, text=True)
    assert checked.returncode == 1 and "broken.yaml:5:5: error: two agents have the same token_sha256" in checked.stdout, checked
    lonely = tmp_path / "lonely.yaml"
    lonely.write_text("agents:\n  - name: lonely\n    policy: missing.yaml\n    agent_key: k\n"
                      "  - name: other\n    policy: also-missing.yaml\n    agent_key: j\n")
    checked = subprocess.run([str(binary), "check", str(lonely)], capture_output=True, text=True)
    # Every policy that does not load is reported, not only the first.
    assert checked.returncode == 1 and "agent `lonely`: its policy or its shadow does not load" in checked.stdout, checked
    assert "agent `other`: its policy or its shadow does not load" in checked.stdout and "also-missing.yaml" in checked.stdout


async def test_principal_tags_decide_and_the_role_session_names_the_agent(binary, enforcing_moto, tmp_path):
    """`aws:PrincipalTag/team` is the agent's tag; with a role, AssumeRole carries the agent as
    `SourceIdentity` and its tags as session tags (checked on the STS request moto gets)."""
    from test_roles import ROLE, Recorder, admin_env

    (tmp_path / "tagged.yaml").write_text(f"""
version: 1
name: tagged
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
credentials:
  role_arn: {ROLE}
  session_name: awsgate
  session_policy: none
statements:
  - sid: ReportsTeamReads
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::role-bucket/*"]
    conditions:
      StringEquals: {{"aws:PrincipalTag/team": "reports"}}
""")
    reports_token, reports_line = token(binary, "reports-bot")
    support_token, support_line = token(binary, "support-bot")
    agents = tmp_path / "agents.yaml"
    agents.write_text(f"""
agents:
  - name: reports-bot
    policy: tagged.yaml
    {reports_line}
    tags: {{team: reports, env: test}}
  - name: support-bot
    policy: tagged.yaml
    {support_line}
    tags: {{team: support}}
""")
    env = awsgate_env(enforcing_moto["endpoint"], **admin_env(enforcing_moto))
    with http_server(binary, agents, env, tmp_path, "--audit-log", str(tmp_path / "audit.jsonl"),
                     policy_flag="--agents") as s:
        for name, secret, allowed in (("reports-bot", reports_token, True), ("support-bot", support_token, False)):
            headers = {"Authorization": f"Bearer {secret}"}
            async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
                ok, out = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
                if allowed:
                    assert not ok and out["body"] == "readable", (name, out)
                else:
                    assert ok and out["error"] == "AccessDenied" and "aws:PrincipalTag/team" in out["message"], out
    assumed = [r for r in Recorder.sts_requests if r["Action"] == "AssumeRole"]
    assert len(assumed) == 1, assumed
    request = assumed[0]
    assert request["SourceIdentity"] == "reports-bot" and request["RoleSessionName"] == "awsgate-reports-bot"
    tags = {request[f"Tags.member.{n}.Key"]: request[f"Tags.member.{n}.Value"] for n in (1, 2)}
    assert tags == {"team": "reports", "env": "test"}


async def test_a_reload_of_the_agents_file_is_all_or_nothing(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="denied-bucket", Key="support.txt", Body=b"support's")
    agents, _, tokens, _ = agents_setup(binary, tmp_path)
    ops_token, ops_line = token(binary, "ops-bot")
    audit = tmp_path / "audit.jsonl"

    def reloads() -> list[dict]:
        return [r for r in read_audit(audit) if r["event"] == "agents_reloaded"]

    async def wait_for(predicate, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await anyio.sleep(0.1)

    async def get(secret: str, bucket: str, key: str):
        headers = {"Authorization": f"Bearer {secret}"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            return await call(c, "s3_get_object", bucket=bucket, key=key)

    with agents_server(binary, aws, tmp_path, agents, "--watch") as s:
        ok, out = await get(tokens["reports-bot"], "denied-bucket", "support.txt")
        assert ok and out["error"] == "AccessDenied"
        with httpx.Client(timeout=10) as http, http.stream(
                "GET", s.sse_url, headers={"Authorization": f"Bearer {tokens['support-bot']}"}) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("data:"))
            # Support goes, ops comes, reports may read both buckets.
            (tmp_path / "reports.yaml").write_text(policy("reports", "*-bucket"))
            (tmp_path / "ops.yaml").write_text(policy("ops", "allowed-bucket"))
            text = agents.read_text()
            kept = text.split("  - name: support-bot")[0]
            agents.write_text(kept + f"  - name: ops-bot\n    policy: ops.yaml\n    {ops_line}\n")
            await wait_for(lambda: reloads())
            # The removed agent's SSE stream ends (else this read times out).
            assert [line for line in lines if line.startswith("data:")] == []
        [record] = reloads()
        assert record["added"] == ["ops-bot"] and record["removed"] == ["support-bot"], record
        assert record["agents"] == ["reports-bot", "ops-bot"] and record["trigger"] == "watch"
        ok, out = await get(tokens["reports-bot"], "denied-bucket", "support.txt")
        assert not ok and out["body"] == "support's", out
        ok, out = await get(ops_token, "allowed-bucket", "read.txt")
        assert not ok and out["body"] == "hello", out
        gone = httpx.post(s.mcp_url, headers={"Authorization": f"Bearer {tokens['support-bot']}",
                                              "Content-Type": "application/json",
                                              "Accept": "application/json, text/event-stream"},
                          json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert gone.status_code == 401

        # A mistake in one policy: nothing changes, ops-bot is still served.
        (tmp_path / "ops.yaml").write_text(policy("ops", "allowed-bucket").replace("effect: allow", "effect: alow"))
        agents.write_text(agents.read_text() + "")
        await anyio.sleep(1.5)
        assert len(reloads()) == 1
        ok, out = await get(ops_token, "allowed-bucket", "read.txt")
        assert not ok and out["body"] == "hello", out
    assert "agents file reload refused" in s.stderr_path.read_text()


async def test_a_session_is_never_served_to_another_agent_past_the_session_cap(binary, aws, tmp_path):
    seed(aws)
    agents, _, tokens, _ = agents_setup(binary, tmp_path)
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    with agents_server(binary, aws, tmp_path, agents, "--max-sessions", "2") as s:
        def open_session(agent: str) -> str:
            reply = httpx.post(s.mcp_url, headers={**base, "Authorization": f"Bearer {tokens[agent]}"}, json=init)
            return reply.headers["mcp-session-id"]

        theirs = open_session("reports-bot")
        for _ in range(5):
            open_session("support-bot")
        hijack = {**base, "Authorization": f"Bearer {tokens['support-bot']}", "mcp-session-id": theirs,
                  "mcp-protocol-version": "2025-06-18"}
        for method in ("POST", "DELETE"):
            reply = httpx.request(method, s.mcp_url, headers=hijack, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            assert reply.status_code in (403, 404), (method, reply.status_code, reply.text)


async def test_reloads_that_would_open_a_hole_are_refused(binary, aws, tmp_path):
    """A reload may not give an agent the console's token or move a sidecar key to another
    agent; a removed agent's approvals are withdrawn, so a newcomer of its name cannot use
    them."""
    seed(aws)
    agents, keys, tokens, _ = agents_setup(binary, tmp_path)
    (tmp_path / "reports.yaml").write_text(policy("reports", "allowed-bucket") + """  - sid: Uploads
    effect: allow
    actions: ["s3:PutObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
    approval: required
approvals:
  via: [console]
  wait_seconds: 1
""")
    operator = "operator-token-0123456789abcdef"
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=operator)
    audit = tmp_path / "audit.jsonl"
    port = free_port()
    original = agents.read_text()
    with http_server(binary, agents, env, tmp_path, "--audit-log", str(audit), "--console", "--watch",
                     "--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys), policy_flag="--agents") as s:
        headers = {"Authorization": f"Bearer {tokens['reports-bot']}"}
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(headers=headers))) as c:
            ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="held.csv", body="x")
            assert out["error"] == "ApprovalPending", out

        def refused_reload(text: str, why: str) -> None:
            before = s.stderr_path.read_text().count("agents file reload refused")
            agents.write_text(text)
            deadline = time.monotonic() + 10
            while s.stderr_path.read_text().count("agents file reload refused") == before:
                assert time.monotonic() < deadline, "the reload was not refused"
                time.sleep(0.1)
            assert why in s.stderr_path.read_text(), s.stderr_path.read_text()[-2000:]

        operator_hash = hashlib.sha256(operator.encode()).hexdigest()
        refused_reload(original + f"  - name: mallory\n    policy: support.yaml\n    token_sha256: {operator_hash}\n",
                       "an agent's token is the console's")
        refused_reload(original.replace("    agent_key: reports-key\n", "").replace(
            "    policy: support.yaml\n", "    policy: support.yaml\n    agent_key: reports-key\n"),
                       "its `agent_key` changed")
        assert not [r for r in read_audit(audit) if r["event"] == "agents_reloaded"]

        # reports-bot removed: its waiting approval is withdrawn.
        agents.write_text("agents:\n" + original.split("  - name: support-bot")[1].join(["  - name: support-bot", ""]))
        deadline = time.monotonic() + 10
        while not [r for r in read_audit(audit) if r["event"] == "agents_reloaded"]:
            assert time.monotonic() < deadline, s.stderr_path.read_text()[-2000:]
            time.sleep(0.1)
        pending = httpx.get(f"{s.base}/console/api/approvals", headers={"Authorization": f"Bearer {operator}"}).json()
        assert pending["approvals"] == []
    withdrawn = [r for r in read_audit(audit) if r["event"] == "approval_withdrawn"]
    assert [(r["agent"], r["why"]) for r in withdrawn] == [("reports-bot", "agent_removed")]


def test_the_console_shows_each_agents_policy(binary, aws, tmp_path):
    agents, _, tokens, _ = agents_setup(binary, tmp_path)
    operator = "operator-token-0123456789abcdef"
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=operator)
    with http_server(binary, agents, env, tmp_path, "--console", policy_flag="--agents") as s:
        headers = {"Authorization": f"Bearer {operator}"}
        first = httpx.get(f"{s.base}/console/api/policy", headers=headers).json()
        assert first["agent"] == "reports-bot" and first["agents"] == ["reports-bot", "support-bot"]
        assert first["name"] == "reports"
        other = httpx.get(f"{s.base}/console/api/policy", headers=headers, params={"agent": "support-bot"}).json()
        assert other["agent"] == "support-bot" and other["name"] == "support"
        missing = httpx.get(f"{s.base}/console/api/policy", headers=headers, params={"agent": "nobody"})
        assert missing.status_code == 404 and "support-bot" in missing.json()["error"]
