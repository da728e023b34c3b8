"""Step-up approval through MCP elicitation, with real clients: the Python MCP SDK 2.x on
2026-07-28 (input-required results) and on the `initialize` handshake (elicitation
requests), and the SDK 1.x. Accept runs the call; decline, or a client that cannot ask,
refuses it with nothing written to AWS."""

from __future__ import annotations

import json
import subprocess

import pytest
from mcp_types import ElicitResult

from conftest import ACCOUNT, ROOT, awsgate_env, read_audit, write_policy
from test_tools import call, gateway, seed

pytestmark = pytest.mark.anyio

POLICY = f"""
version: 1
name: approvals
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: Read
    effect: allow
    actions: [s3:GetObject]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
  - sid: UploadWithApproval
    effect: allow
    actions: [s3:PutObject]
    resources: ["arn:aws:s3:::allowed-bucket/uploads/*"]
    approval: required
"""


class Human:
    def __init__(self, answer: str):
        self.answer = answer
        self.asked: list[str] = []

    async def __call__(self, context, params):
        self.asked.append(params.message)
        if self.answer == "accept":
            return ElicitResult(action="accept", content={"approve": True})
        if self.answer == "accept-but-no":
            return ElicitResult(action="accept", content={"approve": False})
        return ElicitResult(action="decline")


def approvals(binary, aws, tmp_path, human: Human | None, mode: str = "auto"):
    return gateway(binary, aws, tmp_path, POLICY, mode=mode, human=human)


PUT = {"bucket": "allowed-bucket", "key": "uploads/q4.csv", "body": "approved body"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_accept_runs_the_call_once_the_human_says_yes(binary, aws, tmp_path, mode):
    seed(aws)
    human = Human("accept")
    async with approvals(binary, aws, tmp_path, human, mode) as c:
        ok, out = await call(c, "s3_put_object", **PUT)
        audit = c.audit_path
    assert not ok, out
    assert aws.s3.get_object(Bucket="allowed-bucket", Key="uploads/q4.csv")["Body"].read() == b"approved body"
    assert len(human.asked) == 1
    message = human.asked[0]
    assert "s3:PutObject" in message and "arn:aws:s3:::allowed-bucket/uploads/q4.csv" in message
    assert 'key = "uploads/q4.csv"' in message and "UploadWithApproval" in message
    results = [r for r in read_audit(audit) if r["event"] == "result"]
    assert results[-1]["outcome"] == "ok" and results[-1]["approval"] == "approved"
    if mode == "auto":  # 2026-07-28: the first round asked, the retry ran
        assert [r["outcome"] for r in results] == ["approval_requested", "ok"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("answer", ["decline", "accept-but-no"])
async def test_decline_refuses_the_call_and_writes_nothing(binary, aws, tmp_path, mode, answer):
    seed(aws)
    async with approvals(binary, aws, tmp_path, Human(answer), mode) as c:
        ok, out = await call(c, "s3_put_object", **PUT)
        audit = c.audit_path
    assert ok and out["error"] == "ApprovalDenied" and "declined" in out["message"]
    assert not aws.object_exists("allowed-bucket", "uploads/q4.csv")
    last = read_audit(audit)[-1]
    assert last["outcome"] == "approval_denied" and last["approval"] == "declined"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_that_cannot_ask_gets_no_approval(binary, aws, tmp_path, mode):
    seed(aws)
    async with approvals(binary, aws, tmp_path, None, mode) as c:
        ok, out = await call(c, "s3_put_object", **PUT)
        # Calls that need no approval still run.
        read_ok, _ = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        audit = c.audit_path
    assert ok and out["error"] == "ApprovalDenied" and "cannot ask a human" in out["message"]
    assert not read_ok
    assert not aws.object_exists("allowed-bucket", "uploads/q4.csv")
    assert any(r.get("approval") == "unavailable" for r in read_audit(audit))


async def test_an_approval_covers_exactly_the_call_it_was_asked_for(binary, aws, tmp_path):
    seed(aws)
    yes = {"awsgate_approval": {"action": "accept", "content": {"approve": True}}}
    async with approvals(binary, aws, tmp_path, Human("accept")) as c:
        asked = await c.session.call_tool("s3_put_object", PUT, allow_input_required=True)
        token = asked.request_state
        assert token and "awsgate_approval" in asked.input_requests
        # The same answer and token, offered for another key: refused.
        other = dict(PUT, key="uploads/other.csv")
        result = await c.session.call_tool("s3_put_object", other, input_responses=yes, request_state=token)
        assert result.is_error and "different call" in result.structured_content["message"]
        # The token was spent on that attempt: it cannot approve the original call either.
        result = await c.session.call_tool("s3_put_object", PUT, input_responses=yes, request_state=token)
        assert result.is_error and "unknown or was already used" in result.structured_content["message"]
        # A forged token approves nothing.
        result = await c.session.call_tool("s3_put_object", PUT, input_responses=yes, request_state="forged")
        assert result.is_error
        # A fresh request and its own answer do.
        asked = await c.session.call_tool("s3_put_object", PUT, allow_input_required=True)
        result = await c.session.call_tool("s3_put_object", PUT, input_responses=yes, request_state=asked.request_state)
        assert not result.is_error, result.structured_content
    assert not aws.object_exists("allowed-bucket", "uploads/other.csv")
    assert aws.object_exists("allowed-bucket", "uploads/q4.csv")


@pytest.mark.parametrize("answer,runs", [("accept", True), ("decline", False), ("none", False)])
def test_python_sdk_1x_elicitation(binary, aws, tmp_path, answer, runs):
    seed(aws)
    policy = write_policy(tmp_path, POLICY)
    result = subprocess.run(
        [str(ROOT / ".venv-langchain" / "bin" / "python"), str(ROOT / "tests" / "integration" / "elicitation_v1_client.py"),
         str(binary), str(policy), answer, "allowed-bucket", "uploads/v1.csv"],
        env=awsgate_env(aws.endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["is_error"] is (not runs), output
    assert aws.object_exists("allowed-bucket", "uploads/v1.csv") is runs
    if answer != "none":
        assert len(output["asked"]) == 1 and "s3:PutObject" in output["asked"][0]
    else:
        assert output["structured"]["error"] == "ApprovalDenied"
