"""Model-driven conformance: for every operation of the 14 services, botocore itself
serializes a request (its required members filled with values of their shapes' types),
signs it with an agent key and sends it through the sidecar. The sidecar must read each one
as that very operation: it is judged (and denied, by a policy that allows nothing they ask
for), never refused as unreadable, and nothing reaches AWS. The coverage (operations read
exactly / operations in the models) is printed and must be complete, but for the operations
botocore cannot send here (listed with the reason)."""

from __future__ import annotations

import datetime
import json

import boto3
import botocore.exceptions
from botocore.config import Config

from conftest import ACCOUNT, REGION, read_audit
from faultproxy import FaultProxy
from test_sidecar import sidecar

SERVICES = ["s3", "dynamodb", "sqs", "sns", "lambda", "secretsmanager", "kms", "logs", "cloudwatch", "ssm", "ec2",
            "iam", "rds", "sts"]

# Operations botocore does not send to an endpoint URL as given: a host prefix of its own,
# or an operation no SigV4 signature goes with.
NOT_SENT_HERE = {
    ("s3", "WriteGetObjectResponse"): "botocore prefixes the host with the request route",
    ("logs", "GetLogObject"): "botocore prefixes the host with `stream-`",
    ("logs", "StartLiveTail"): "botocore prefixes the host with `stream-`",
    ("sts", "AssumeRoleWithSAML"): "an unsigned operation",
    ("sts", "AssumeRoleWithWebIdentity"): "an unsigned operation",
}

# Deprecated operations whose requests are, byte for byte, those of their successors: read
# (and recorded) as the successor.
TWINS = {
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
}

# Operations of S3's other endpoints, which botocore signs for another service: refused,
# saying so.
OTHER_ENDPOINTS = {("s3", "ListDirectoryBuckets"): "s3express"}

POLICY = f"""
version: 1
name: nothing-asked
region: {REGION}
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: NothingAsked
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::no-request-names-this/*"]
"""

# awsgate's own look-ups (a secret's ARN, a role's tags), which the gate makes to judge:
# reads by awsgate, not requests of the agent.
LOOKUPS = {"DescribeSecret", "GetRole", "GetUser", "DescribeKey", "ListResourceTags", "GetQueueUrl"}


def value(shape, depth: int = 0):
    """A value of `shape` botocore accepts: its first enum value, its minimum length."""
    kind = shape.type_name
    if kind == "structure":
        return {name: value(shape.members[name], depth + 1) for name in shape.required_members} if depth < 6 else {}
    if kind == "list":
        return [value(shape.member, depth + 1)] if depth < 6 else []
    if kind == "map":
        return {}
    if kind == "string":
        if shape.name == "CopySource":
            return "a/a"
        if shape.enum:
            return shape.enum[0]
        return "a" * max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    if kind == "blob":
        return b"a"
    raise AssertionError(f"no value for a {kind}")


def test_botocore_requests_for_every_operation_are_read_as_that_operation(binary, aws, tmp_path):
    upstream_port = int(aws.endpoint.rsplit(":", 1)[1])
    proxy = FaultProxy(upstream_port)
    answers: dict[tuple[str, str], str] = {}
    not_sent, total = [], 0
    try:
        with sidecar(binary, proxy.endpoint, tmp_path, POLICY) as side:
            config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"},
                            parameter_validation=False, read_timeout=10, connect_timeout=5)
            for service in SERVICES:
                client = side.client(service, config=config)
                model = client.meta.service_model
                for name in model.operation_names:
                    total += 1
                    if (service, name) in NOT_SENT_HERE:
                        not_sent.append((service, name))
                        continue
                    operation = model.operation_model(name)
                    params = value(operation.input_shape) if operation.input_shape else {}
                    method = getattr(client, botocore.xform_name(name))
                    try:
                        method(**params)
                        answers[(service, name)] = "ran"
                    except botocore.exceptions.ClientError as error:
                        answers[(service, name)] = f"{error.response['Error'].get('Code')}: " \
                                                   f"{error.response['Error'].get('Message', '')}"
                    except Exception as error:  # noqa: BLE001 - a client that cannot even send is reported
                        answers[(service, name)] = f"{type(error).__name__}: {error}"
            agent_requests = {name: n for name, n in proxy.forwarded.items() if name not in LOOKUPS}
    finally:
        proxy.close()
    # A request read as an operation is judged, and its records name the operation (what the
    # gate then said of the dummy values, denied or invalid, does not matter here); one that
    # cannot be read one way only is refused before any record.
    records = read_audit(side.audit)
    judged = {r["tool"] for r in records if "tool" in r}
    read = [key for key in answers if TWINS.get(key[1], key[1]) in judged]
    unreadable = [(s, n, answers[(s, n)]) for (s, n) in answers if (s, n) not in read]
    ran = [key for key, answer in answers.items() if answer == "ran"]
    coverage = len(read) / total
    print(f"\nsidecar model coverage: {len(read)} of {total} operations read exactly ({coverage:.1%}); "
          f"{len(not_sent)} not sent by botocore here, {len(OTHER_ENDPOINTS)} of another endpoint")
    refused_as_expected = [u for u in unreadable if (u[0], u[1]) in OTHER_ENDPOINTS
                           and OTHER_ENDPOINTS[(u[0], u[1])] in u[2]]
    unreadable = [u for u in unreadable if u not in refused_as_expected]
    assert not unreadable, json.dumps(unreadable[:40], indent=1)
    assert not ran, ran
    assert not agent_requests, agent_requests
    assert len(read) + len(not_sent) + len(refused_as_expected) == total
