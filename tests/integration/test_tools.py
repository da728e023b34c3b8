"""Every tool, through awsgate over stdio with the Python MCP SDK, against moto: on an
allowed resource with its real effect checked through boto3, and on a denied resource
with no effect in AWS."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import ACCOUNT, awsgate_env, read_audit, write_policy

pytestmark = pytest.mark.anyio

POLICY = f"""
version: 1
name: integration
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: Listing
    effect: allow
    actions: [s3:ListAllMyBuckets, dynamodb:ListTables, sqs:ListQueues, sts:GetCallerIdentity]
    resources: ["*"]
  - sid: AllowedBucket
    effect: allow
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::allowed-bucket", "arn:aws:s3:::allowed-bucket/*"]
  - sid: NotTheDeniedPrefix
    effect: deny
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::allowed-bucket/denied/*"]
  - sid: AllowedTable
    effect: allow
    actions: ["dynamodb:*"]
    resources: ["arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/allowed-table"]
  - sid: AllowedQueue
    effect: allow
    actions: ["sqs:*"]
    resources: ["arn:aws:sqs:us-east-1:{ACCOUNT}:allowed-queue"]
"""


def seed(aws) -> None:
    for bucket in ("allowed-bucket", "denied-bucket"):
        aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_object(Bucket="allowed-bucket", Key="read.txt", Body=b"hello")
    aws.s3.put_object(Bucket="allowed-bucket", Key="denied/secret.txt", Body=b"top secret")
    aws.s3.put_object(Bucket="denied-bucket", Key="x.txt", Body=b"keep me")
    for table in ("allowed-table", "denied-table"):
        aws.dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        aws.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "name": {"S": "first"}})
    for queue in ("allowed-queue", "denied-queue"):
        aws.sqs.create_queue(QueueName=queue)


@contextlib.asynccontextmanager
async def gateway(binary: Path, aws, tmp_path: Path, policy: str = POLICY, *, mode: str = "auto", human=None, **env: str):
    """awsgate over stdio with the Python MCP SDK. `aws` is the emulator (or its endpoint URL);
    `human` answers elicitations; `mode` is the client's protocol negotiation."""
    path = write_policy(tmp_path, policy)
    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=str(binary),
        args=["serve", "--policy", str(path), "--audit-log", str(audit)],
        env=awsgate_env(getattr(aws, "endpoint", aws), **env),
    )
    async with Client(params, mode=mode, elicitation_callback=human) as client:
        client.audit_path = audit  # type: ignore[attr-defined]
        yield client


async def call(client, name: str, **arguments):
    result = await client.call_tool(name, arguments)
    content = result.structured_content
    # The same JSON is in the text content.
    assert json.loads(result.content[0].text) == content
    return bool(result.is_error), content


UNCHECKED = object()


def assert_denied(outcome, resource: str | None = None, statement=UNCHECKED):
    is_error, content = outcome
    assert is_error, content
    assert content["error"] == "AccessDenied", content
    if resource is not None:
        assert content["resource"] == resource
    if statement is not UNCHECKED:
        assert content["statement"] == statement
    assert content["action"] in content["message"] and content["resource"] in content["message"]


async def test_tools_list_matches_the_policy_with_truthful_annotations(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert len(tools) == 24
    get = tools["s3_get_object"]
    assert get.annotations.read_only_hint is True and get.annotations.destructive_hint is False
    assert "arn:aws:s3:::allowed-bucket/*" in get.description
    assert "arn:aws:s3:::allowed-bucket/denied/*" in get.description
    delete = tools["dynamodb_delete_item"]
    assert delete.annotations.destructive_hint is True and delete.annotations.read_only_hint is False
    assert tools["sqs_send_message"].annotations.idempotent_hint is False
    for tool in tools.values():
        properties = tool.input_schema.get("properties", {})
        assert tool.input_schema.get("additionalProperties") is False
        for forbidden in ("profile", "role", "role_arn", "region", "endpoint", "endpoint_url"):
            assert forbidden not in properties, (tool.name, forbidden)


async def test_s3_tools(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path) as c:
        ok, out = await call(c, "s3_list_all_my_buckets")
        assert not ok and {b["name"] for b in out["buckets"]} == {b["Name"] for b in aws.s3.list_buckets()["Buckets"]}

        ok, out = await call(c, "s3_list_bucket", bucket="allowed-bucket")
        assert not ok and sorted(o["key"] for o in out["objects"]) == ["denied/secret.txt", "read.txt"]
        assert_denied(await call(c, "s3_list_bucket", bucket="denied-bucket"), "arn:aws:s3:::denied-bucket", None)

        ok, out = await call(c, "s3_get_bucket_location", bucket="allowed-bucket")
        assert not ok and out["region"] == "us-east-1"
        assert_denied(await call(c, "s3_get_bucket_location", bucket="denied-bucket"))

        ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        assert not ok and out["body"] == "hello" and out["encoding"] == "utf-8" and out["truncated"] is False
        assert_denied(await call(c, "s3_get_object", bucket="denied-bucket", key="x.txt"), "arn:aws:s3:::denied-bucket/x.txt")
        assert_denied(
            await call(c, "s3_get_object", bucket="allowed-bucket", key="denied/secret.txt"),
            "arn:aws:s3:::allowed-bucket/denied/secret.txt",
            "NotTheDeniedPrefix",
        )

        ok, out = await call(c, "s3_head_object", bucket="allowed-bucket", key="read.txt")
        assert not ok and out["content_length"] == 5
        assert_denied(await call(c, "s3_head_object", bucket="denied-bucket", key="x.txt"))

        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="new.txt", body="written")
        assert not ok and aws.s3.get_object(Bucket="allowed-bucket", Key="new.txt")["Body"].read() == b"written"
        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="bin.dat", body="AAEC/w==", encoding="base64")
        assert not ok and aws.s3.get_object(Bucket="allowed-bucket", Key="bin.dat")["Body"].read() == b"\x00\x01\x02\xff"
        ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="bin.dat")
        assert out["encoding"] == "base64" and out["body"] == "AAEC/w=="
        assert_denied(await call(c, "s3_put_object", bucket="denied-bucket", key="new.txt", body="nope"))
        assert not aws.object_exists("denied-bucket", "new.txt")
        assert_denied(await call(c, "s3_put_object", bucket="allowed-bucket", key="denied/new.txt", body="nope"))
        assert not aws.object_exists("allowed-bucket", "denied/new.txt")

        ok, out = await call(c, "s3_delete_object", bucket="allowed-bucket", key="new.txt")
        assert not ok and not aws.object_exists("allowed-bucket", "new.txt")
        assert_denied(await call(c, "s3_delete_object", bucket="denied-bucket", key="x.txt"))
        assert aws.object_exists("denied-bucket", "x.txt")


async def test_dynamodb_tools(binary, aws, tmp_path):
    seed(aws)
    denied_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/denied-table"
    async with gateway(binary, aws, tmp_path) as c:
        ok, out = await call(c, "dynamodb_list_tables")
        assert not ok and sorted(out["tables"]) == ["allowed-table", "denied-table"]

        ok, out = await call(c, "dynamodb_describe_table", table="allowed-table")
        assert not ok and out["key_schema"] == [{"attribute": "pk", "type": "HASH"}]
        assert_denied(await call(c, "dynamodb_describe_table", table="denied-table"), denied_arn)

        ok, out = await call(c, "dynamodb_get_item", table="allowed-table", key={"pk": "a"})
        assert not ok and out["item"] == {"pk": "a", "n": 1, "name": "first"}
        assert_denied(await call(c, "dynamodb_get_item", table="denied-table", key={"pk": "a"}), denied_arn)

        item = {"pk": "b", "price": 19.99, "big": 12345678901234567, "tags": ["x", "y"], "meta": {"ok": True, "none": None}}
        ok, out = await call(c, "dynamodb_put_item", table="allowed-table", item=item)
        assert not ok
        stored = aws.dynamodb.get_item(TableName="allowed-table", Key={"pk": {"S": "b"}})["Item"]
        assert stored["price"] == {"N": "19.99"} and stored["big"] == {"N": "12345678901234567"}
        assert stored["tags"] == {"L": [{"S": "x"}, {"S": "y"}]} and stored["meta"]["M"]["none"] == {"NULL": True}
        ok, out = await call(c, "dynamodb_get_item", table="allowed-table", key={"pk": "b"})
        assert out["item"] == item
        assert_denied(await call(c, "dynamodb_put_item", table="denied-table", item={"pk": "b"}))
        assert "Item" not in aws.dynamodb.get_item(TableName="denied-table", Key={"pk": {"S": "b"}})

        ok, out = await call(
            c,
            "dynamodb_update_item",
            table="allowed-table",
            key={"pk": "a"},
            update_expression="SET #n = #n + :one",
            expression_attribute_names={"#n": "n"},
            expression_attribute_values={":one": 1},
        )
        assert not ok and out["item"]["n"] == 2
        assert aws.dynamodb.get_item(TableName="allowed-table", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "2"}
        assert_denied(
            await call(c, "dynamodb_update_item", table="denied-table", key={"pk": "a"}, update_expression="SET #n = :v",
                       expression_attribute_names={"#n": "n"}, expression_attribute_values={":v": 99})
        )
        assert aws.dynamodb.get_item(TableName="denied-table", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}

        ok, out = await call(
            c, "dynamodb_query", table="allowed-table", key_condition_expression="pk = :pk", expression_attribute_values={":pk": "a"}
        )
        assert not ok and out["count"] == 1 and out["items"][0]["name"] == "first"
        assert_denied(
            await call(c, "dynamodb_query", table="denied-table", key_condition_expression="pk = :pk",
                       expression_attribute_values={":pk": "a"})
        )

        ok, out = await call(c, "dynamodb_scan", table="allowed-table")
        assert not ok and out["count"] == 2
        assert_denied(await call(c, "dynamodb_scan", table="denied-table"))

        ok, out = await call(c, "dynamodb_delete_item", table="allowed-table", key={"pk": "b"})
        assert not ok and out["deleted"] is True
        assert "Item" not in aws.dynamodb.get_item(TableName="allowed-table", Key={"pk": {"S": "b"}})
        assert_denied(await call(c, "dynamodb_delete_item", table="denied-table", key={"pk": "a"}))
        assert "Item" in aws.dynamodb.get_item(TableName="denied-table", Key={"pk": {"S": "a"}})


def visible_and_hidden(aws, url: str) -> tuple[int, int]:
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


async def test_sqs_tools(binary, aws, tmp_path):
    seed(aws)
    allowed, denied = aws.queue_url("allowed-queue"), aws.queue_url("denied-queue")
    async with gateway(binary, aws, tmp_path) as c:
        ok, out = await call(c, "sqs_list_queues")
        assert not ok and sorted(out["queue_urls"]) == sorted([allowed, denied])

        ok, out = await call(c, "sqs_get_queue_url", queue_name="allowed-queue")
        assert not ok and out["queue_url"] == allowed
        assert_denied(await call(c, "sqs_get_queue_url", queue_name="denied-queue"), f"arn:aws:sqs:us-east-1:{ACCOUNT}:denied-queue")

        ok, out = await call(c, "sqs_get_queue_attributes", queue_url=allowed)
        assert not ok and out["attributes"]["QueueArn"].endswith(":allowed-queue")
        assert_denied(await call(c, "sqs_get_queue_attributes", queue_url=denied))

        ok, out = await call(c, "sqs_send_message", queue_url=allowed, message_body="job 1")
        assert not ok and out["message_id"]
        assert visible_and_hidden(aws, allowed) == (1, 0)
        assert_denied(await call(c, "sqs_send_message", queue_url=denied, message_body="nope"))
        assert visible_and_hidden(aws, denied) == (0, 0)

        ok, out = await call(c, "sqs_receive_message", queue_url=allowed, max_messages=10, visibility_timeout=60)
        assert not ok and [m["body"] for m in out["messages"]] == ["job 1"]
        receipt = out["messages"][0]["receipt_handle"]
        assert visible_and_hidden(aws, allowed) == (0, 1)

        ok, out = await call(c, "sqs_change_message_visibility", queue_url=allowed, receipt_handle=receipt, visibility_timeout=0)
        assert not ok and visible_and_hidden(aws, allowed) == (1, 0)
        ok, out = await call(c, "sqs_receive_message", queue_url=allowed, visibility_timeout=60)
        receipt = out["messages"][0]["receipt_handle"]
        ok, out = await call(c, "sqs_delete_message", queue_url=allowed, receipt_handle=receipt)
        assert not ok and visible_and_hidden(aws, allowed) == (0, 0)

        aws.sqs.send_message(QueueUrl=denied, MessageBody="private")
        assert_denied(await call(c, "sqs_receive_message", queue_url=denied))
        assert visible_and_hidden(aws, denied) == (1, 0)
        theirs = aws.sqs.receive_message(QueueUrl=denied, VisibilityTimeout=60)["Messages"][0]["ReceiptHandle"]
        assert_denied(await call(c, "sqs_change_message_visibility", queue_url=denied, receipt_handle=theirs, visibility_timeout=0))
        assert_denied(await call(c, "sqs_delete_message", queue_url=denied, receipt_handle=theirs))
        assert visible_and_hidden(aws, denied) == (0, 1)

        aws.sqs.send_message(QueueUrl=allowed, MessageBody="to purge")
        ok, out = await call(c, "sqs_purge_queue", queue_url=allowed)
        assert not ok and visible_and_hidden(aws, allowed) == (0, 0)
        assert_denied(await call(c, "sqs_purge_queue", queue_url=denied))
        assert visible_and_hidden(aws, denied) == (0, 1)


async def test_sts_get_caller_identity(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path) as c:
        ok, out = await call(c, "sts_get_caller_identity")
    assert not ok and out["account"] == ACCOUNT == aws.sts.get_caller_identity()["Account"]


async def test_actions_without_a_resource_are_denied_without_a_star_statement(binary, aws, tmp_path):
    seed(aws)
    narrow = POLICY.replace("actions: [s3:ListAllMyBuckets, dynamodb:ListTables, sqs:ListQueues, sts:GetCallerIdentity]", "actions: [s3:GetObject]")
    async with gateway(binary, aws, tmp_path, narrow) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        # A `*` request is not covered by bucket, table or queue ARNs...
        for tool in ("s3_list_all_my_buckets", "dynamodb_list_tables", "sqs_list_queues", "sts_get_caller_identity"):
            assert_denied(await call(c, tool), "*")
    # ...but the tools stay listed where some statement can allow the action on some resource.
    assert "s3_list_all_my_buckets" in names and "sts_get_caller_identity" not in names


async def test_audit_records_every_decision_before_its_result_and_no_payload(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path) as c:
        await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        await call(c, "s3_get_object", bucket="denied-bucket", key="x.txt")
        await call(c, "s3_put_object", bucket="allowed-bucket", key="p.txt", body="PAYLOAD-BODY-123")
        await call(c, "sqs_send_message", queue_url=aws.queue_url("allowed-queue"), message_body="MESSAGE-BODY-456")
        await call(c, "dynamodb_put_item", table="allowed-table", item={"pk": "z", "secret": "ITEM-CONTENT-789"})
        await call(c, "s3_get_object", bucket="allowed-bucket", key="nope.txt")
        await call(c, "s3_get_object", bucket="allowed-bucket")
        audit = c.audit_path
    text = audit.read_text()
    for payload in ("hello", "PAYLOAD-BODY-123", "MESSAGE-BODY-456", "ITEM-CONTENT-789", "testing"):
        assert payload not in text, payload
    records = read_audit(audit)
    by_call: dict[str, list[dict]] = {}
    for record in records:
        by_call.setdefault(record["call_id"], []).append(record)
    assert len(by_call) == 7
    outcomes = []
    for events in by_call.values():
        kinds = [e["event"] for e in events]
        assert kinds in (["decision", "result"], ["result"]), kinds
        result = events[-1]
        outcomes.append(result["outcome"])
        for field in ("time", "session", "client", "policy", "mode", "tool", "action", "resources", "decision", "enforced",
                      "statement", "reason", "approval"):
            assert field in result, field
        assert result["client"]["name"], result["client"]
        assert result["policy"] == "integration" and result["mode"] == "enforce"
        assert "duration_ms" in result
    assert outcomes == ["ok", "denied", "ok", "ok", "ok", "error", "invalid"]
    denied = next(e for e in by_call.values() if e[-1]["outcome"] == "denied")
    assert denied[0]["decision"] == "deny" and denied[0]["resources"] == ["arn:aws:s3:::denied-bucket/x.txt"]
    failed = next(e for e in by_call.values() if e[-1]["outcome"] == "error")[-1]
    assert failed["error"] == "NoSuchKey" and failed["aws_request_id"]


async def test_audit_mode_runs_a_would_deny_call_and_records_it_as_not_enforced(binary, aws, tmp_path):
    seed(aws)
    audit_policy = POLICY.replace("name: integration", "name: integration\nmode: audit")
    async with gateway(binary, aws, tmp_path, audit_policy) as c:
        ok, out = await call(c, "s3_put_object", bucket="denied-bucket", key="audited.txt", body="ran anyway")
        audit = c.audit_path
    assert not ok, out
    assert aws.s3.get_object(Bucket="denied-bucket", Key="audited.txt")["Body"].read() == b"ran anyway"
    decision, result = read_audit(audit)
    assert decision["event"] == "decision" and decision["decision"] == "deny" and decision["enforced"] is False
    assert decision["mode"] == "audit" and "no statement allows" in decision["reason"]
    assert result["outcome"] == "ok"


async def test_unwritable_audit_log_refuses_the_call(binary, aws, tmp_path):
    seed(aws)
    path = write_policy(tmp_path, POLICY)
    params = StdioServerParameters(
        command=str(binary), args=["serve", "--policy", str(path), "--audit-log", "/dev/full"], env=awsgate_env(aws.endpoint)
    )
    async with Client(params) as c:
        ok, out = await call(c, "s3_put_object", bucket="allowed-bucket", key="never.txt", body="x")
    assert ok and out["error"] == "AuditUnavailable"
    assert not aws.object_exists("allowed-bucket", "never.txt")
