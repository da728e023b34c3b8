"""Regression tests for the sidecar attacks a security review found. Each test sends
validly signed hostile requests (signed with botocore's SigV4, sent with http.client so the
exact path, query, headers and body go on the wire) or drives boto3, then reads moto
directly to prove that nothing the policy denies happened.

The contract: a request that cannot be read as exactly one operation is refused before it
is judged, with HTTP 400 and the code `InvalidRequest`, in a message that names the
offending part; a denial is 403 `AccessDenied` (`AccessDeniedException` over the JSON
protocols) naming the IAM action denied. Nothing refused reaches AWS."""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.client
import json
import re
import threading
import time
import urllib.parse
from typing import NamedTuple

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import ACCOUNT, REGION, free_port, read_audit, wait_for_port
from test_console import Operator, console_server
from test_sidecar import Sidecar, new_key, seed, sidecar

MiB = 1024 * 1024
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


# --- policies ---------------------------------------------------------------------------

def policy(*statements: str, extra: str = "") -> str:
    """A policy for moto's account; `statements` from `statement()`."""
    return (f'version: 1\nname: exact\nregion: {REGION}\naccount: "{ACCOUNT}"\n'
            f"limits:\n  calls_per_minute: 0\n{extra}statements:\n" + "".join(statements))


def statement(sid: str, effect: str, actions: list[str], resources: list[str], approval: bool = False) -> str:
    text = (f"  - sid: {sid}\n    effect: {effect}\n    actions: {json.dumps(actions)}\n"
            f"    resources: {json.dumps(resources)}\n")
    return text + ("    approval: required\n" if approval else "")


def s3_arn(path: str) -> str:
    return f"arn:aws:s3:::{path}"


def table_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


# --- raw signed requests ----------------------------------------------------------------

class Reply(NamedTuple):
    status: int
    headers: dict
    body: bytes

    def error(self) -> tuple[str, str]:
        """(code, message) of an error in any protocol's format: S3 or query XML, or JSON."""
        text = self.body.decode("utf-8", "replace")
        if text.lstrip().startswith("{"):
            data = json.loads(text)
            code = str(data.get("__type", "")).rsplit("#", 1)[-1]
            return code, str(data.get("message") or data.get("Message") or "")
        code = re.search(r"<Code>(.*?)</Code>", text, re.S)
        message = re.search(r"<Message>(.*?)</Message>", text, re.S)
        return (html.unescape(code.group(1)) if code else "", html.unescape(message.group(1)) if message else "")


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def q(value: str) -> str:
    """Percent-encoded as SigV4 canonicalizes a query value."""
    return urllib.parse.quote(value, safe="-_.~")


def sign(side: Sidecar, method: str, url: str, service: str, body: bytes = b"", headers: dict | None = None,
         region: str = REGION) -> dict[str, str]:
    """The headers of `method url` signed by the agent's key (S3SigV4Auth for S3). A `url`
    starting with `/` is on the sidecar. Its query must already be written as SigV4
    canonicalizes it (`q()`), since botocore signs the query as it is written."""
    url = side.endpoint + url if url.startswith("/") else url
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    auth = S3SigV4Auth if service == "s3" else SigV4Auth
    auth(Credentials(side.key_id, side.secret), service, region).add_auth(request)
    return dict(request.headers.items())


def send(method: str, url: str, body: bytes = b"", headers: dict | None = None) -> Reply:
    """Sends exactly this request line, these headers and this body."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def signed(side: Sidecar, method: str, url: str, service: str, body: bytes = b"", headers: dict | None = None,
           region: str = REGION) -> Reply:
    """A request signed by the agent's key and sent as it was signed."""
    url = side.endpoint + url if url.startswith("/") else url
    return send(method, url, body, sign(side, method, url, service, body, headers, region))


# --- what the answers must be -----------------------------------------------------------

def assert_invalid(reply: Reply, *names: str) -> None:
    """400 `InvalidRequest`, and the message names one of `names` (the offending part)."""
    code, message = reply.error()
    assert reply.status == 400 and code.endswith("InvalidRequest"), (reply.status, reply.body[:600])
    assert any(n.lower() in message.lower() for n in names), f"the message names none of {names}: {message}"


def assert_denied(reply: Reply, action: str) -> None:
    code, message = reply.error()
    assert reply.status == 403 and code in ("AccessDenied", "AccessDeniedException"), (reply.status, reply.body[:600])
    assert action in message, message


def attempt(call):
    """The call's response, or the ClientError it raised: AWS's state is checked first."""
    try:
        return call()
    except botocore.exceptions.ClientError as error:
        return error


def assert_refused(result, action: str) -> None:
    assert isinstance(result, botocore.exceptions.ClientError), f"not refused: {result}"
    error = result.response["Error"]
    assert error["Code"] in ("AccessDenied", "AccessDeniedException"), error
    assert action in error["Message"], error["Message"]


def public(aws, bucket: str, key: str) -> bool:
    grants = aws.s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(g["Grantee"].get("URI") == ALL_USERS for g in grants)


def waiting_messages(aws, url: str) -> list[str]:
    """The bodies of the queue's visible messages, left visible."""
    received = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in received.get("Messages", []))


JSON_10 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


# --- 1. one operation per request -------------------------------------------------------

def test_json_request_with_a_query_string_is_refused(binary, aws, tmp_path):
    jobs = seed(aws)
    aws.sqs.send_message(QueueUrl=jobs, MessageBody="job-1")
    text = policy(statement("Orders", "allow", ["dynamodb:GetItem"], [table_arn("orders")]),
                  statement("Jobs", "allow", ["sqs:GetQueueAttributes"], [queue_arn("jobs")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        # GetItem by its target, DeleteItem by the query (moto, for one, reads the query first).
        body = json.dumps({"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}).encode()
        reply = signed(side, "POST", "/?Action=DeleteItem", "dynamodb", body,
                       {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": JSON_10})
        assert "Item" in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}}), "the item was deleted"
        assert_invalid(reply, "query", "Action")

        body = json.dumps({"QueueUrl": jobs, "AttributeNames": ["All"]}).encode()
        reply = signed(side, "POST", f"/?Action=PurgeQueue&QueueUrl={q(jobs)}", "sqs", body,
                       {"X-Amz-Target": "AmazonSQS.GetQueueAttributes", "Content-Type": JSON_10})
        assert waiting_messages(aws, jobs) == ["job-1"], "the queue was purged"
        assert_invalid(reply, "query", "Action")


def test_decoy_credential_in_authorization_is_refused(binary, aws, tmp_path):
    jobs = seed(aws)
    text = policy(statement("List", "allow", ["sqs:ListQueues"], ["*"]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        # ListQueues in the query, DeleteQueue in the body; the signature covers both (and the
        # body's hash). The decoy `Credential=` inside another field says `s3`, which is not
        # what signed the request.
        body = f"Action=DeleteQueue&Version=2012-11-05&QueueUrl={q(jobs)}".encode()
        url = "/?Action=ListQueues&Version=2012-11-05"
        headers = sign(side, "POST", url, "sqs", body, {"Content-Type": FORM, "X-Amz-Content-SHA256": sha256(body)})
        real = headers["Authorization"]
        assert real.startswith("AWS4-HMAC-SHA256 Credential=")
        headers["Authorization"] = real.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 X=Credential=a/b/c/s3/d, ", 1)
        reply = send("POST", side.endpoint + url, body, headers)
        assert jobs in aws.sqs.list_queues().get("QueueUrls", []), "the queue was deleted"
        assert_invalid(reply, "Credential", "Authorization")

        # `Credential=` twice, both the real one.
        body = b"Action=ListQueues&Version=2012-11-05"
        headers = sign(side, "POST", "/", "sqs", body, {"Content-Type": FORM})
        credential = re.search(r"Credential=[^,]+", headers["Authorization"]).group(0)
        headers["Authorization"] = headers["Authorization"].replace(credential, f"{credential}, {credential}", 1)
        assert_invalid(send("POST", side.endpoint + "/", body, headers), "Credential", "Authorization")


def test_duplicated_parameters_are_refused(binary, aws, tmp_path):
    jobs = seed(aws)
    secret = aws.sqs.create_queue(QueueName="secret")["QueueUrl"]
    aws.sqs.send_message(QueueUrl=secret, MessageBody="classified")
    text = policy(statement("Jobs", "allow", ["sqs:ReceiveMessage", "sqs:SendMessage"], [queue_arn("jobs")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        # Judged by one QueueUrl, run on the other (moto takes the first).
        body = f"Action=ReceiveMessage&Version=2012-11-05&QueueUrl={q(secret)}&QueueUrl={q(jobs)}".encode()
        reply = signed(side, "POST", "/", "sqs", body, {"Content-Type": FORM})
        assert b"classified" not in reply.body
        assert waiting_messages(aws, secret) == ["classified"], "the secret queue's message was received"
        assert_invalid(reply, "QueueUrl")

        # Once in the URL's query and once in the body.
        body = f"Action=ReceiveMessage&Version=2012-11-05&QueueUrl={q(jobs)}".encode()
        reply = signed(side, "POST", f"/?QueueUrl={q(secret)}", "sqs", body, {"Content-Type": FORM})
        assert b"classified" not in reply.body
        assert waiting_messages(aws, secret) == ["classified"], "the secret queue's message was received"
        assert_invalid(reply, "QueueUrl", "query")


SELECT = (b'<?xml version="1.0" encoding="UTF-8"?>'
          b'<SelectObjectContentRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          b"<Expression>SELECT * FROM S3Object</Expression><ExpressionType>SQL</ExpressionType>"
          b"<InputSerialization><CSV><FileHeaderInfo>USE</FileHeaderInfo></CSV></InputSerialization>"
          b"<OutputSerialization><JSON/></OutputSerialization></SelectObjectContentRequest>")

TAGGING = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"


def test_two_s3_subresources_are_refused(binary, aws, tmp_path):
    seed(aws)
    aws.s3.create_bucket(Bucket="dropbox")
    aws.s3.put_object(Bucket="dropbox", Key="data.csv", Body=b"name,salary\nalice,100\n")
    aws.s3.put_object(Bucket="reports", Key="shared.csv", Body=b"x")
    text = policy(statement("Dropbox", "allow", ["s3:PutObject"], [s3_arn("dropbox/*")]),
                  statement("Reports", "allow", ["s3:PutObject", "s3:PutObjectTagging"], [s3_arn("reports/*")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        # A write-only drop box: `uploads` (CreateMultipartUpload, a write) with `select` (a read).
        reply = signed(side, "POST", "/dropbox/data.csv?uploads&select", "s3", SELECT,
                       {"Content-Type": "application/xml"})
        assert b"alice" not in reply.body, "the drop box was read"
        assert not aws.s3.list_multipart_uploads(Bucket="dropbox").get("Uploads")
        assert_invalid(reply, "uploads", "select")

        # Judged as PutObjectTagging, run as PutObjectAcl (moto checks `acl` first).
        reply = signed(side, "PUT", "/reports/shared.csv?acl&tagging", "s3", TAGGING, {"x-amz-acl": "public-read"})
        assert not public(aws, "reports", "shared.csv"), "the object was made public"
        assert_invalid(reply, "acl", "tagging")


def test_copy_source_read_as_aws_reads_it(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_bucket_versioning(Bucket="reports", VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_object(Bucket="reports", Key="secret.csv", Body=b"top secret")
    version = aws.s3.put_object(Bucket="reports", Key="public.csv", Body=b"public")["VersionId"]
    text = policy(statement("Reports", "allow", ["s3:GetObject", "s3:PutObject"], [s3_arn("reports/*")]),
                  statement("NoSecret", "deny", ["s3:GetObject"], [s3_arn("reports/secret.csv")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        def copy(destination: str, source: str) -> Reply:
            return signed(side, "PUT", f"/reports/{destination}", "s3", b"", {"x-amz-copy-source": source})

        # A percent-encoded source is judged as the key it decodes to.
        reply = copy("copy1.csv", "/reports/secret%2Ecsv")
        assert not aws.object_exists("reports", "copy1.csv"), "the secret was copied"
        assert_denied(reply, "s3:GetObject")
        assert "reports/secret.csv" in reply.error()[1]

        # Copying a version reads that version: s3:GetObjectVersion, which the policy does not allow.
        reply = copy("copy2.csv", f"/reports/public.csv?versionId={version}")
        assert not aws.object_exists("reports", "copy2.csv"), "a version was copied without s3:GetObjectVersion"
        assert_denied(reply, "s3:GetObjectVersion")

        # AWS reads `#` in a copy source as the end of the URL (moto does): the key is secret.csv.
        reply = copy("copy3.csv", "reports/secret.csv#x")
        assert not aws.object_exists("reports", "copy3.csv"), "the secret was copied"
        assert reply.status in (400, 403), (reply.status, reply.body[:600])
        if reply.status == 400:
            assert_invalid(reply, "copy-source", "#")
        else:
            assert_denied(reply, "s3:GetObject")

        reply = copy("copy4.csv", "/reports/secret%FF.csv")
        assert not aws.object_exists("reports", "copy4.csv")
        assert_invalid(reply, "copy-source", "UTF-8")


def test_actions_that_parameters_add(binary, aws, tmp_path):
    seed(aws)
    aws.s3.create_bucket(Bucket="versioned")
    aws.s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    old = aws.s3.put_object(Bucket="versioned", Key="doc.txt", Body=b"old")["VersionId"]
    aws.s3.put_object(Bucket="versioned", Key="doc.txt", Body=b"new")
    text = policy(statement("Versioned", "allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                            [s3_arn("versioned/*")]))

    def versions() -> list[str]:
        listed = aws.s3.list_object_versions(Bucket="versioned", Prefix="doc.txt")
        return sorted(v["VersionId"] for v in listed.get("Versions", []))

    both = versions()
    assert len(both) == 2 and old in both
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        s3 = side.client("s3")
        assert s3.get_object(Bucket="versioned", Key="doc.txt")["Body"].read() == b"new"

        result = attempt(lambda: s3.get_object(Bucket="versioned", Key="doc.txt", VersionId=old)["Body"].read())
        assert result != b"old", "an old version was read without s3:GetObjectVersion"
        assert_refused(result, "s3:GetObjectVersion")

        result = attempt(lambda: s3.delete_object(Bucket="versioned", Key="doc.txt", VersionId=old))
        assert versions() == both, "a version was deleted without s3:DeleteObjectVersion"
        assert_refused(result, "s3:DeleteObjectVersion")

        result = attempt(lambda: s3.put_object(Bucket="versioned", Key="acl.txt", Body=b"x", ACL="public-read"))
        assert not aws.object_exists("versioned", "acl.txt"), "an object was written with an ACL without s3:PutObjectAcl"
        assert_refused(result, "s3:PutObjectAcl")

        result = attempt(lambda: s3.put_object(Bucket="versioned", Key="tagged.txt", Body=b"x", Tagging="a=b"))
        assert not aws.object_exists("versioned", "tagged.txt"), "an object was tagged without s3:PutObjectTagging"
        assert_refused(result, "s3:PutObjectTagging")


def test_presigned_url_refuses_unsigned_amz_headers(binary, aws, tmp_path):
    seed(aws)
    text = policy(statement("Reports", "allow", ["s3:PutObject"], [s3_arn("reports/*")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        presigner = side.client("s3", config=Config(signature_version="s3v4"))

        def url(key: str) -> str:
            return presigner.generate_presigned_url("put_object", Params={"Bucket": "reports", "Key": key})

        # `x-amz-acl` is not in X-Amz-SignedHeaders: whoever holds the URL added it.
        reply = send("PUT", url("acl.csv"), b"data", {"x-amz-acl": "public-read"})
        assert not aws.object_exists("reports", "acl.csv"), "an unsigned x-amz-acl went on"
        assert reply.status == 403 and reply.error()[0] == "AccessDenied", (reply.status, reply.body[:600])

        reply = send("PUT", url("plain.csv"), b"data")
        assert reply.status == 200, (reply.status, reply.body[:600])
        assert aws.s3.get_object(Bucket="reports", Key="plain.csv")["Body"].read() == b"data"
        assert not public(aws, "reports", "plain.csv")


def test_json_body_must_match_its_content_sha256(binary, aws, tmp_path):
    seed(aws)
    text = policy(statement("Orders", "allow", ["dynamodb:GetItem", "dynamodb:PutItem"], [table_arn("orders")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        def put(pk: str) -> bytes:
            return json.dumps({"TableName": "orders", "Item": {"pk": {"S": pk}}}).encode()

        body_a, body_b = put("order#A"), put("order#B")
        # The signature covers the x-amz-content-sha256 header's value, not the body sent.
        headers = sign(side, "POST", "/", "dynamodb", body_a, {
            "X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": JSON_10, "X-Amz-Content-SHA256": sha256(body_a)})
        reply = send("POST", side.endpoint + "/", body_b, headers)
        assert "Item" not in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#B"}}), "body B was written"
        assert reply.status == 403 and reply.error()[0] == "SignatureDoesNotMatch", (reply.status, reply.body[:600])


def test_delete_objects_is_judged_per_key(binary, aws, tmp_path):
    seed(aws)
    for key in ("keep/a", "tmp/b"):
        aws.s3.put_object(Bucket="reports", Key=key, Body=b"x")
    text = policy(statement("Everything", "allow", ["s3:*"], ["*"]),
                  statement("Keep", "deny", ["s3:DeleteObject"], [s3_arn("reports/keep/*")]),
                  extra="sidecar:\n  unknown_operations: allow_if_allowed_everywhere\n")
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        s3 = side.client("s3")
        result = attempt(lambda: s3.delete_objects(
            Bucket="reports", Delete={"Objects": [{"Key": "keep/a"}, {"Key": "tmp/b"}]}))
        assert aws.object_exists("reports", "keep/a"), "a protected key was deleted"
        assert aws.object_exists("reports", "tmp/b"), "part of a refused DeleteObjects ran"
        assert_refused(result, "s3:DeleteObject")
        assert result.response["ResponseMetadata"]["HTTPStatusCode"] == 403

        s3.delete_objects(Bucket="reports", Delete={"Objects": [{"Key": "tmp/b"}]})
        assert not aws.object_exists("reports", "tmp/b")
        assert aws.object_exists("reports", "keep/a")


def test_what_sdks_send_is_accepted(binary, aws, tmp_path):
    jobs = seed(aws)
    aws.dynamodb.create_table(TableName="ledger", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    text = policy(statement("Reports", "allow", ["s3:PutObject", "s3:GetObject"], [s3_arn("reports/*")]),
                  statement("Orders", "allow", ["dynamodb:BatchWriteItem"], [table_arn("orders")]),
                  statement("Jobs", "allow", ["sqs:SendMessage"], [queue_arn("jobs")]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        # The AWS SDK for JavaScript v3 names the operation in `x-id`.
        reply = signed(side, "PUT", "/reports/x-id.csv?x-id=PutObject", "s3", b"from js v3")
        assert reply.status == 200, (reply.status, reply.body[:600])
        assert aws.s3.get_object(Bucket="reports", Key="x-id.csv")["Body"].read() == b"from js v3"

        dynamodb = side.client("dynamodb")

        def batch(table: str) -> dict:
            return {table: [{"PutRequest": {"Item": {"pk": {"S": f"batch#{n}"}}}} for n in (1, 2)]}

        dynamodb.batch_write_item(RequestItems=batch("orders"))
        for n in (1, 2):
            assert "Item" in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": f"batch#{n}"}})
        result = attempt(lambda: dynamodb.batch_write_item(RequestItems=batch("ledger")))
        assert aws.dynamodb.scan(TableName="ledger")["Count"] == 0, "a table the policy does not allow was written"
        assert_refused(result, "dynamodb:BatchWriteItem")

        # SendMessageBatch is authorized by sqs:SendMessage, as in IAM.
        sqs = side.client("sqs")
        sent = sqs.send_message_batch(QueueUrl=jobs, Entries=[{"Id": "1", "MessageBody": "b1"},
                                                              {"Id": "2", "MessageBody": "b2"}])
        assert len(sent.get("Successful", [])) == 2, sent
        assert waiting_messages(aws, jobs) == ["b1", "b2"]


def test_request_is_judged_and_run_in_the_region_it_was_signed_for(binary, aws, tmp_path):
    seed(aws)  # orders in us-east-1: order#1 totals 42
    west = boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name="us-west-2",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    west.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    west.put_item(TableName="orders", Item={"pk": {"S": "order#1"}, "total": {"N": "7"}})
    key = {"pk": {"S": "order#1"}}

    (tmp_path / "west").mkdir()
    text = policy(statement("West", "allow", ["dynamodb:GetItem"], [table_arn("orders", "us-west-2")]))
    with sidecar(binary, aws.endpoint, tmp_path / "west", text) as side:
        item = side.client("dynamodb", region_name="us-west-2").get_item(TableName="orders", Key=key)["Item"]
        assert item["total"] == {"N": "7"}, "the call ran in another region than it was signed for"
    decisions = [r for r in read_audit(side.audit) if r["event"] == "decision" and r["tool"] == "GetItem"]
    assert decisions and all(table_arn("orders", "us-west-2") in r["resources"] for r in decisions), decisions

    (tmp_path / "east").mkdir()
    text = policy(statement("East", "allow", ["dynamodb:GetItem"], [table_arn("orders")]))
    with sidecar(binary, aws.endpoint, tmp_path / "east", text) as side:
        assert side.client("dynamodb").get_item(TableName="orders", Key=key)["Item"]["total"] == {"N": "42"}
        result = attempt(lambda: side.client("dynamodb", region_name="us-west-2").get_item(TableName="orders", Key=key))
        assert not isinstance(result, dict), f"a us-west-2 call ran on a us-east-1 allow: {result.get('Item')}"
        assert_refused(result, "dynamodb:GetItem")


# --- approvals through the console ------------------------------------------------------

def approval_policy(wait_seconds: int) -> str:
    return policy(
        statement("Approve", "allow", ["s3:PutObject"], [s3_arn("reports/approve/*")], approval=True),
        statement("Reads", "allow", ["s3:GetObject", "s3:AbortMultipartUpload"], [s3_arn("reports/*")]),
        statement("NoSecret", "deny", ["s3:GetObject"], [s3_arn("reports/secret.csv")]),
        extra=f"approvals:\n  via: [console]\n  wait_seconds: {wait_seconds}\n  timeout_seconds: 120\n")


@contextlib.contextmanager
def console_sidecar(binary, aws, workdir, text: str):
    """The sidecar served with the operator console (as in test_console): the agent's side
    and the operator."""
    entry, key_id, secret = new_key(binary, "reports-agent")
    keys = workdir / "keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o600)
    port = free_port()
    args = ("--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys))
    with console_server(binary, aws, workdir, text, *args) as (server, operator):
        wait_for_port(port)
        yield Sidecar(f"http://127.0.0.1:{port}", key_id, secret, workdir / "audit.jsonl", server.process), operator


def pending_one(operator: Operator, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending = operator.approvals()
        if pending:
            assert len(pending) == 1, pending
            return pending[0]
        time.sleep(0.05)
    raise AssertionError("no approval appeared in the console")


def test_approval_binds_the_whole_request(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="reports", Key="public.csv", Body=b"public data")
    with console_sidecar(binary, aws, tmp_path, approval_policy(wait_seconds=1)) as (side, operator):
        def put(key: str, headers: dict | None = None) -> Reply:
            return signed(side, "PUT", f"/reports/{key}", "s3", b"", headers)

        reply = put("approve/c1")
        assert reply.status == 403 and reply.error()[0] == "ApprovalPending", (reply.status, reply.body[:600])
        first = pending_one(operator)
        assert operator.decide(first["id"], True).status_code == 200

        # The same request line, now a copy: not what the operator approved.
        reply = put("approve/c1", {"x-amz-copy-source": "reports/public.csv"})
        assert not aws.object_exists("reports", "approve/c1"), "a copy ran on the approval of an empty PUT"
        code, message = reply.error()
        assert reply.status == 403 and code == "ApprovalPending", (reply.status, reply.body[:600])
        assert first["id"] not in message, message
        # The approved request itself still runs, once.
        assert put("approve/c1").status == 200
        assert aws.s3.get_object(Bucket="reports", Key="approve/c1")["Body"].read() == b""

        # Approve and deny at the same instant: one decision is taken, the other refused.
        for attempt_number in range(15):
            key = f"approve/race-{attempt_number}"
            assert put(key).error()[0] == "ApprovalPending"
            approval = next(a for a in operator.approvals() if a["resources"] == [s3_arn(f"reports/{key}")])
            statuses: dict[bool, int] = {}
            start = threading.Barrier(2)

            def decide(approve: bool, approval_id: str = approval["id"]) -> None:
                start.wait()
                statuses[approve] = operator.decide(approval_id, approve).status_code

            threads = [threading.Thread(target=decide, args=(choice,)) for choice in (True, False)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(statuses.values()) == [200, 409], (attempt_number, statuses)
            # The decision that was answered 200 is the one the request gets.
            redeemed = put(key)
            assert redeemed.status == (200 if statuses[True] == 200 else 403), (statuses, redeemed)
            assert aws.object_exists("reports", key) == (statuses[True] == 200)
    decided: dict[str, int] = {}
    for record in read_audit(side.audit):
        if record["event"] == "approval_decided":
            decided[record["approval_id"]] = decided.get(record["approval_id"], 0) + 1
    assert len(decided) == 16 and set(decided.values()) == {1}, decided


def test_multipart_upload_into_an_approval_gated_prefix_asks_once(binary, aws, tmp_path):
    seed(aws)
    data = bytes(range(256)) * (12 * MiB // 256)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    with console_sidecar(binary, aws, tmp_path, approval_policy(wait_seconds=30)) as (side, operator):
        s3 = side.client("s3", config=Config(retries={"max_attempts": 1}, read_timeout=90))
        config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        outcome: list = []

        def upload():
            try:
                s3.upload_file(str(path), "reports", "approve/big.bin", Config=config)
                outcome.append("ok")
            except Exception as error:  # noqa: BLE001 - the test reads it
                outcome.append(error)

        worker = threading.Thread(target=upload)
        worker.start()
        asked: list[dict] = []
        deadline = time.monotonic() + 120
        while worker.is_alive() and time.monotonic() < deadline:
            for approval in operator.approvals():
                if approval["id"] in {a["id"] for a in asked}:
                    continue
                asked.append(approval)
                # The first is approved; any further one is denied, so the upload ends.
                operator.decide(approval["id"], len(asked) == 1)
            time.sleep(0.05)
        worker.join(10)
        assert [a["tool"] for a in asked] == ["CreateMultipartUpload"], [(a["tool"], a["arguments"]) for a in asked]
        assert outcome == ["ok"], outcome
        head = aws.s3.head_object(Bucket="reports", Key="approve/big.bin")
        assert head["ContentLength"] == len(data)
        assert aws.s3.get_object(Bucket="reports", Key="approve/big.bin")["Body"].read() == data


# --- protocols boto3 sends --------------------------------------------------------------

def test_cloudwatch_put_metric_data_through_boto3(binary, aws, tmp_path):
    text = policy(statement("Metrics", "allow", ["cloudwatch:PutMetricData"], ["*"]))
    with sidecar(binary, aws.endpoint, tmp_path, text) as side:
        cloudwatch = side.client("cloudwatch")
        cloudwatch.put_metric_data(Namespace="Agents", MetricData=[{"MetricName": "jobs_done", "Value": 3.0}])
    direct = boto3.client("cloudwatch", endpoint_url=aws.endpoint, region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    names = [m["MetricName"] for m in direct.list_metrics(Namespace="Agents")["Metrics"]]
    assert names == ["jobs_done"]
