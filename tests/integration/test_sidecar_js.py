"""The AWS SDK for JavaScript v3 (`@aws-sdk/client-s3`, `-dynamodb`, `-sqs` and
`@aws-sdk/lib-storage`) as a sidecar client, run by node on `js/sidecar_client.mjs` with the
versions `js/package-lock.json` pins (`scripts/js-env.sh` installs them; `make test` runs it).

The JS SDK sends what boto3 does not: `?x-id=PutObject` on S3 calls, flexible checksums
(`x-amz-sdk-checksum-algorithm`, `x-amz-checksum-crc32`) by default, SQS over JSON. Each
step is one run of the script; moto is read directly after each one. Without node, or
without the packages, these tests fail: they do not skip."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import boto3
import pytest

from conftest import ACCOUNT, REGION, ROOT, read_audit
from test_sidecar import sidecar, seed

JS = ROOT / "tests" / "integration" / "js"
MiB = 1024 * 1024
WEST = "us-west-2"

POLICY = f"""
version: 1
name: sidecar-js
region: {REGION}
account: "{ACCOUNT}"
statements:
  - sid: Reports
    effect: allow
    actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:AbortMultipartUpload"]
    resources: ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"]
  - sid: NoConfidentialReads
    effect: deny
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::reports/confidential/*"]
  - sid: EventsBatch
    effect: allow
    actions: [dynamodb:BatchWriteItem]
    resources: ["arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/events"]
  - sid: OrdersRead
    effect: allow
    actions: [dynamodb:GetItem]
    resources: ["arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"]
  - sid: Jobs
    effect: allow
    actions: [sqs:GetQueueUrl, sqs:SendMessage]
    resources: ["arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"]
  - sid: WestRead
    effect: allow
    actions: [dynamodb:GetItem]
    resources: ["arn:aws:dynamodb:{WEST}:{ACCOUNT}:table/west"]
"""


def node() -> str:
    path = shutil.which("node")
    assert path, "node (20 or later) is not on PATH: the JavaScript SDK test needs it (see scripts/js-env.sh)"
    assert (JS / "node_modules" / "@aws-sdk" / "lib-storage").is_dir(), \
        "the AWS SDK for JavaScript is not installed: run scripts/js-env.sh (make test does)"
    return path


class JsClient:
    """Runs steps of `js/sidecar_client.mjs` against one sidecar and keeps what they sent."""

    def __init__(self, side):
        self.side = side
        self.host = side.endpoint.removeprefix("http://")
        self.sdk: dict[str, str] = {}
        self.requests: list[dict] = []

    def run(self, *steps: dict) -> list[dict]:
        config = dict(endpoint=self.side.endpoint, accessKeyId=self.side.key_id,
                      secretAccessKey=self.side.secret, region=REGION, steps=list(steps))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        result = subprocess.run([node(), str(JS / "sidecar_client.mjs"), json.dumps(config)], cwd=JS, env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
        self.sdk = out["sdk"]
        for step in out["steps"]:
            self.requests += step["requests"]
        return out["steps"]

    def ok(self, step: dict) -> dict:
        [result] = self.run(step)
        assert "error" not in result, result
        return result

    def refused(self, step: dict) -> dict:
        [result] = self.run(step)
        assert "error" in result, result
        return result


def s3_step(command: str, **params) -> dict:
    return {"service": "s3", "command": command, "input": params}


def test_js_sdk_s3_put_copy_delete_and_multipart_upload(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="reports", Key="confidential/salaries.csv", Body=b"alice,100\n")
    with sidecar(binary, aws.endpoint, tmp_path, POLICY) as side:
        js = JsClient(side)

        # PutObject: sent with `?x-id=PutObject` and a CRC32 checksum header.
        put = js.ok(s3_step("PutObject", Bucket="reports", Key="js/hello.txt", Body="hello from js\n"))
        [request] = put["requests"]
        assert request["method"] == "PUT" and request["path"] == "/reports/js/hello.txt"
        assert request["query"] == {"x-id": "PutObject"}
        assert request["headers"]["x-amz-sdk-checksum-algorithm"] == "CRC32" and "x-amz-checksum-crc32" in request["headers"]
        assert aws.s3.get_object(Bucket="reports", Key="js/hello.txt")["Body"].read() == b"hello from js\n"

        # CopyObject within the bucket: judged on the source (GetObject) and the copy (PutObject).
        js.ok(s3_step("CopyObject", Bucket="reports", Key="js/copy.txt", CopySource="reports/js/hello.txt"))
        assert aws.s3.get_object(Bucket="reports", Key="js/copy.txt")["Body"].read() == b"hello from js\n"

        # A source the policy denies reading: the copy is refused and not made.
        denied = js.refused(s3_step("CopyObject", Bucket="reports", Key="js/stolen.csv",
                                    CopySource="reports/confidential/salaries.csv"))
        assert denied["error"] == "AccessDenied" and denied["status"] == 403, denied
        assert "s3:GetObject" in denied["message"] and "reports/confidential/salaries.csv" in denied["message"]
        assert "NoConfidentialReads" in denied["message"], denied["message"]
        assert not aws.object_exists("reports", "js/stolen.csv")

        js.ok(s3_step("DeleteObject", Bucket="reports", Key="js/copy.txt"))
        assert not aws.object_exists("reports", "js/copy.txt")
        assert aws.object_exists("reports", "js/hello.txt")

        # lib-storage's Upload: 12 MiB in 5 MiB parts is CreateMultipartUpload, three
        # UploadPart and CompleteMultipartUpload.
        upload = js.ok(s3_step("Upload", Bucket="reports", Key="js/big.bin", size=12 * MiB, partSize=5 * MiB))
        stored = aws.s3.get_object(Bucket="reports", Key="js/big.bin")
        body = stored["Body"].read()
        assert stored["ContentLength"] == 12 * MiB == len(body) == upload["output"]["size"]
        assert hashlib.sha256(body).hexdigest() == upload["output"]["sha256"]
        parts = [r for r in upload["requests"] if "partNumber" in r["query"]]
        assert sorted(r["query"]["partNumber"] for r in parts) == ["1", "2", "3"], upload["requests"]
        assert not aws.s3.list_multipart_uploads(Bucket="reports").get("Uploads")

    assert all(r["host"] == js.host for r in js.requests), "every request went to the sidecar"
    records = read_audit(side.audit)
    assert records and all(r["agent"] == "reports-agent" and r["client"]["name"] == "aws-sdk-js" for r in records)
    uploads = [r for r in records if r["event"] == "decision" and r["tool"] == "UploadPart"]
    assert len(uploads) == 3 and all(r["action"] == "s3:PutObject" for r in uploads)


def test_js_sdk_dynamodb_batch_write_and_denied_put(binary, aws, tmp_path):
    seed(aws)
    aws.dynamodb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    items = [{"pk": {"S": f"evt#{i}"}, "n": {"N": str(i)}} for i in (1, 2, 3)]
    with sidecar(binary, aws.endpoint, tmp_path, POLICY) as side:
        js = JsClient(side)
        written = js.ok({"service": "dynamodb", "command": "BatchWriteItem",
                         "input": {"RequestItems": {"events": [{"PutRequest": {"Item": item}} for item in items]}}})
        assert not written["output"].get("UnprocessedItems"), written
        stored = aws.dynamodb.scan(TableName="events")["Items"]
        assert sorted(stored, key=lambda i: i["pk"]["S"]) == items

        # The policy allows only GetItem on `orders`.
        denied = js.refused({"service": "dynamodb", "command": "PutItem",
                             "input": {"TableName": "orders", "Item": {"pk": {"S": "order#2"}, "total": {"N": "1"}}}})
        assert denied["error"] == "AccessDeniedException" and denied["status"] == 403, denied
        assert "dynamodb:PutItem" in denied["message"] and "table/orders" in denied["message"], denied["message"]
        assert "Item" not in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#2"}})
        assert aws.dynamodb.scan(TableName="orders")["Count"] == 1
    assert all(r["host"] == js.host for r in js.requests)


def test_js_sdk_sqs_send_message(binary, aws, tmp_path):
    queue_url = seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path, POLICY) as side:
        js = JsClient(side)
        # The queue URL the sidecar answers with is used as returned; with an endpoint set,
        # the SDK keeps sending to the endpoint (not the URL's host).
        got, sent = js.run({"service": "sqs", "command": "GetQueueUrl", "input": {"QueueName": "jobs"}},
                           {"service": "sqs", "command": "SendMessage",
                            "input": {"QueueUrl": "{{0.QueueUrl}}", "MessageBody": "from-js"}})
        assert "error" not in got and "error" not in sent, (got, sent)
        assert got["output"]["QueueUrl"].endswith(f"/{ACCOUNT}/jobs")
        assert sent["output"]["MessageId"]
        messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in messages] == ["from-js"]
    assert all(r["host"] == js.host for r in js.requests)
    assert [r["headers"].get("x-amz-target") for r in js.requests] == ["AmazonSQS.GetQueueUrl", "AmazonSQS.SendMessage"]


def test_js_sdk_client_in_another_region_reads_that_regions_table(binary, aws, tmp_path):
    west = boto3.client("dynamodb", endpoint_url=aws.endpoint, region_name=WEST,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    west.create_table(TableName="west", BillingMode="PAY_PER_REQUEST",
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    west.put_item(TableName="west", Item={"pk": {"S": "w#1"}, "where": {"S": "oregon"}})
    with pytest.raises(aws.dynamodb.exceptions.ResourceNotFoundException):
        aws.dynamodb.describe_table(TableName="west")  # only in us-west-2
    with sidecar(binary, aws.endpoint, tmp_path, POLICY) as side:
        js = JsClient(side)
        got = js.ok({"service": "dynamodb", "command": "GetItem", "region": WEST,
                     "input": {"TableName": "west", "Key": {"pk": {"S": "w#1"}}}})
        assert got["output"]["Item"] == {"pk": {"S": "w#1"}, "where": {"S": "oregon"}}, got
        [request] = got["requests"]
        assert request["host"] == js.host
    decisions = [r for r in read_audit(side.audit) if r["event"] == "decision"]
    assert decisions and all(r["action"] == "dynamodb:GetItem" for r in decisions)


def test_js_sdk_versions_are_the_pinned_ones(binary, aws, tmp_path):
    """The test ran the versions the lock file pins (a stale node_modules would not)."""
    pinned = json.loads((JS / "package.json").read_text())["dependencies"]
    lock = json.loads((JS / "package-lock.json").read_text())["packages"]
    assert all(lock[f"node_modules/{name}"]["version"] == version for name, version in pinned.items())
    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path, POLICY) as side:
        js = JsClient(side)
        js.ok({"service": "dynamodb", "command": "GetItem",
               "input": {"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}})
    # The AWS SDK's packages; the others (the MCP SDK, oidc-provider) serve other tests.
    assert js.sdk == {name: version for name, version in pinned.items() if name.startswith("@aws-sdk/")}
