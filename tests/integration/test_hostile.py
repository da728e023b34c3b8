"""Hostile and malformed input: each gets a clear tool error or is handled literally, and
the audit log stays valid JSON lines."""

from __future__ import annotations

import pytest

from conftest import ACCOUNT, read_audit
from test_tools import assert_denied, call, gateway, seed

pytestmark = pytest.mark.anyio

POLICY = f"""
version: 1
name: hostile
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
  max_output_bytes: 4096
statements:
  - sid: PublicOnly
    effect: allow
    actions: [s3:GetObject, s3:PutObject, s3:ListBucket]
    resources: ["arn:aws:s3:::allowed-bucket", "arn:aws:s3:::allowed-bucket/public/*"]
  - sid: Table
    effect: allow
    actions: ["dynamodb:*"]
    resources: ["arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/allowed-table"]
"""

HOSTILE_KEYS = [
    "public/a*",
    "public/what?",
    "public/[x]",
    "public/../public/dots",
    'public/quote"and\'apostrophe',
    "public/ünïcødé/日本語.txt",
    "public/spaces and %20 percent",
    "public/back\\slash",
]


async def test_hostile_keys_are_literal_both_at_the_gate_and_in_s3(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        for key in HOSTILE_KEYS:
            ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key=key, body=f"body of {key}")
            assert not ok, (key, out)
            # The object exists under exactly that key, not a normalized one.
            assert aws.s3.get_object(Bucket="allowed-bucket", Key=key)["Body"].read().decode() == f"body of {key}"
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key=key)
            assert not ok and out["key"] == key and out["body"] == f"body of {key}"
        # A newline is judged literally by the gate; moto cannot store such a key (boto3
        # gets a 404 too), so the call must fail clearly and store nothing under another key.
        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="public/line\nbreak", body="x")
        assert ok and out["error"] == "NotFound" and "HTTP 404" in out["message"], out
        listed = [o["Key"] for o in aws.s3.list_objects_v2(Bucket="allowed-bucket").get("Contents", [])]
        assert not [k for k in listed if "line" in k], listed
        # S3 keys are literal: `public/../private/x` is a key under `public/` (IAM allows it,
        # as it would), stored under exactly that name; nothing appears under `private/`.
        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="public/../private/x", body="x")
        assert not ok and aws.object_exists("allowed-bucket", "public/../private/x")
        assert not aws.object_exists("allowed-bucket", "private/x")
        # `..` does not climb out of a prefix; `*` and `?` in a key match nothing wider.
        for key in ["private/../public/x", "*", "public*", "p?blic/x", "../public/x"]:
            assert_denied(await call(c, "s3_put_object", bucket="allowed-bucket", key=key, body="x"))
            assert not aws.object_exists("allowed-bucket", key)
        audit = c.audit_path
    records = read_audit(audit)  # every line parses
    resources = {r["resources"][0] for r in records if r["resources"]}
    assert "arn:aws:s3:::allowed-bucket/public/line\nbreak" in resources


async def test_malformed_arguments_are_clear_tool_errors_and_reach_no_aws(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        cases = [
            ("s3_get_object", {"bucket": "allowed-bucket"}, "missing argument `key`"),
            ("s3_get_object", {"bucket": 42, "key": "public/x"}, "`bucket` must be a string; got a number"),
            ("s3_get_object", {"bucket": "allowed-bucket", "key": "public/x", "region": "eu-west-1"}, "unknown argument `region`"),
            ("s3_get_object", {"bucket": "Allowed_Bucket", "key": "public/x"}, "is not a bucket name"),
            ("s3_get_object", {"bucket": "allowed-bucket/../other", "key": "x"}, "is not a bucket name"),
            ("s3_get_object", {"bucket": "allowed-bucket", "key": ""}, "`key` must be 1 to 1024 bytes"),
            ("s3_get_object", {"bucket": "allowed-bucket", "key": "k" * 1025}, "too long"),
            ("s3_put_object", {"bucket": "allowed-bucket", "key": "public/b", "body": "%%%", "encoding": "base64"}, "not valid base64"),
            ("s3_put_object", {"bucket": "allowed-bucket", "key": "public/b", "body": "x", "encoding": "utf-16"}, "`encoding` must be"),
            ("s3_list_bucket", {"bucket": "allowed-bucket", "max_keys": 0}, "from 1 to 1000"),
            ("dynamodb_get_item", {"table": "allowed-table", "key": "a"}, "`key` must be an object; got a string"),
            ("dynamodb_get_item", {"table": "t", "key": {"pk": "a"}}, "is not a table name"),
            ("dynamodb_query", {"table": "allowed-table", "key_condition_expression": "pk = :pk",
                                "expression_attribute_names": {"#a": 1}}, "an object of strings"),
            ("sqs_send_message", {"queue_url": "https://evil.example/123/q", "message_body": "x"}, "is not a queue URL"),
            ("sqs_send_message", {"queue_url": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/allowed-queue", "message_body": "x"},
             "names region `eu-west-1`, but awsgate calls region `us-east-1`"),
            ("sqs_receive_message", {"queue_url": aws.queue_url("allowed-queue"), "max_messages": 11}, "from 1 to 10"),
            ("no_such_tool", {}, "unknown tool `no_such_tool`"),
            ("s3_get_object\nx", {}, "unknown tool `s3_get_object\\nx`"),
        ]
        for tool, arguments, expected in cases:
            ok, out = await call(c, tool, **arguments)
            assert ok and out["error"] == "InvalidArgument", (tool, out)
            assert expected in out["message"], (tool, expected, out["message"])
        audit = c.audit_path
    records = read_audit(audit)
    assert len(records) == len(cases)
    assert all(r["event"] == "result" and r["outcome"] == "invalid" for r in records)
    assert not aws.object_exists("allowed-bucket", "public/b")


async def test_oversized_body_is_refused_before_aws(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="public/huge", body="x" * (12 * 1024 * 1024))
    assert ok and out["error"] == "InvalidArgument" and "too long" in out["message"]
    assert not aws.object_exists("allowed-bucket", "public/huge")


async def test_large_results_are_truncated_and_say_how_to_get_the_rest(binary, aws, tmp_path):
    seed(aws)
    body = ("0123456789" * 1000).encode()
    aws.s3.put_object(Bucket="allowed-bucket", Key="public/big.txt", Body=body)
    for i in range(60):
        aws.s3.put_object(Bucket="allowed-bucket", Key=f"public/many/{i:03}-{'x' * 60}", Body=b"")
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="public/big.txt")
        assert not ok and out["truncated"] is True and out["total_size"] == len(body)
        first = out["body"]
        assert 0 < len(first) < len(body) and body.decode().startswith(first)
        ok, rest = await call(c, "s3_get_object", bucket="allowed-bucket", key="public/big.txt", range=out["next_range"])
        assert not ok and body.decode()[len(first):].startswith(rest["body"])

        ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket", prefix="public/many/")
        assert not ok and out["output_truncated"] is True
        assert out["items_available"] == 60 and 0 < out["items_returned"] < 60
        assert len(out["objects"]) == out["items_returned"]


async def test_rate_limit_per_session(binary, aws, tmp_path):
    seed(aws)
    limited = POLICY.replace("calls_per_minute: 0", "calls_per_minute: 3")
    async with gateway(binary, aws, tmp_path, limited) as c:
        for _ in range(3):
            ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket")
            assert not ok
        ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket")
        audit = c.audit_path
    assert ok and out["error"] == "RateLimited" and 1 <= out["retry_after_seconds"] <= 60
    assert read_audit(audit)[-1]["outcome"] == "rate_limited"
    # A new session has its own budget.
    async with gateway(binary, aws, tmp_path, limited) as c:
        ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket")
    assert not ok


async def test_secrets_never_reach_results_or_the_audit_log(binary, aws, tmp_path):
    seed(aws)
    secret = "SuperSecretAccessKeyValue/abc+123"
    async with gateway(binary, aws, tmp_path, POLICY, AWS_SECRET_ACCESS_KEY=secret, AWS_ACCESS_KEY_ID="AKIAEXAMPLEKEYID1234") as c:
        outputs = [
            await call(c, "s3_get_object", bucket="allowed-bucket", key="public/none"),
            await call(c, "s3_list_bucket", bucket="allowed-bucket"),
            await call(c, "dynamodb_get_item", table="allowed-table", key={"nope": "x"}),
        ]
        audit = c.audit_path
    text = repr(outputs) + audit.read_text()
    for leaked in (secret, "AKIAEXAMPLEKEYID1234", aws.endpoint):
        assert leaked not in text


async def test_no_credentials_at_all_is_a_clear_error_without_details(binary, aws, tmp_path):
    """No keys, no profile, no instance role: each call fails closed with a fixed message."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from conftest import awsgate_env, write_policy

    seed(aws)
    env = {k: v for k, v in awsgate_env(aws.endpoint).items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    params = StdioServerParameters(command=str(binary), args=["serve", "--policy", str(write_policy(tmp_path, POLICY))], env=env)
    async with Client(params) as c:
        ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="public/x")
    assert ok and out["error"] == "CredentialsUnavailable", out
    assert str(tmp_path) not in out["message"] and aws.endpoint not in out["message"]


async def test_trace_logs_name_no_access_key_id_or_session_token(binary, aws, tmp_path):
    """With AWSGATE_LOG=trace the AWS SDK logs its requests' headers; awsgate scrubs its
    credentials from every line."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from conftest import awsgate_env, http_server, write_policy
    from test_tools import POLICY

    key_id, token = "AKIAIOSFODNN7EXAMPLE", "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+/abc=="
    env = awsgate_env(aws.endpoint, AWSGATE_LOG="trace", AWS_ACCESS_KEY_ID=key_id, AWS_SESSION_TOKEN=token)
    with http_server(binary, write_policy(tmp_path, POLICY), env, tmp_path) as server:
        async with Client(streamable_http_client(server.mcp_url, http_client=httpx2.AsyncClient(timeout=30))) as client:
            await client.call_tool("s3_list_all_my_buckets", {})
        logged = server.stderr_path.read_text(errors="replace")
    assert "x-amz-security-token" in logged.lower() or "authorization" in logged.lower(), "no SDK trace was logged"
    assert key_id not in logged and token not in logged and "IQoJb3JpZ2lu" not in logged
