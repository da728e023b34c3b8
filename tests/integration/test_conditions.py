"""IAM conditions through a real MCP client (the Python SDK over stdio) against moto: a
prefix-scoped listing, one tenant's rows, a tag-scoped table with the tag look-up cached
(counted by a proxy in front of moto), and a failed look-up that never widens access."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ACCOUNT, ROOT, read_audit
from faultproxy import FaultProxy
from test_tools import call, gateway

pytestmark = pytest.mark.anyio


def moto_port(aws) -> int:
    return int(aws.endpoint.rsplit(":", 1)[1])


def denied(outcome) -> dict:
    is_error, content = outcome
    assert is_error and content["error"] == "AccessDenied", content
    return content


async def test_home_folder_listing_needs_the_users_prefix(binary, aws, tmp_path):
    aws.s3.create_bucket(Bucket="team-data")
    for key in ("home/alice/notes.txt", "home/bob/pay.txt", "readme.txt"):
        aws.s3.put_object(Bucket="team-data", Key=key, Body=b"x")
    policy = (ROOT / "policies" / "s3-home-folders.yaml").read_text()
    async with gateway(binary, aws, tmp_path, policy) as c:
        failed, out = await call(c, "s3_list_bucket", bucket="team-data", prefix="home/alice/")
        assert not failed, out
        assert [o["key"] for o in out["objects"]] == ["home/alice/notes.txt"]
        no_prefix = denied(await call(c, "s3_list_bucket", bucket="team-data"))
        assert "the request has no `s3:prefix`" in no_prefix["reason"], no_prefix
        other = denied(await call(c, "s3_list_bucket", bucket="team-data", prefix="home/bob/"))
        assert "`home/bob/`" in other["reason"] and "StringEquals" in other["reason"], other
        # The top level, with the delimiter the policy asks for.
        failed, out = await call(c, "s3_list_bucket", bucket="team-data", prefix="", delimiter="/")
        assert not failed, out
        failed, out = await call(c, "s3_get_object", bucket="team-data", key="home/alice/notes.txt")
        assert not failed, out
        denied(await call(c, "s3_get_object", bucket="team-data", key="home/bob/pay.txt"))
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert "Allowed only when" in tools["s3_list_bucket"].description
    records = [r for r in read_audit(tmp_path / "audit.jsonl") if r.get("event") == "decision"]
    listing = [r for r in records if r["tool"] == "s3_list_bucket"]
    assert listing[0]["decision"] == "allow" and 'StringLike {"s3:prefix"' in listing[0]["reason"], listing[0]
    assert listing[1]["decision"] == "deny" and "s3:prefix" in listing[1]["reason"], listing[1]


TENANT_POLICY = (ROOT / "policies" / "dynamodb-tenant.yaml").read_text()


def orders_table(aws) -> None:
    aws.dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}, {"AttributeName": "order", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "order", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for tenant in ("tenant-a", "tenant-b"):
        aws.dynamodb.put_item(TableName="orders", Item={"tenant": {"S": tenant}, "order": {"S": "1"}, "total": {"N": "5"}})


async def test_a_tenant_reads_and_writes_only_its_own_rows(binary, aws, tmp_path):
    orders_table(aws)
    proxy = FaultProxy(moto_port(aws))
    try:
        async with gateway(binary, proxy.endpoint, tmp_path, TENANT_POLICY) as c:
            failed, out = await call(c, "dynamodb_get_item", table="orders", key={"tenant": "tenant-a", "order": "1"})
            assert not failed and out["item"]["total"] == 5, out
            other = denied(await call(c, "dynamodb_get_item", table="orders", key={"tenant": "tenant-b", "order": "1"}))
            assert "dynamodb:LeadingKeys" in other["reason"], other
            # The key schema says which attribute is the partition key: asked once, then cached.
            assert proxy.forwarded["DescribeTable"] == 1, proxy.forwarded
            denied(await call(c, "dynamodb_put_item", table="orders",
                              item={"tenant": "tenant-b", "order": "2", "total": 1}))
            failed, out = await call(c, "dynamodb_put_item", table="orders",
                                     item={"tenant": "tenant-a", "order": "2", "total": 1})
            assert not failed, out
            failed, out = await call(c, "dynamodb_query", table="orders", key_condition_expression="tenant = :t",
                                     expression_attribute_values={":t": "tenant-a"})
            assert not failed and out["count"] == 2, out
            denied(await call(c, "dynamodb_query", table="orders", key_condition_expression="#t = :t",
                              expression_attribute_names={"#t": "tenant"},
                              expression_attribute_values={":t": "tenant-b"}))
            assert proxy.forwarded["DescribeTable"] == 1, proxy.forwarded
    finally:
        proxy.close()
    # Nothing was written for the other tenant.
    item = aws.dynamodb.get_item(TableName="orders", Key={"tenant": {"S": "tenant-b"}, "order": {"S": "2"}})
    assert "Item" not in item
    assert "Item" in aws.dynamodb.get_item(TableName="orders", Key={"tenant": {"S": "tenant-a"}, "order": {"S": "2"}})


TAG_POLICY = f"""
version: 1
region: us-east-1
account: "{ACCOUNT}"
services: [dynamodb]
limits:
  calls_per_minute: 0
  tag_cache_seconds: 300
statements:
  - sid: TaggedForAgents
    effect: allow
    actions: [dynamodb:DescribeTable, dynamodb:GetItem]
    resources: ["arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*"]
    conditions:
      StringEquals: {{"aws:ResourceTag/agent": "allowed"}}
  - sid: NeverProduction
    effect: deny
    actions: ["dynamodb:*"]
    resources: ["arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*"]
    conditions:
      StringEquals: {{"aws:ResourceTag/env": "prod"}}
  - sid: Listing
    effect: allow
    actions: [dynamodb:ListTables]
    resources: ["*"]
"""


def tagged_tables(aws) -> None:
    tags = {"tagged": [{"Key": "agent", "Value": "allowed"}], "untagged": [],
            "prod": [{"Key": "agent", "Value": "allowed"}, {"Key": "env", "Value": "prod"}]}
    for name, table_tags in tags.items():
        arn = aws.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
        if table_tags:
            aws.dynamodb.tag_resource(ResourceArn=arn, Tags=table_tags)


async def test_a_tagged_table_is_readable_an_untagged_one_is_not_and_tags_are_cached(binary, aws, tmp_path):
    tagged_tables(aws)
    proxy = FaultProxy(moto_port(aws))
    try:
        async with gateway(binary, proxy.endpoint, tmp_path, TAG_POLICY) as c:
            # No statement for ListTables tests a tag: no look-up.
            failed, _ = await call(c, "dynamodb_list_tables")
            assert not failed
            assert proxy.forwarded["ListTagsOfResource"] == 0, proxy.forwarded
            for _ in range(3):
                failed, out = await call(c, "dynamodb_describe_table", table="tagged")
                assert not failed, out
            failed, out = await call(c, "dynamodb_get_item", table="tagged", key={"pk": "a"})
            assert not failed, out
            assert proxy.forwarded["ListTagsOfResource"] == 1, proxy.forwarded
            untagged = denied(await call(c, "dynamodb_describe_table", table="untagged"))
            assert "aws:ResourceTag/agent" in untagged["reason"], untagged
            production = denied(await call(c, "dynamodb_describe_table", table="prod"))
            assert production["statement"] == "NeverProduction", production
            assert proxy.forwarded["ListTagsOfResource"] == 3, proxy.forwarded
            assert proxy.forwarded["DescribeTable"] == 3, proxy.forwarded
    finally:
        proxy.close()


async def test_a_failed_tag_look_up_never_widens_access(binary, aws, tmp_path):
    tagged_tables(aws)
    # Every tag look-up loses its answer (after the SDK's retries, it fails).
    proxy = FaultProxy(moto_port(aws), drop_after=lambda op: op == "ListTagsOfResource")
    try:
        async with gateway(binary, proxy.endpoint, tmp_path, TAG_POLICY) as c:
            out = denied(await call(c, "dynamodb_describe_table", table="tagged"))
            # The deny that tests `env` applies when in doubt; the allow does not.
            assert out["statement"] == "NeverProduction", out
            assert "could not be checked" in out["reason"], out
            assert proxy.forwarded["DescribeTable"] == 0, proxy.forwarded
            # Failures are not cached: the next call asks again.
            before = proxy.forwarded["ListTagsOfResource"]
            denied(await call(c, "dynamodb_describe_table", table="tagged"))
            assert proxy.forwarded["ListTagsOfResource"] > before
    finally:
        proxy.close()


async def test_object_tags_scope_reads(binary, aws, tmp_path):
    aws.s3.create_bucket(Bucket="docs")
    aws.s3.put_object(Bucket="docs", Key="public.txt", Body=b"ok", Tagging="classification=public")
    aws.s3.put_object(Bucket="docs", Key="secret.txt", Body=b"no", Tagging="classification=secret")
    policy = """
version: 1
services: [s3]
statements:
  - sid: PublicObjects
    effect: allow
    actions: [s3:GetObject]
    resources: ["arn:aws:s3:::docs/*"]
    conditions:
      StringEquals: {"s3:ExistingObjectTag/classification": "public"}
"""
    async with gateway(binary, aws, tmp_path, policy) as c:
        failed, out = await call(c, "s3_get_object", bucket="docs", key="public.txt")
        assert not failed and out["body"] == "ok", out
        out = denied(await call(c, "s3_get_object", bucket="docs", key="secret.txt"))
        assert "`secret`" in out["reason"], out


async def test_queue_tags_scope_sends(binary, aws, tmp_path):
    aws.sqs.create_queue(QueueName="agent-jobs", tags={"agent": "allowed"})
    aws.sqs.create_queue(QueueName="billing")
    policy = f"""
version: 1
region: us-east-1
account: "{ACCOUNT}"
services: [sqs]
statements:
  - sid: TaggedQueues
    effect: allow
    actions: [sqs:SendMessage]
    resources: ["arn:aws:sqs:us-east-1:{ACCOUNT}:*"]
    conditions:
      StringEquals: {{"aws:ResourceTag/agent": "allowed"}}
"""
    async with gateway(binary, aws, tmp_path, policy) as c:
        failed, out = await call(c, "sqs_send_message", queue_url=aws.queue_url("agent-jobs"), message_body="go")
        assert not failed, out
        denied(await call(c, "sqs_send_message", queue_url=aws.queue_url("billing"), message_body="no"))
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url("billing"), WaitTimeSeconds=0).get("Messages", [])
    assert messages == []
    sent = aws.sqs.receive_message(QueueUrl=aws.queue_url("agent-jobs"), WaitTimeSeconds=0).get("Messages", [])
    assert [m["Body"] for m in sent] == ["go"]
