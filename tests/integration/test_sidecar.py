"""The AWS-protocol sidecar, driven by clients awsgate did not write: boto3, the AWS CLI v1
and Strands Agents' `use_aws` tool, against moto. Allowed calls take effect; denied ones
raise the SDK's AccessDenied and change nothing; bad signatures are refused with AWS's
codes; an operation awsgate cannot map never reaches AWS."""

import contextlib
import datetime
import json
import os
import re
import subprocess
import time
from unittest import mock
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from conftest import ACCOUNT, REGION, ROOT, awsgate_env, free_port, read_audit, stop, wait_for_port, write_policy
from faultproxy import FaultProxy

POLICY = f"""
version: 1
name: sidecar
region: {REGION}
account: "{ACCOUNT}"
statements:
  - sid: Reports
    effect: allow
    actions: ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:AbortMultipartUpload"]
    resources: ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"]
  - sid: Orders
    effect: allow
    actions: [dynamodb:GetItem, dynamodb:PutItem]
    resources: ["arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"]
  - sid: Jobs
    effect: allow
    actions: [sqs:SendMessage, sqs:GetQueueUrl, sqs:ReceiveMessage]
    resources: ["arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"]
  - sid: NoDrafts
    effect: deny
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::reports/drafts/*"]
"""


class Sidecar:
    def __init__(self, endpoint: str, key_id: str, secret: str, audit: Path, process: subprocess.Popen):
        self.process = process
        self.endpoint = endpoint
        self.key_id = key_id
        self.secret = secret
        self.audit = audit

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID=self.key_id, AWS_SECRET_ACCESS_KEY=self.secret,
                   AWS_DEFAULT_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")
        env.update(extra)
        return env

    def client(self, service: str, **kwargs):
        options = dict(endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.key_id,
                       aws_secret_access_key=self.secret, config=Config(retries={"max_attempts": 1}))
        options.update(kwargs)
        return boto3.client(service, **options)


def new_key(binary: Path, name: str) -> tuple[str, str, str]:
    entry = subprocess.run([str(binary), "agent-key", "new", name], capture_output=True, text=True, check=True).stdout
    key_id = re.search(r"access_key_id: ([A-Z0-9]{20})", entry).group(1)
    secret = re.search(r'secret_access_key: "([^"]{40})"', entry).group(1)
    return entry, key_id, secret


def keys_file(binary: Path, workdir: Path, name: str) -> tuple[Path, str, str]:
    """An agent-keys file in `workdir` holding a new key `name` (owner-only, as the sidecar
    requires): its path, key id and secret."""
    entry, key_id, secret = new_key(binary, name)
    keys = workdir / "keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o600)
    return keys, key_id, secret


@contextlib.contextmanager
def sidecar(binary: Path, upstream: str, workdir: Path, policy_text: str = POLICY):
    policy = write_policy(workdir, policy_text)
    entry, key_id, secret = new_key(binary, "reports-agent")
    keys = workdir / "keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o600)
    audit = workdir / "audit.jsonl"
    port = free_port()
    log = (workdir / "sidecar.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "serve", "--policy", str(policy), "--transport", "http", "--listen", "127.0.0.1:0",
         "--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys), "--audit-log", str(audit)],
        env=awsgate_env(upstream), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for_port(port)
        yield Sidecar(f"http://127.0.0.1:{port}", key_id, secret, audit, process)
    finally:
        stop(process)
        log.close()


def seed(aws) -> str:
    for bucket in ("reports", "private"):
        aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_object(Bucket="private", Key="payroll.csv", Body=b"secret")
    aws.dynamodb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    aws.dynamodb.put_item(TableName="orders", Item={"pk": {"S": "order#1"}, "total": {"N": "42"}})
    return aws.sqs.create_queue(QueueName="jobs")["QueueUrl"]


def denied(call) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value.response["Error"]


def test_boto3_allowed_calls_work_and_denied_ones_change_nothing(binary, aws, tmp_path):
    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        s3 = side.client("s3")
        s3.put_object(Bucket="reports", Key="q3.csv", Body=b"a,b\n1,2\n")
        assert aws.s3.get_object(Bucket="reports", Key="q3.csv")["Body"].read() == b"a,b\n1,2\n"
        assert s3.get_object(Bucket="reports", Key="q3.csv")["Body"].read() == b"a,b\n1,2\n"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="reports")["Contents"]] == ["q3.csv"]

        error = denied(lambda: s3.put_object(Bucket="private", Key="x", Body=b"x"))
        assert error["Code"] == "AccessDenied"
        assert "s3:PutObject" in error["Message"] and "arn:aws:s3:::private/x" in error["Message"]
        assert not aws.object_exists("private", "x")
        error = denied(lambda: s3.put_object(Bucket="reports", Key="drafts/a", Body=b"x"))
        assert "NoDrafts" in error["Message"]
        assert not aws.object_exists("reports", "drafts/a")

        # CopyObject is judged on both objects: reading the source is denied here.
        error = denied(lambda: s3.copy_object(Bucket="reports", Key="stolen.csv",
                                              CopySource={"Bucket": "private", "Key": "payroll.csv"}))
        assert "s3:GetObject" in error["Message"] and "private/payroll.csv" in error["Message"]
        assert not aws.object_exists("reports", "stolen.csv")
        s3.copy_object(Bucket="reports", Key="copy.csv", CopySource={"Bucket": "reports", "Key": "q3.csv"})
        assert aws.object_exists("reports", "copy.csv")

        dynamodb = side.client("dynamodb")
        item = dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}})["Item"]
        assert item["total"] == {"N": "42"}
        error = denied(lambda: dynamodb.delete_item(TableName="orders", Key={"pk": {"S": "order#1"}}))
        assert error["Code"] in ("AccessDenied", "AccessDeniedException")
        assert "dynamodb:DeleteItem" in error["Message"]
        assert "Item" in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}})

        sqs = side.client("sqs")
        url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="job-1")
        error = denied(lambda: sqs.purge_queue(QueueUrl=url))
        assert "sqs:PurgeQueue" in error["Message"]
        messages = aws.sqs.receive_message(QueueUrl=aws.queue_url("jobs"), MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in messages] == ["job-1"]

        # A presigned GET (SigV4 in the query) by the agent's key.
        presigner = side.client("s3", config=Config(signature_version="s3v4"))
        import urllib.request
        url = presigner.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "q3.csv"})
        assert urllib.request.urlopen(url).read() == b"a,b\n1,2\n"

    records = read_audit(side.audit)
    assert all(r["transport"] == "sidecar" and r["agent"] == "reports-agent" for r in records)
    assert all(r["client"]["name"] in ("Boto3", "Botocore", "Python-urllib") for r in records), records[0]["client"]
    results = [r for r in records if r["event"] == "result"]
    assert {"ok", "denied"} <= {r["outcome"] for r in results}
    text = side.audit.read_text()
    assert side.secret not in text and "a,b" not in text and "job-1" not in text


def test_bad_signatures_are_refused_with_aws_codes(binary, aws, tmp_path):
    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        wrong_secret = side.client("s3", aws_secret_access_key="x" * 40)
        assert denied(lambda: wrong_secret.list_objects_v2(Bucket="reports"))["Code"] == "SignatureDoesNotMatch"
        unknown = side.client("s3", aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
        assert denied(lambda: unknown.list_objects_v2(Bucket="reports"))["Code"] == "InvalidAccessKeyId"
        dynamodb_unknown = side.client("dynamodb", aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
        code = denied(lambda: dynamodb_unknown.get_item(TableName="orders", Key={"pk": {"S": "order#1"}}))["Code"]
        assert code == "InvalidAccessKeyId"

        # A request signed 20 minutes ago, sent now (a replay).
        import urllib.request
        body = json.dumps({"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}).encode()
        request = AWSRequest(method="POST", url=side.endpoint + "/", data=body, headers={
            "X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0"})
        old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
        signer = SigV4Auth(Credentials(side.key_id, side.secret), "dynamodb", REGION)
        with mock.patch("botocore.auth.get_current_datetime", return_value=old):
            signer.add_auth(request)
        prepared = urllib.request.Request(request.url, data=body, headers=dict(request.headers), method="POST")
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(prepared)
        assert raised.value.code == 403
        assert json.loads(raised.value.read())["__type"] == "RequestTimeTooSkewed"

        # A signature that leaves the host out is refused, not a crash.
        forged = dict(request.headers)
        forged["Authorization"] = re.sub(r"SignedHeaders=[^,]*", "SignedHeaders=x-amz-date", forged["Authorization"])
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(urllib.request.Request(request.url, data=body, headers=forged, method="POST"))
        assert json.loads(raised.value.read())["__type"] == "SignatureDoesNotMatch"
        assert side.client("dynamodb").get_item(TableName="orders", Key={"pk": {"S": "order#1"}})["Item"]

        # Unsigned.
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(side.endpoint + "/reports/q3.csv")
        assert b"MissingAuthenticationToken" in raised.value.read()
    text = side.audit.read_text() if side.audit.exists() else ""
    assert side.secret not in text


def test_an_unmapped_operation_never_reaches_aws(binary, aws, tmp_path):
    seed(aws)
    upstream_port = int(aws.endpoint.rsplit(":", 1)[1])
    proxy = FaultProxy(upstream_port)
    try:
        with sidecar(binary, proxy.endpoint, tmp_path) as side:
            ec2 = side.client("ec2")
            error = denied(lambda: ec2.describe_vpcs())
            assert error["Code"] == "AccessDenied"
            assert "ec2:DescribeVpcs" in error["Message"] and "no mapping" in error["Message"]
            # Every S3 operation is mapped to the actions AWS requires: this one is judged
            # (and denied) as s3:GetBucketPolicy on the bucket.
            s3 = side.client("s3")
            error = denied(lambda: s3.get_bucket_policy(Bucket="reports"))
            assert "s3:GetBucketPolicy" in error["Message"] and "arn:aws:s3:::reports" in error["Message"]
            assert proxy.forwarded["DescribeVpcs"] == 0
            assert sum(proxy.forwarded.values()) == 0, proxy.forwarded
            # An allowed call through the same proxy is counted: the count works.
            side.client("dynamodb").get_item(TableName="orders", Key={"pk": {"S": "order#1"}})
            assert proxy.forwarded["GetItem"] == 1
    finally:
        proxy.close()


def test_aws_cli_v1_multipart_copy_get_item_and_send_message(binary, aws, tmp_path):
    queue_url = seed(aws)
    aws_cli = ROOT / ".venv-awscli" / "bin" / "aws"
    assert aws_cli.exists(), "make test creates .venv-awscli; run scripts/python-env.sh"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))  # over the CLI's 8 MiB multipart threshold
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([str(aws_cli), *args], env=side.env(), capture_output=True, text=True, timeout=120)

        copied = cli("s3", "cp", str(big), "s3://reports/big.bin", "--no-progress")
        assert copied.returncode == 0, copied.stderr
        assert aws.s3.get_object(Bucket="reports", Key="big.bin")["Body"].read() == big.read_bytes()
        refused = cli("s3", "cp", str(big), "s3://private/big.bin", "--no-progress")
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr
        assert not aws.object_exists("private", "big.bin")

        got = cli("dynamodb", "get-item", "--table-name", "orders", "--key", '{"pk": {"S": "order#1"}}')
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["Item"]["total"] == {"N": "42"}
        refused = cli("dynamodb", "delete-item", "--table-name", "orders", "--key", '{"pk": {"S": "order#1"}}')
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr

        # The CLI v1's SQS commands do not read AWS_ENDPOINT_URL: name the endpoint.
        sidecar_queue = queue_url.replace(aws.endpoint, side.endpoint)
        sent = cli("--endpoint-url", side.endpoint, "sqs", "send-message", "--queue-url", sidecar_queue,
                   "--message-body", "from-cli")
        assert sent.returncode == 0, sent.stderr
        messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in messages] == ["from-cli"]
    uploads = [r for r in read_audit(side.audit) if r["event"] == "decision" and r["tool"] == "UploadPart"]
    assert len(uploads) >= 2 and all(r["action"] == "s3:PutObject" for r in uploads)


STRANDS = """
import json, sys
from strands_tools.use_aws import use_aws
calls = json.loads(sys.argv[1])
out = []
for i, (service, operation, parameters) in enumerate(calls):
    result = use_aws({"toolUseId": str(i), "input": {"service_name": service, "operation_name": operation,
                      "parameters": parameters, "region": "us-east-1", "label": operation}})
    out.append({"status": result["status"], "text": " ".join(c.get("text", "") for c in result["content"])})
print(json.dumps(out))
"""


def test_strands_use_aws(binary, aws, tmp_path):
    seed(aws)
    python = ROOT / ".venv-strands" / "bin" / "python"
    assert python.exists(), "make test creates .venv-strands; run scripts/python-env.sh"
    script = tmp_path / "strands_client.py"
    script.write_text(STRANDS)
    calls = [
        ["s3", "put_object", {"Bucket": "reports", "Key": "strands.txt", "Body": "hello"}],
        ["dynamodb", "get_item", {"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}],
        ["s3", "list_objects_v2", {"Bucket": "private"}],
        ["dynamodb", "delete_item", {"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}],
    ]
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        result = subprocess.run([str(python), str(script), json.dumps(calls)], env=side.env(BYPASS_TOOL_CONSENT="true"),
                                capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert [o["status"] for o in out] == ["success", "success", "error", "error"], out
    assert aws.s3.get_object(Bucket="reports", Key="strands.txt")["Body"].read() == b"hello"
    assert "order#1" in out[1]["text"]
    assert "AccessDenied" in out[2]["text"] and "s3:ListBucket" in out[2]["text"]
    assert "AccessDenied" in out[3]["text"]
    assert "Item" in aws.dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}})


def test_keys_file_readable_by_others_is_refused(binary, aws, tmp_path):
    policy = write_policy(tmp_path, POLICY)
    entry, _, _ = new_key(binary, "a")
    keys = tmp_path / "keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o644)
    result = subprocess.run(
        [str(binary), "serve", "--policy", str(policy), "--aws-listen", f"127.0.0.1:{free_port()}",
         "--agent-keys", str(keys)],
        env=awsgate_env(aws.endpoint), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "can be read by others" in result.stderr and "chmod 600" in result.stderr
    assert entry.split('"')[1] not in result.stderr


TENANT = f"""
version: 1
name: tenant
region: {REGION}
account: "{ACCOUNT}"
limits:
  call_timeout_seconds: 2
statements:
  - sid: OwnRows
    effect: allow
    actions: [dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem]
    resources: ["arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"]
    conditions:
      ForAllValues:StringEquals: {{"dynamodb:LeadingKeys": ["order#1"]}}
      "Null": {{"dynamodb:LeadingKeys": "false"}}
"""


def test_dynamodb_legacy_parameters_are_refused_not_judged_without_their_keys(binary, aws, tmp_path):
    """`KeyConditions` names the partition key outside the expression the tool reads: judged
    without it, `ForAllValues` on a missing key would hold. It is refused, before AWS."""
    seed(aws)
    proxy = FaultProxy(int(aws.endpoint.rsplit(":", 1)[1]))
    try:
        with sidecar(binary, proxy.endpoint, tmp_path, TENANT) as side:
            dynamodb = side.client("dynamodb")
            own = dynamodb.query(TableName="orders", KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": "order#1"}})
            assert own["Count"] == 1
            error = denied(lambda: dynamodb.query(TableName="orders", KeyConditionExpression="pk = :pk",
                                                  ExpressionAttributeValues={":pk": {"S": "order#2"}}))
            assert error["Code"] == "AccessDeniedException"
            error = denied(lambda: dynamodb.query(
                TableName="orders",
                KeyConditions={"pk": {"AttributeValueList": [{"S": "order#2"}], "ComparisonOperator": "EQ"}}))
            assert error["Code"] == "ValidationException" and "KeyConditions" in error["Message"]
            # A request without its table is refused by the tool's own code, not judged as "-".
            error = denied(lambda: side.client("dynamodb", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
                           .get_item(Key={"pk": {"S": "order#1"}}))
            assert error["Code"] == "ValidationException" and "table" in error["Message"]
            assert proxy.forwarded["Query"] == 1 and proxy.forwarded["GetItem"] == 0, proxy.forwarded
    finally:
        proxy.close()
    invalid = [r for r in read_audit(side.audit) if r.get("outcome") == "invalid"]
    assert len(invalid) == 2 and all(r["decision"] is None for r in invalid)


def test_a_write_whose_answer_is_lost_is_sent_once(binary, aws, tmp_path):
    """The proxy drops the connection after forwarding PutItem: boto3, with its default
    retries, gets OutcomeUnknown (a 4xx, so it does not resend), and AWS saw one PutItem."""
    seed(aws)
    proxy = FaultProxy(int(aws.endpoint.rsplit(":", 1)[1]), drop_after=lambda op: op == "PutItem")
    try:
        with sidecar(binary, proxy.endpoint, tmp_path, TENANT) as side:
            dynamodb = side.client("dynamodb", config=Config())
            error = denied(lambda: dynamodb.put_item(TableName="orders", Item={"pk": {"S": "order#1"}, "n": {"N": "1"}}))
            assert error["Code"] == "OutcomeUnknown" and "does not retry writes" in error["Message"]
            assert proxy.forwarded["PutItem"] == 1, proxy.forwarded
    finally:
        proxy.close()


def test_a_slow_body_times_out_and_sigterm_stops_the_sidecar(binary, aws, tmp_path):
    import signal
    import socket

    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path, TENANT) as side:
        port = int(side.endpoint.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:
            # A signature whose parts read, so the body is awaited before it is checked.
            slow.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                         b"Authorization: AWS4-HMAC-SHA256 Credential=X/20260101/us-east-1/dynamodb/aws4_request, "
                         b"SignedHeaders=host;x-amz-date, Signature=" + b"0" * 64 + b"\r\n"
                         b"X-Amz-Date: 20260101T000000Z\r\nContent-Length: 100\r\n\r\n{")
            slow.settimeout(10)
            started = time.monotonic()
            answer = slow.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert time.monotonic() - started < 6
        side.process.send_signal(signal.SIGTERM)
        assert side.process.wait(timeout=10) == 0, "awsgate did not stop cleanly on SIGTERM"


def test_an_s3_body_must_match_what_was_signed(binary, aws, tmp_path):
    """Signed without `x-amz-content-sha256`, a request signed an empty body: a body sent
    with it anyway never completes upstream."""
    import urllib.request

    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        url = f"{side.endpoint}/reports/smuggled.txt"
        request = AWSRequest(method="PUT", url=url, data=b"")
        SigV4Auth(Credentials(side.key_id, side.secret), "s3", REGION).add_auth(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-content-sha256"}
        assert "x-amz-content-sha256" not in {k.lower() for k in headers}
        smuggled = urllib.request.Request(url, data=b"evil", headers=headers, method="PUT")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(smuggled)
        assert not aws.object_exists("reports", "smuggled.txt")


def test_aws_errors_are_recorded_with_their_code_and_passed_on(binary, aws, tmp_path):
    seed(aws)
    with sidecar(binary, aws.endpoint, tmp_path) as side:
        s3 = side.client("s3")
        error = denied(lambda: s3.get_object(Bucket="reports", Key="missing.csv"))
        assert error["Code"] == "NoSuchKey"
        dynamodb = side.client("dynamodb")
        error = denied(lambda: dynamodb.get_item(TableName="orders", Key={"wrong": {"S": "x"}}))
        assert error["Code"] == "ValidationException"
    results = [r for r in read_audit(side.audit) if r["event"] == "result"]
    assert [(r["action"], r["outcome"], r["error"]) for r in results] == [
        ("s3:GetObject", "error", "NoSuchKey"),
        ("dynamodb:GetItem", "error", "ValidationException"),
    ]


def test_sigterm_lets_a_slow_sidecar_call_finish_answer_and_record(binary, aws, tmp_path):
    import signal
    import threading

    seed(aws)
    upstream_port = int(aws.endpoint.rsplit(":", 1)[1])
    # AWS answers GetItem after 3 s: SIGTERM arrives while the call is in flight.
    proxy = FaultProxy(upstream_port, delay=lambda op: 3.0 if op == "GetItem" else 0.0)
    try:
        with sidecar(binary, proxy.endpoint, tmp_path) as side:
            dynamodb = side.client("dynamodb", config=Config(retries={"total_max_attempts": 1}, read_timeout=20))
            answer: dict = {}

            def get():
                answer["item"] = dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}})["Item"]

            thread = threading.Thread(target=get)
            thread.start()
            time.sleep(1.0)
            side.process.send_signal(signal.SIGTERM)
            thread.join(timeout=20)
            assert answer.get("item", {}).get("total") == {"N": "42"}, answer
            assert side.process.wait(timeout=20) == 0
    finally:
        proxy.close()
    result = [r for r in read_audit(side.audit) if r["event"] == "result"][-1]
    assert (result["action"], result["outcome"]) == ("dynamodb:GetItem", "ok")
