"""Mutation differential test of the sidecar's one strict reading.

Base requests of S3 (REST XML), DynamoDB and SQS (JSON), SNS and CloudWatch (query forms)
are mutated: query parameters given twice, S3 sub-resources alone and in pairs, every
`x-amz-*` header of the S3 model, percent-encoding variants and invalid encodings in
keys, a query string on JSON requests, JSON bodies with a key given twice or a member
more, forms with a field given twice, an `X-Amz-Target` of another service, a wrong
Content-Type, a header given twice, another Host. Each mutated request is signed validly
by the agent's key AFTER the mutation, so it is the sidecar's reading, not its signature
check, that meets it; decoy `Authorization` headers are made after signing.

A recording proxy between the sidecar and moto keeps every request the sidecar forwards.
For every request the test checks, with no exception allowed:

- refused by awsgate (an answer the proxy did not relay): nothing reached the proxy;
- forwarded: exactly once, after an allow decision, and rebuilt from what was judged: no
  query name twice; JSON: no query string, the body and X-Amz-Target as sent; query
  protocol: no URL query, a form of the sent pairs, each name once; S3: only the
  selectors and query members of the operation the audit names, only its `x-amz-*`
  header members (or body framing, checksums, awsgate's own signature), and the path of
  the object judged (`arn:aws:s3:::bucket/key`);
- nothing hangs, and the sidecar still answers at the end.

And, stricter than those: no header is given twice in a forwarded request; a forwarded
DeleteObjects document names, read by a standard XML reader, the keys judged; a forwarded
x-amz-copy-source is the source judged; no answer carries the content of an object the
policy denies, and what it protects (the denied objects, table and queue) is as seeded at
the end. Every request, its answer, what was forwarded and its audit records are written to
`mutations.jsonl` in the test's temporary directory.

The mutations are drawn with a fixed seed: the same requests every run."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import json
import random
import re
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path
from typing import Callable

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCOUNT, REGION, ROOT
from faultproxy import FaultProxy, Recorded
from test_sidecar import seed, sidecar
from test_sidecar_exact import policy, queue_arn, s3_arn, statement, table_arn

SEED = 20240607
# The contents of the two objects the policy denies: no answer may carry them, and no other
# object may hold them at the end.
SECRETS = (b"TOP-SECRET-PLAN-7f3a\n", b"PAYROLL-CONFIDENTIAL-91c2\n")
MODELS = ROOT / "src" / "sidecar" / "models"
S3_OPERATIONS: dict = json.loads((MODELS / "s3.json").read_text())["operations"]

JSON_10 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
SNS_VERSION = "2010-03-31"
CLOUDWATCH_VERSION = "2010-08-01"

# `x-amz-*` headers a forwarded S3 request may carry besides its operation's members: the
# body's framing and checksums, and awsgate's own signature.
S3_FRAMING = {"x-amz-decoded-content-length", "x-amz-trailer", "x-amz-sdk-checksum-algorithm"}
SIGNATURE = {"x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


POLICY = policy(
    statement("ReportsObjects", "allow", ["s3:*"], [s3_arn("reports/*")]),
    statement("ReportsBucket", "allow", ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
              [s3_arn("reports")]),
    statement("NoSecret", "deny", ["s3:*"], [s3_arn("reports/secret/*")]),
    statement("Orders", "allow", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [table_arn("orders")]),
    statement("Jobs", "allow", ["sqs:SendMessage", "sqs:ReceiveMessage"], [queue_arn("jobs")]),
    statement("Alerts", "allow", ["sns:Publish"], [topic_arn("alerts")]),
    statement("Metrics", "allow", ["cloudwatch:PutMetricData"], ["*"]),
)


# --- the S3 model -----------------------------------------------------------------------

def selectors(operation: dict) -> list[tuple[str, str | None]]:
    """The sub-resources in an operation's URI (`?uploads`, `?list-type=2`), `x-id` left out."""
    if "?" not in operation["uri"]:
        return []
    out = []
    for piece in operation["uri"].split("?", 1)[1].split("&"):
        name, eq, value = piece.partition("=")
        if piece and name != "x-id":
            out.append((name, value if eq else None))
    return out


def members(operation: dict, location: str) -> set[str]:
    return {m["wire"] for m in operation["members"] if m["location"] == location}


SUBRESOURCES = sorted({name for op in S3_OPERATIONS.values() for name, _ in selectors(op)})
SUBRESOURCE_VALUE = {name: value for op in S3_OPERATIONS.values() for name, value in selectors(op) if value}
S3_AMZ_HEADERS = sorted({w.lower() for op in S3_OPERATIONS.values() for w in members(op, "header")
                         if w.lower().startswith("x-amz-")} | {"x-amz-meta-owner"})
S3_QUERY_MEMBERS = sorted({w for op in S3_OPERATIONS.values() for w in members(op, "querystring")})

CUSTOMER_KEY = bytes(range(32))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def amz_value(name: str) -> str:
    """A plausible value for an S3 `x-amz-*` header."""
    exact = {
        "x-amz-acl": "public-read",
        "x-amz-copy-source": "reports/public/a.csv",
        "x-amz-copy-source-range": "bytes=0-1",
        "x-amz-checksum-algorithm": "CRC32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "x-amz-checksum-mode": "ENABLED",
        "x-amz-checksum-type": "FULL_OBJECT",
        "x-amz-server-side-encryption": "AES256",
        "x-amz-server-side-encryption-aws-kms-key-id": "alias/agents",
        "x-amz-server-side-encryption-context": b64(b'{"team":"reports"}'),
        "x-amz-storage-class": "STANDARD_IA",
        "x-amz-tagging": "team=reports",
        "x-amz-tagging-directive": "REPLACE",
        "x-amz-metadata-directive": "REPLACE",
        "x-amz-object-annotation-directive": "COPY",
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-legal-hold": "ON",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
        "x-amz-object-ownership": "BucketOwnerEnforced",
        "x-amz-request-payer": "requester",
        "x-amz-mfa": f"arn:aws:iam::{ACCOUNT}:mfa/agent 123456",
        "x-amz-website-redirect-location": "/public/other.html",
        "x-amz-object-attributes": "ETag,ObjectSize",
        "x-amz-optional-object-attributes": "RestoreStatus",
        "x-amz-fwd-status": "200",
        "x-amz-rename-source": "/reports/public/a.csv",
        "x-amz-meta-owner": "agent",
    }
    if name in exact:
        return exact[name]
    if name.startswith("x-amz-grant-"):
        return 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    if name.endswith("customer-algorithm"):
        return "AES256"
    if name.endswith("customer-key"):
        return b64(CUSTOMER_KEY)
    if name.endswith("customer-key-md5"):
        return b64(hashlib.md5(CUSTOMER_KEY).digest())
    if "since" in name or name.endswith("-time"):
        return "Wed, 21 Oct 2015 07:28:00 GMT"
    if name.endswith("bucket-owner"):
        return ACCOUNT
    if name.endswith(("-enabled", "-retention", "-validation", "-access", "-hold")):
        return "true"
    if name.endswith(("-days", "-years", "-bytes", "-size", "-parts", "-marker")):
        return "1"
    if name.endswith(("-match", "etag")):
        return '"d41d8cd98f00b204e9800998ecf8427e"'
    if name.startswith("x-amz-checksum-") or name.startswith("x-amz-fwd-header-x-amz-checksum-"):
        return b64(hashlib.sha256(name.encode()).digest()[:4 if "crc" in name else 20])
    return "v1"


QUERY_MEMBER_VALUE = {
    "versionId": "v1", "partNumber": "1", "uploadId": "upload1", "prefix": "public%2F", "delimiter": "%2F",
    "max-keys": "5", "encoding-type": "url", "fetch-owner": "true", "response-content-type": "text%2Fplain",
    "response-expires": "Wed%2C%2021%20Oct%202015%2007%3A28%3A00%20GMT", "continuation-token": "token",
    "start-after": "public%2Fa.csv", "id": "config1",
}


# --- requests ---------------------------------------------------------------------------

@dataclasses.dataclass
class Req:
    base: str
    protocol: str  # "s3", "json" or "query"
    service: str  # the SigV4 signing name
    method: str
    path: str  # as sent, percent-encoded
    query: list[str]  # the raw pieces of the query, as sent
    headers: list[tuple[str, str]]  # in order; given twice when listed twice
    body: bytes = b""
    host: str | None = None  # the Host header, when not the sidecar's address
    content_md5: bool = False  # DeleteObjects: Content-MD5 of the (mutated) body
    content_sha256: bool = False  # an X-Amz-Content-SHA256 header of the (mutated) body
    authority: str = ""  # an absolute-form request target: `http://AUTHORITY` before the path
    payload: str | None = None  # S3: what X-Amz-Content-SHA256 says instead of the body's hash
    decoy: str | None = None  # what is done to the Authorization header after signing
    mutations: tuple[str, ...] = ()
    expect: str | None = None  # for the unmutated bases: "forwarded" or "denied"

    def then(self, description: str, **changes) -> Req:
        return dataclasses.replace(self, mutations=self.mutations + (description,), expect=None, **changes)

    @property
    def target(self) -> str:
        return self.path + ("?" + "&".join(self.query) if self.query else "")

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def label(self) -> str:
        return f"{self.base} + [{'; '.join(self.mutations) or 'none'}]"


def canonical_query(query: str) -> str:
    """The canonical query as the aws-sigv4 crate builds it (the sidecar's verifier): the
    pairs decoded (`+` a space), sorted, and encoded again."""
    pairs = []
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((urllib.parse.unquote_plus(name), urllib.parse.unquote_plus(value)))
    return "&".join(f"{urllib.parse.quote(n, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                    for n, v in sorted(pairs))


class AgentSigV4(SigV4Auth):
    def _canonical_query_string_url(self, parts):
        return canonical_query(parts.query)


class AgentS3SigV4(S3SigV4Auth):
    def _canonical_query_string_url(self, parts):
        return canonical_query(parts.query)

    def payload(self, request):
        return request.context.get("payload") or super().payload(request)


def signed_headers(req: Req, port: int, key_id: str, secret: str) -> list[tuple[str, str]]:
    """The request's headers with the agent's SigV4 signature (S3's for S3), then the
    decoy, if any, made in the Authorization header."""
    request = AWSRequest(method=req.method, url=f"http://127.0.0.1:{port}{req.target}", data=req.body)
    request.headers["Host"] = req.host or f"127.0.0.1:{port}"
    for name, value in req.headers:
        request.headers[name] = value
    if req.content_md5:
        request.headers["Content-MD5"] = b64(hashlib.md5(req.body).digest())
    if req.content_sha256:
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(req.body).hexdigest()
    if req.payload:
        request.context["payload"] = req.payload
    auth = AgentS3SigV4 if req.service == "s3" else AgentSigV4
    auth(Credentials(key_id, secret), req.service, REGION).add_auth(request)
    headers = list(request.headers.items())
    if req.decoy:
        at = next(i for i, (n, _) in enumerate(headers) if n.lower() == "authorization")
        real = headers[at][1]
        credential = re.search(r"Credential=[^,]+", real).group(0)
        signature = re.search(r"Signature=[0-9a-f]+", real).group(0)
        if req.decoy == "credential-twice":
            headers[at] = ("Authorization", real.replace(credential, f"{credential}, {credential}", 1))
        elif req.decoy == "credential-appended":
            headers[at] = ("Authorization", f"{real}, {credential}")
        elif req.decoy == "decoy-field":
            decoyed = real.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 X=Credential=a/b/c/s3/d, ", 1)
            headers[at] = ("Authorization", decoyed)
        elif req.decoy == "signature-twice":
            headers[at] = ("Authorization", f"{real}, {signature}")
        elif req.decoy == "authorization-twice":
            headers.insert(at, ("Authorization", real))
        else:
            raise AssertionError(req.decoy)
    return headers


@dataclasses.dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def code(self) -> str:
        if self.header("content-type") == ["application/cbor"]:
            return str(cbor_text_map(self.body).get("__type", "?"))
        text = self.body.decode("utf-8", "replace")
        if text.lstrip().startswith("{"):
            try:
                return str(json.loads(text).get("__type", "")).rsplit("#", 1)[-1]
            except ValueError:
                return "?"
        found = re.search(r"<Code>(.*?)</Code>", text, re.S)
        return found.group(1) if found else ""


def cbor_text_map(data: bytes) -> dict:
    """A CBOR map of text strings (the sidecar's CBOR errors); `{}` for anything else."""
    def head(at: int) -> tuple[int, int, int]:
        """(major type, argument, where what follows starts) of the item at `at`."""
        major, info = data[at] >> 5, data[at] & 0x1F
        if info < 24:
            return major, info, at + 1
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        return major, int.from_bytes(data[at + 1:at + 1 + size], "big"), at + 1 + size

    try:
        major, count, at = head(0)
        texts = []
        for _ in range(count * 2 if major == 5 else 0):
            major, size, at = head(at)
            if major != 3:
                return {}
            texts.append(data[at:at + size].decode())
            at += size
        return dict(zip(texts[::2], texts[1::2]))
    except (IndexError, KeyError, UnicodeDecodeError):
        return {}


def transmit(port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
    """Exactly this request line, these headers (in order, repeated as listed) and this body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("PUT", "POST"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


# --- the base requests ------------------------------------------------------------------

DELETE_TMP = (b'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              b"<Object><Key>tmp/x</Key></Object><Object><Key>tmp/y</Key></Object><Quiet>true</Quiet></Delete>")
TAGGING = b"<Tagging><TagSet><Tag><Key>team</Key><Value>reports</Value></Tag></TagSet></Tagging>"


def s3(base: str, method: str, path: str, query: list[str] | None = None, headers: list | None = None,
       body: bytes = b"", expect: str = "forwarded", **kwargs) -> Req:
    return Req(base, "s3", "s3", method, path, list(query or []), list(headers or []), body, expect=expect, **kwargs)


def json_req(base: str, service: str, target: str, document: dict, expect: str = "forwarded") -> Req:
    return Req(base, "json", service, "POST", "/", [], [("X-Amz-Target", target), ("Content-Type", JSON_10)],
               json.dumps(document).encode(), expect=expect)


def form(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{urllib.parse.quote(n, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                    for n, v in pairs).encode()


def query_req(base: str, service: str, pairs: list[tuple[str, str]], expect: str = "forwarded") -> Req:
    return Req(base, "query", service, "POST", "/", [], [("Content-Type", FORM)], form(pairs), expect=expect)


def bases(jobs_url: str, secret_url: str) -> list[Req]:
    item = {"pk": {"S": "order#1"}}
    return [
        s3("PutObject", "PUT", "/reports/public/new.txt", body=b"hello"),
        s3("PutObject secret", "PUT", "/reports/secret/new.txt", body=b"hello", expect="denied"),
        s3("GetObject", "GET", "/reports/public/a.csv"),
        s3("GetObject private", "GET", "/private/payroll.csv", expect="denied"),
        s3("HeadObject", "HEAD", "/reports/public/a.csv"),
        s3("ListObjectsV2", "GET", "/reports", ["list-type=2", "prefix=public%2F"]),
        s3("CopyObject", "PUT", "/reports/public/copy.csv", headers=[("x-amz-copy-source", "reports/public/a.csv")]),
        s3("CopyObject secret source", "PUT", "/reports/public/copy2.csv",
           headers=[("x-amz-copy-source", "/reports/secret/plan.csv")], expect="denied"),
        s3("DeleteObject", "DELETE", "/reports/tmp/d.txt"),
        s3("CreateMultipartUpload", "POST", "/reports/public/big.bin", ["uploads"]),
        s3("PutObjectTagging", "PUT", "/reports/public/a.csv", ["tagging"], body=TAGGING),
        s3("DeleteObjects", "POST", "/reports", ["delete"], body=DELETE_TMP, content_md5=True),
        s3("DeleteObjects secret", "POST", "/reports", ["delete"], content_md5=True,
           body=DELETE_TMP.replace(b"tmp/y", b"secret/plan.csv"), expect="denied"),
        json_req("GetItem", "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "orders", "Key": item}),
        json_req("GetItem ledger", "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "ledger", "Key": item},
                 expect="denied"),
        json_req("PutItem", "dynamodb", "DynamoDB_20120810.PutItem",
                 {"TableName": "orders", "Item": {"pk": {"S": "order#9"}, "total": {"N": "7"}}}),
        json_req("Query", "dynamodb", "DynamoDB_20120810.Query",
                 {"TableName": "orders", "KeyConditionExpression": "pk = :pk",
                  "ExpressionAttributeValues": {":pk": {"S": "order#1"}}}),
        json_req("SendMessage", "sqs", "AmazonSQS.SendMessage", {"QueueUrl": jobs_url, "MessageBody": "job"}),
        json_req("SendMessage secret", "sqs", "AmazonSQS.SendMessage", {"QueueUrl": secret_url, "MessageBody": "x"},
                 expect="denied"),
        json_req("ReceiveMessage", "sqs", "AmazonSQS.ReceiveMessage",
                 {"QueueUrl": jobs_url, "MaxNumberOfMessages": 1, "VisibilityTimeout": 0}),
        query_req("Publish", "sns", [("Action", "Publish"), ("Version", SNS_VERSION),
                                     ("TopicArn", topic_arn("alerts")), ("Message", "done")]),
        query_req("Publish secret", "sns", [("Action", "Publish"), ("Version", SNS_VERSION),
                                            ("TopicArn", topic_arn("secret")), ("Message", "x")], expect="denied"),
        query_req("PutMetricData", "monitoring",
                  [("Action", "PutMetricData"), ("Version", CLOUDWATCH_VERSION), ("Namespace", "Agents"),
                   ("MetricData.member.1.MetricName", "jobs_done"), ("MetricData.member.1.Value", "3")]),
    ]


# --- the mutations ----------------------------------------------------------------------

Mutation = Callable[[Req], Req]


def add_query(piece: str) -> Mutation:
    return lambda r: r.then(f"query +{piece}", query=r.query + [piece])


def add_header(name: str, value: str) -> Mutation:
    return lambda r: r.then(f"header +{name}: {value}", headers=r.headers + [(name, value)])


def set_header(name: str, value: str | None) -> Mutation:
    def apply(r: Req) -> Req:
        kept = [(n, v) for n, v in r.headers if n.lower() != name.lower()]
        return r.then(f"header {name} = {value}", headers=kept + ([(name, value)] if value is not None else []))
    return apply


def header_twice(name: str, second: str | None = None) -> Mutation:
    def apply(r: Req) -> Req:
        values = r.header(name)
        if not values:
            value = second or "x"
            return r.then(f"header {name} twice (absent)", headers=r.headers + [(name, value), (name, value)])
        value = values[0] if second is None else second
        return r.then(f"header {name} twice ({value})", headers=r.headers + [(name, value)])
    return apply


def set_path(path: str) -> Mutation:
    return lambda r: r.then(f"path {path}", path=path)


def set_host(host: str) -> Mutation:
    return lambda r: r.then(f"Host {host}", host=host)


def set_method(method: str) -> Mutation:
    return lambda r: r.then(f"method {method}", method=method)


def set_body(description: str, body: bytes) -> Mutation:
    return lambda r: r.then(f"body {description}", body=body)


def decoy(kind: str) -> Mutation:
    return lambda r: r.then(f"decoy {kind}", decoy=kind)


def duplicate_query_pieces(r: Req) -> list[Mutation]:
    out: list[Mutation] = []
    for piece in r.query:
        name, eq, value = piece.partition("=")
        out.append(lambda r, p=piece: r.then(f"query {p} twice", query=r.query + [p]))
        out.append(lambda r, n=name: r.then(f"query {n} twice, another value", query=r.query + [f"{n}=other"]))
        # The same name, percent-encoded differently.
        encoded = "".join(f"%{ord(c):02X}" if i == 0 else c for i, c in enumerate(name))
        out.append(lambda r, n=encoded, v=value, e=eq: r.then(f"query {n} (encoded name) again",
                                                              query=r.query + [f"{n}{e}{v}"]))
    return out


KEY_VARIANTS = [
    "public%2Fa.csv", "public%2fa.csv", "public/a%2Ecsv", "public/a%2ecsv", "%70ublic/a.csv",
    "public/%2e%2e/secret/plan.csv", "public/%2E%2E/secret/plan.csv", "public/../secret/plan.csv",
    "public/..%2Fsecret/plan.csv", "public/%2e%2e%2fsecret%2fplan.csv", "./secret/plan.csv", "public/./a.csv",
    "secret%2Fplan.csv", "secret%2fplan.csv", "%73ecret/plan.csv", "Secret/plan.csv", "secret//plan.csv",
    "/secret/plan.csv", "public//a.csv", "public/", "public%252Fa.csv", "public%25%32%46a.csv",
    "public/a+b.csv", "public/a%2Bb.csv", "public/a%20b.csv", "public/caf%C3%A9.csv", "public/%E2%80%AE.csv",
    "public/a%3Fb.csv", "public/a%23b.csv", "public/a;b.csv", "public/a%3Bb.csv", "public/~a.csv",
    "public/%7Ea.csv", "public/a*b.csv", "public/a%00b.csv", "public/a%0Ab.csv", "public/a%09b.csv",
    "public/a%zzb.csv", "public/a%FFb.csv", "public/a%.csv", "public/a%2.csv", "public/a%C3.csv",
    "public/a%C3%28.csv", "public/%ED%A0%80.csv", "public/a%%2F.csv", "%",
]

BUCKET_VARIANTS = [
    "reports%2Fpublic", "reports%2Fsecret", "reports%2F..%2Fprivate", "%72eports", "Reports", "reports%2E",
    "reports.", "private%2F..%2Freports", "reports%20", "reports%zz", "reports%FF",
]


def s3_mutations(r: Req) -> list[Mutation]:
    object_level = r.path.count("/") >= 2
    bucket, _, key = r.path[1:].partition("/")
    out: list[Mutation] = []
    for name in SUBRESOURCES:
        out.append(add_query(subresource(name)))
        out.append(add_query(f"{name}="))
        # The same name, a letter percent-encoded (it decodes to the sub-resource).
        out.append(add_query(f"%{ord(name[0]):02X}" + subresource(name)[1:]))
    out += [add_query(q) for q in ("ACL", "Tagging", "UPLOADS", "list-type=1", "list-type=2", "select-type=1",
                                   "uploads=1", "acl=public-read", "tagging=x")]
    for name in S3_QUERY_MEMBERS:
        out.append(add_query(f"{name}={QUERY_MEMBER_VALUE.get(name, '1')}"))
    for name in S3_AMZ_HEADERS:
        out.append(add_header(name, amz_value(name)))
    out += [add_header("x-amz-copy-source", "/reports/secret/plan.csv"),
            add_header("x-amz-copy-source", "private/payroll.csv"),
            add_header("x-amz-copy-source", "reports/public/a.csv?versionId=v1"),
            add_header("x-amz-copy-source", "reports/public/a%2Ecsv"),
            add_header("x-amz-copy-source", "reports/secret%2Fplan.csv"),
            add_header("x-amz-copy-source", "reports/public/a.csv#x"),
            add_header("x-amz-copy-source", "reports/public/a.csv?versionId=v1&x=1"),
            add_header("x-amz-copy-source", "reports/public/%zz"),
            add_header("x-amz-copy-source", "reports/public/../secret/plan.csv"),
            add_header("x-amz-copy-source", "reports/public/%2e%2e/secret/plan.csv"),
            add_header("x-amz-copy-source", "reports/public/..%2Fsecret%2Fplan.csv"),
            add_header("x-amz-copy-source", "reports%2Fsecret%2Fplan.csv"),
            add_header("x-amz-copy-source", "reports/./secret/plan.csv"),
            add_header("x-amz-copy-source", "reports//secret/plan.csv"),
            add_header("x-amz-copy-source", "reports%2F..%2Fprivate/payroll.csv"),
            add_header("x-amz-copy-source", "reports/public/a.csv,private/payroll.csv"),
            add_header("x-amz-server-side-encryption-aws-kms-key-id", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"),
            add_header("x-amz-bogus", "1"), add_header("x-amz-security-token", "token"),
            add_header("x-amz-user-agent", "agent/1"), add_header("x-amz-meta-Owner", "agent"),
            add_header("x-amz-checksum-crc32", "AAAAAA=="), add_header("x-amz-trailer", "x-amz-checksum-crc32"),
            add_header("x-amz-decoded-content-length", str(len(r.body))),
            add_header("x-amz-id-2", "x"), add_header("x-amz-request-id", "x"),
            add_header("Range", "bytes=0-1"), add_header("If-Match", '"x"'),
            add_header("Content-Type", "application/json"), add_header("Content-Encoding", "gzip"),
            add_header("Transfer-Encoding", "identity")]
    out += [add_query("x-id=" + name) for name in ("PutObject", "GetObject", "DeleteObject", "ListObjectsV2",
                                                    "CopyObject", "DeleteObjects", "PutObjectAcl")]
    out += [add_query(piece) for piece in ("prefix=%zz", "prefix=%FF", "prefix=%", "prefix=a+b", "a+b=1",
                                           "%zz", "=1", "&", "versionId=%2", "prefix=%C3%28")]
    out += duplicate_query_pieces(r)
    out += [lambda r: r.then("query versionId twice", query=r.query + ["versionId=a", "versionId=b"]),
            lambda r: r.then("query acl twice", query=r.query + ["acl", "acl"]),
            lambda r: r.then("query tagging and tagging=", query=r.query + ["tagging", "tagging="]),
            lambda r: r.then("query versionId, version%49d", query=r.query + ["versionId=a", "version%49d=b"])]
    for name in ("Content-Type", "x-amz-meta-a", "x-amz-acl", "If-Match", "Range", "Cache-Control",
                 "Content-MD5", "x-amz-copy-source", "Host", "Content-Encoding"):
        out.append(header_twice(name, amz_value(name.lower()) if name.startswith("x-amz-") else "x"))
        if r.header(name):
            out.append(header_twice(name))
    for name, one, other in (("Content-Type", "text/plain", "application/xml"), ("Range", "bytes=0-1", "bytes=2-3"),
                             ("Content-MD5", b64(hashlib.md5(r.body).digest()), "AAAAAAAAAAAAAAAAAAAAAA=="),
                             ("If-Match", '"a"', '"b"'), ("Content-Encoding", "gzip", "aws-chunked"),
                             ("x-amz-acl", "private", "public-read"), ("x-amz-tagging", "a=1", "a=2")):
        out.append(lambda r, n=name, a=one, b=other: r.then(f"header {n} twice ({a}, {b})",
                                                            headers=r.headers + [(n, a), (n, b)]))
    out += [lambda r, a=host: r.then(f"absolute-form target http://{a}", authority=a)
            for host in ("private.localhost", "reports.localhost", "127.0.0.1:1", "secret.localhost")]
    out += [set_path("//" + r.path.lstrip("/")), set_path(r.path + "#x"), set_path(r.path + "%23x")]
    out += [lambda r, p=payload: r.then(f"payload {p}", payload=p)
            for payload in ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "unsigned-payload", "0" * 64)]
    if object_level:
        for variant in KEY_VARIANTS:
            out.append(set_path(f"/{bucket}/{variant}"))
        for variant in ("%2e%2e/private/payroll.csv", "../private/payroll.csv", "..%2Fprivate%2Fpayroll.csv",
                        "public/../../private/payroll.csv"):
            out.append(set_path(f"/{bucket}/{variant}"))
        for variant in BUCKET_VARIANTS:
            out.append(set_path(f"/{variant}/{key}"))
        out += [set_method(m) for m in ("GET", "HEAD", "PUT", "POST", "DELETE") if m != r.method]
    else:
        for variant in BUCKET_VARIANTS:
            out.append(set_path(f"/{variant}"))
        out.append(set_path(f"/{bucket}/"))
    for host in ("reports.localhost", "private.localhost", "reports.s3.amazonaws.com",
                 "reports.s3.us-east-1.amazonaws.com", "secret.localhost", "localhost", "127.0.0.1"):
        out.append(set_host(host))
        out.append(lambda r, h=host: r.then(f"virtual host {h} with the path without its bucket", host=h,
                                            path="/" + r.path[1:].partition("/")[2]))
    if r.base.startswith("DeleteObjects"):
        out += delete_document_mutations(r.body)
    if r.body:
        out.append(set_body("empty", b""))
        out.append(set_body("other bytes", r.body + b"!"))
    return out


def delete_document_mutations(body: bytes) -> list[Mutation]:
    """DeleteObjects documents that a strict reader refuses, or reads as other keys."""
    def key_x(replacement: bytes) -> bytes:
        return body.replace(b"<Key>tmp/x</Key>", replacement)

    declared = body.split(b"?>", 1)[1]
    return [
        set_body("Key twice in an Object", key_x(b"<Key>tmp/x</Key><Key>secret/plan.csv</Key>")),
        set_body("a comment in a Key", key_x(b"<Key>tmp/<!-- -->x</Key>")),
        set_body("CDATA key", key_x(b"<Key><![CDATA[secret/plan.csv]]></Key>")),
        set_body("character reference", key_x(b"<Key>secret&#47;plan.csv</Key>")),
        set_body("entity", b'<!DOCTYPE d [<!ENTITY e "secret/plan.csv">]>' + key_x(b"<Key>&e;</Key>")),
        set_body("escaped key", key_x(b"<Key>tmp/a&amp;b</Key>")),
        set_body("a version", key_x(b"<Key>tmp/x</Key><VersionId>v1</VersionId>")),
        set_body("a namespace-prefixed Key", key_x(b'<s:Key xmlns:s="urn:x">tmp/x</s:Key>')),
        set_body("an attribute on Key", key_x(b'<Key a="secret/plan.csv">tmp/x</Key>')),
        set_body("a key not ASCII", key_x("<Key>tmp/\u00e9</Key>".encode())),
        set_body("an unknown element", body.replace(b"<Quiet>", b"<Bogus>1</Bogus><Quiet>")),
        set_body("no objects", b"<Delete><Quiet>true</Quiet></Delete>"),
        set_body("a second document element",
                 body + b"<Delete><Object><Key>secret/plan.csv</Key></Object></Delete>"),
        set_body("a second document element of tmp keys", body + b"<Delete><Object><Key>tmp/z</Key></Object></Delete>"),
        set_body("text after the document element", body + b"secret/plan.csv"),
        set_body("a UTF-16 declaration", b'<?xml version="1.0" encoding="UTF-16"?>' + declared),
        set_body("a Latin-1 declaration and a key not ASCII", b'<?xml version="1.0" encoding="ISO-8859-1"?>'
                 + declared.replace(b"<Key>tmp/x</Key>", "<Key>tmp/\u00e9</Key>".encode())),
        set_body("not XML", b"{}"),
        lambda r: r.then("Content-MD5 of another body", content_md5=False,
                         headers=r.headers + [("Content-MD5", b64(hashlib.md5(b"x").digest()))]),
    ]


def json_mutations(r: Req) -> list[Mutation]:
    document = json.loads(r.body)
    target = r.header("X-Amz-Target")[0]
    prefix, operation = target.split(".")
    text = r.body.decode()
    first = next(iter(document))
    out: list[Mutation] = [add_query(q) for q in ("Action=DeleteItem", "x=1", "Action=PurgeQueue", "TableName=ledger",
                                                   "QueueUrl=x", "X-Amz-Target=DynamoDB_20120810.DeleteItem", "%zz",
                                                   "a+b")]
    out.append(lambda r: r.then("empty query string", path="/?"))

    def member(text_member: str) -> bytes:
        """The document with one member more, last."""
        return (text[:-1] + ", " + text_member + "}").encode()

    def replaced(old: str, new: str) -> bytes:
        return text.replace(old, new).encode()

    escaped_first = "".join(f"\\u{ord(c):04x}" for c in first)
    out += [set_body(f"{first} twice (same)", ("{" + f"{json.dumps(first)}: {json.dumps(document[first])}, "
                                               + text[1:]).encode()),
            set_body(f"{first} twice (other)", ("{" + f'{json.dumps(first)}: "ledger", ' + text[1:]).encode()),
            set_body(f"{first} twice (after)", member(f'{json.dumps(first)}: "ledger"')),
            set_body(f"{first} again, its name escaped", member(f'"\\u{ord(first[0]):04x}{first[1:]}": "ledger"')),
            set_body(f"{first.lower()} as well", member(f'"{first.lower()}": "ledger"')),
            set_body("member Bogus", member('"Bogus": 1')),
            set_body("null member", member('"ReturnConsumedCapacity": null')),
            set_body("NaN", member('"Limit": NaN')),
            set_body("a huge number", member('"Limit": 1e400')),
            set_body("nested key twice", text.replace('{"S": ', '{"S": "x", "S": ', 1).encode()),
            set_body("escaped name",
                     text.replace('"orders"', '"\\u006frders"').replace("/jobs", "/\\u006aobs").encode()),
            set_body("escaped member name", text.replace(f'"{first}"', f'"{escaped_first}"', 1).encode()),
            set_body("whitespace", json.dumps(document, indent=2).encode()),
            set_body("trailing garbage", r.body + b" {}"),
            set_body("two documents", r.body + r.body),
            set_body("an array", b"[" + r.body + b"]"),
            set_body("empty", b""),
            set_body("empty object", b"{}"),
            set_body("BOM", b"\xef\xbb\xbf" + r.body),
            set_body("not UTF-8", r.body.replace(b"order#1", b"order\xff1").replace(b"job", b"j\xffb")),
            set_body("lone surrogate", text.replace('"orders"', '"orders\\ud800"').replace('"job"', '"job\\ud800"')
                     .encode())]
    if r.service == "dynamodb":
        out += [set_body("ReturnConsumedCapacity", member('"ReturnConsumedCapacity": "TOTAL"')),
                set_body("legacy AttributesToGet", member('"AttributesToGet": ["pk"]')),
                set_body("table ledger", replaced('"orders"', '"ledger"')),
                set_body("table ARN", replaced('"orders"', json.dumps(table_arn("orders")))),
                set_body("table ARN of ledger", replaced('"orders"', json.dumps(table_arn("ledger")))),
                set_body("table ARN of another region",
                         replaced('"orders"', json.dumps(table_arn("orders", "us-west-2")))),
                set_body("table ARN of another account",
                         replaced('"orders"', json.dumps(table_arn("orders").replace(ACCOUNT, "999999999999")))),
                set_body("table ARN of an index", replaced('"orders"', json.dumps(table_arn("orders") + "/index/x"))),
                set_body("TableName orders and ledger", replaced('"orders"', '"orders", "TableName": "ledger"'))]
    else:
        out += [set_body("DelaySeconds", member('"DelaySeconds": 0')),
                set_body("queue secret", replaced("/jobs", "/secret")),
                set_body("queue URL of another host",
                         re.sub(r"http://[^/]+/", "https://sqs.us-east-1.amazonaws.com/", text).encode()),
                set_body("queue URL with a query", replaced('/jobs"', '/jobs?QueueUrl=secret"')),
                set_body("queue URL with a trailing slash", replaced('/jobs"', '/jobs/"')),
                set_body("queue URL jobs/../secret", replaced('/jobs"', '/jobs/../secret"')),
                set_body("queue URL secret/../jobs", replaced('/jobs"', '/secret/../jobs"')),
                set_body("queue URL jobs%2F..%2Fsecret", replaced('/jobs"', '/jobs%2F..%2Fsecret"')),
                set_body("queue URL jobs#secret", replaced('/jobs"', '/jobs#/secret"')),
                set_body("queue URL of another account", replaced("/123456789012/", "/999999999999/")),
                set_body("queue name", re.sub(r'"http://[^"]+/jobs"', '"jobs"', text).encode())]
    for other in ("AmazonSQS", "DynamoDB_20120810", "GraniteServiceVersion20100801", "Kinesis_20131202",
                  prefix.lower(), prefix + "x", "", "com.amazonaws." + prefix):
        if other != prefix:
            out.append(set_header("X-Amz-Target", f"{other}.{operation}"))
    for name in ("DeleteItem", "Scan", "PutItem", "UpdateItem", "PurgeQueue", "DeleteQueue", "SendMessageBatch",
                 "GetQueueUrl", operation.lower(), operation + " ", "Bogus"):
        out.append(set_header("X-Amz-Target", f"{prefix}.{name}"))
    out += [set_header("X-Amz-Target", operation), set_header("X-Amz-Target", f"{prefix}.{operation}.x"),
            set_header("X-Amz-Target", None)]
    out += [set_header("Content-Type", ct) for ct in ("application/json", "application/x-amz-json-1.1", "text/plain",
                                                      JSON_10 + "; charset=utf-8", JSON_10.upper(), "", None,
                                                      "application/cbor", FORM)]
    out += [header_twice("X-Amz-Target"), header_twice("X-Amz-Target", f"{prefix}.DeleteItem"),
            header_twice("Content-Type"), header_twice("Content-Type", "application/json"), header_twice("Host"),
            header_twice("x-amzn-query-mode", "true")]
    out += [add_header(n, v) for n, v in (("x-amz-meta-a", "1"), ("x-amz-acl", "public-read"),
                                          ("x-amz-api-version", "2012-08-10"), ("x-amzn-query-mode", "true"),
                                          ("x-amz-security-token", "t"), ("x-amz-bogus", "1"),
                                          ("smithy-protocol", "rpc-v2-cbor"), ("x-amz-user-agent", "a"),
                                          ("x-amz-date-bogus", "1"))]
    out.append(lambda r: r.then("X-Amz-Content-SHA256 of the body", content_sha256=True))
    out += [set_path(p) for p in ("/x", "//", "/%2F", "/service/DynamoDB_20120810/operation/" + operation)]
    out += [set_method(m) for m in ("GET", "PUT")]
    return out


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    return [(urllib.parse.unquote_plus(n), urllib.parse.unquote_plus(v))
            for n, _, v in (p.partition("=") for p in body.decode("latin-1").split("&") if p)]


def query_mutations(r: Req) -> list[Mutation]:
    text = r.body.decode()
    pairs = text.split("&")
    action = form_pairs(r.body)[0][1]
    out: list[Mutation] = []
    for piece in pairs:
        name, _, value = piece.partition("=")
        out.append(set_body(f"{name} twice", (text + "&" + piece).encode()))
        out.append(set_body(f"{name} twice, another value", (text + f"&{name}=other").encode()))
        out.append(set_body(f"{name} first, again", (piece + "&" + text).encode()))
        encoded = "".join(f"%{ord(c):02X}" if i == 0 else c for i, c in enumerate(name))
        out.append(set_body(f"{name} again with its name encoded", (text + f"&{encoded}={value}").encode()))
        out.append(set_body(f"{name} again with its name lower-case", (text + f"&{name.lower()}={value}").encode()))
        out.append(add_query(piece))
        out.append(lambda r, p=piece: r.then(f"{p} moved to the URL query", query=[p],
                                             body="&".join(x for x in pairs if x != p).encode()))
    out += [set_body(f"Version {v}", re.sub(r"Version=[^&]*", f"Version={v}", text).encode())
            for v in ("2012-11-05", "", "2010-03-31x")]
    out.append(set_body("no Version", re.sub(r"&Version=[^&]*", "", text).encode()))
    out += [set_body(f"Action {a}", text.replace(f"Action={action}", f"Action={a}").encode())
            for a in ("DeleteTopic", "Subscribe", "ListTopics", "DeleteAlarms", "GetMetricData", action.lower(), "")]
    out += [set_body("member Bogus", (text + "&Bogus=1").encode()),
            set_body("Subject", (text + "&Subject=hi").encode()),
            set_body("MetricData.member.1.Unit", (text + "&MetricData.member.1.Unit=Count").encode()),
            set_body("a + in a value", text.replace("=done", "=all+done").replace("=jobs_done", "=jobs+done").encode()),
            set_body("lower-case hex", text.replace("%3A", "%3a").encode()),
            set_body("encoded letters", text.replace("=done", "=%64one").replace("=Agents", "=%41gents").encode()),
            set_body("%zz", (text + "&Message=%zz").encode()),
            set_body("%zz in place", text.replace("=done", "=do%zz").replace("=Agents", "=Ag%zz").encode()),
            set_body("%FF", text.replace("=done", "=do%FF").replace("=Agents", "=Ag%FF").encode()),
            set_body("a lone %", text.replace("=done", "=do%").replace("=Agents", "=Ag%").encode()),
            set_body("an empty piece", (text + "&&").encode()),
            set_body("a piece with no name", (text + "&=1").encode()),
            set_body("a name with no value", (text + "&Subject").encode()),
            set_body("not UTF-8", r.body.replace(b"done", b"d\xffne").replace(b"Agents", b"Ag\xffnts")),
            set_body("the secret topic", text.replace("%3Aalerts", "%3Asecret").encode()),
            set_body("the topic twice, the secret one second",
                     (text + "&TopicArn=" + urllib.parse.quote(topic_arn("secret"), safe="")).encode()),
            set_body("a JSON document", json.dumps(dict(form_pairs(r.body))).encode()),
            lambda r: r.then("a GET with the form in the query", method="GET", body=b"", query=pairs,
                             headers=[(n, v) for n, v in r.headers if n.lower() != "content-type"])]
    out += [set_header("Content-Type", ct) for ct in ("application/json", "text/plain", JSON_10, None, "",
                                                      "application/x-www-form-urlencoded; charset=UTF-8",
                                                      "application/x-www-form-urlencoded",
                                                      "multipart/form-data; boundary=x")]
    out += [add_header("X-Amz-Target", t) for t in ("DynamoDB_20120810.GetItem", "AmazonSQS.SendMessage",
                                                    "GraniteServiceVersion20100801.PutMetricData", f"X.{action}")]
    out += [add_header(n, v) for n, v in (("x-amz-meta-a", "1"), ("x-amz-bogus", "1"), ("x-amz-security-token", "t"),
                                          ("smithy-protocol", "rpc-v2-cbor"), ("x-amzn-query-mode", "true"))]
    out += [header_twice("Content-Type"), header_twice("Content-Type", "application/json"), header_twice("Host")]
    out += [set_path(p) for p in ("/x", "//", "/?")]
    out += [set_method(m) for m in ("PUT", "GET")]
    return out


def decoys() -> list[Mutation]:
    return [decoy(k) for k in ("credential-twice", "credential-appended", "decoy-field", "signature-twice",
                               "authorization-twice")]


# The S3 bases that take every single mutation (a PUT, a GET, a POST on an object and on a
# bucket); the other S3 bases take a sample of them.
FULL = {"PutObject", "GetObject", "CreateMultipartUpload", "DeleteObjects"}


def subresource(name: str) -> str:
    """A sub-resource as its selector writes it: `uploads`, `list-type=2`."""
    return f"{name}={SUBRESOURCE_VALUE[name]}" if name in SUBRESOURCE_VALUE else name


def mutated(base_requests: list[Req], rng: random.Random) -> list[Req]:
    """The unmutated bases; the single mutations of each; compositions of two or three, and
    S3 sub-resources in pairs, drawn with `rng`; decoys in the signatures of a sample."""
    requests: list[Req] = []
    singles: dict[str, list[Mutation]] = {}
    for base in base_requests:
        requests.append(base)
        kind = {"s3": s3_mutations, "json": json_mutations, "query": query_mutations}[base.protocol]
        singles[base.base] = kind(base)
        chosen = singles[base.base]
        if base.protocol == "s3" and base.base not in FULL:
            chosen = rng.sample(chosen, len(chosen) * 2 // 5)
        requests += [m(base) for m in chosen]
    for base in base_requests:
        for _ in range(40 if base.protocol == "s3" else 60):
            chosen = rng.sample(singles[base.base], rng.choice((2, 2, 3)))
            request = base
            for mutation in chosen:
                request = mutation(request)
            requests.append(request)
        if base.protocol == "s3":
            for a, b in (rng.sample(SUBRESOURCES, 2) for _ in range(12)):
                requests.append(add_query(subresource(b))(add_query(subresource(a))(base)))
    for request in rng.sample(requests, 150) + base_requests:
        requests += [d(request) for d in decoys()]
    return requests


# --- reading what happened --------------------------------------------------------------

class AuditTail:
    """The audit log's records written since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]


def s3_path(arn: str, with_key: bool) -> str | None:
    """The canonical path-style path of the bucket or object `arn` names."""
    if not arn.startswith("arn:aws:s3:::"):
        return None
    bucket, _, key = arn[len("arn:aws:s3:::"):].partition("/")
    if not with_key:
        return "/" + urllib.parse.quote(bucket, safe="")
    return "/" + urllib.parse.quote(bucket, safe="") + "/" + urllib.parse.quote(key, safe="/-_.~")


def pairs_of(text: str, plus_is_space: bool) -> list[tuple[str, str]]:
    """The decoded (name, value) pairs of a query or form, as written, repeats kept."""
    unquote = urllib.parse.unquote_plus if plus_is_space else urllib.parse.unquote
    return [(unquote(n), unquote(v)) for n, _, v in (p.partition("=") for p in text.split("&") if p)]


def check_forwarded(req: Req, sent_headers: list[tuple[str, str]], rec: Recorded, decisions: list[dict]) -> list[str]:
    """Why the forwarded request `rec` is not the rebuild of the one input judged."""
    problems: list[str] = []
    path, has_query, query = rec.target.partition("?")
    names = [n for n, _ in pairs_of(query, plus_is_space=False)]
    if len(names) != len(set(names)):
        problems.append(f"a query name is given twice: {query}")
    forwarded_amz = [n.lower() for n, _ in rec.headers if n.lower().startswith("x-amz-")]
    twice = sorted({n.lower() for n, _ in rec.headers if len(rec.header(n)) > 1})
    if twice:
        given = [(n, v) for n, v in rec.headers if n.lower() in twice]
        problems.append(f"a header forwarded twice: {given}")
    if not decisions:
        return problems + ["forwarded with no decision record"]
    operation = decisions[0]["tool"]
    if req.protocol == "json":
        # As HTTP reads a field: without the whitespace around its value.
        target = [v.strip(" \t") for n, v in sent_headers if n.lower() == "x-amz-target"]
        if has_query or path != "/":
            problems.append(f"a JSON request was forwarded with a path or a query: {rec.target!r}")
        if rec.body != req.body:
            problems.append(f"the body changed: sent {req.body[:200]!r}, forwarded {rec.body[:200]!r}")
        if rec.header("x-amz-target") != target:
            problems.append(f"X-Amz-Target changed: sent {target}, forwarded {rec.header('x-amz-target')}")
        if target and target[0].rsplit(".", 1)[-1] != operation:
            problems.append(f"judged as another operation than sent: judged {operation}, sent {target}")
        extra = set(forwarded_amz) - SIGNATURE - {"x-amz-target"}
        if extra:
            problems.append(f"x-amz headers forwarded: {sorted(extra)}")
        try:
            document = json.loads(req.body or b"{}")
        except ValueError as error:
            return problems + [f"the forwarded body is not one JSON document: {error}"]
        if not isinstance(document, dict):
            return problems + ["the forwarded body is not a JSON object"]
        resources = [r for d in decisions for r in d["resources"]]
        if isinstance(document.get("TableName"), str):
            name = document["TableName"]
            wanted = name if name.startswith("arn:") else table_arn(name)
            if wanted not in resources:
                problems.append(f"another table judged than sent: TableName {name!r} sent, {resources} judged")
        if isinstance(document.get("QueueUrl"), str):
            name = document["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
            if not any(r.endswith(":" + name) for r in resources):
                problems.append(f"another queue judged than sent: "
                                f"QueueUrl {document['QueueUrl']!r} sent, {resources} judged")
    elif req.protocol == "query":
        sent = req.body if req.method == "POST" else "&".join(req.query).encode()
        if has_query or path != "/":
            problems.append(f"a query-protocol request was forwarded with a path or a query: {rec.target!r}")
        forwarded = pairs_of(rec.body.decode("utf-8", "replace"), plus_is_space=True)
        if len({n for n, _ in forwarded}) != len(forwarded):
            problems.append(f"a form name is given twice: {rec.body!r}")
        wanted = pairs_of(sent.decode("utf-8", "replace"), plus_is_space=req.method == "POST")
        if set(forwarded) != set(wanted):
            problems.append(f"the form changed: sent {sorted(wanted)}, forwarded {sorted(forwarded)}")
        if dict(forwarded).get("Action") != operation:
            problems.append(f"judged as another operation than forwarded: "
                            f"{operation}, Action={dict(forwarded).get('Action')}")
        if rec.header("content-type") != [FORM]:
            problems.append(f"the form's Content-Type changed: {rec.header('content-type')}")
        extra = set(forwarded_amz) - SIGNATURE
        if extra:
            problems.append(f"x-amz headers forwarded: {sorted(extra)}")
        topic = dict(forwarded).get("TopicArn")
        if topic and topic not in [r for d in decisions for r in d["resources"]]:
            problems.append(f"another topic judged than sent: "
                            f"TopicArn {topic} sent, {decisions[0]['resources']} judged")
    else:
        model = S3_OPERATIONS.get(operation)
        if model is None:
            return problems + [f"the audit names no S3 operation: {operation!r}"]
        if rec.method != req.method:
            problems.append(f"the method changed: sent {req.method}, forwarded {rec.method}")
        chosen = selectors(model)
        allowed = {n for n, _ in chosen} | members(model, "querystring")
        stray = [n for n in names if n not in allowed]
        if stray:
            problems.append(f"a query name that is neither a selector nor a member of the operation judged: "
                            f"{stray}, {operation}")
        present = dict(pairs_of(query, plus_is_space=False))
        for name, value in chosen:
            if name not in present or (value is not None and present[name] != value):
                problems.append(f"a selector of the operation judged is missing: "
                                f"{name}={value} of {operation}, {query!r}")
        header_members = {w.lower() for w in members(model, "header")}
        prefixes = [w.lower() for w in members(model, "headers")]
        for name in forwarded_amz:
            if not (name in header_members or any(name.startswith(p) for p in prefixes) or name in S3_FRAMING
                    or name.startswith("x-amz-checksum-") or name in SIGNATURE):
                problems.append(f"an x-amz header that is not a member of the operation judged: {name}, {operation}")
        with_key = "{Key+}" in model["uri"]
        arns = decisions[0]["resources"]
        wanted = s3_path(arns[0], with_key) if arns else None
        if path != wanted:
            problems.append(f"the path forwarded is not that of the object judged: "
                            f"{arns} judged, so {wanted!r}; {path!r} forwarded")
        if rec.body != req.body:
            problems.append(f"the body changed: sent {req.body[:200]!r}, forwarded {rec.body[:200]!r}")
        if operation == "DeleteObjects":
            try:
                root = ElementTree.fromstring(rec.body)
                keys = {e.text or "" for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Key"}
            except ElementTree.ParseError as error:
                keys = {f"<unreadable: {error}>"}
            bucket = urllib.parse.unquote(path[1:])
            judged = {r for d in decisions for r in d["resources"]}
            if {f"arn:aws:s3:::{bucket}/{k}" for k in keys} != judged:
                problems.append(f"the DeleteObjects document forwarded does not name the keys judged: "
                                f"{sorted(keys)}, {sorted(judged)} judged")
        source = rec.header("x-amz-copy-source")
        if source:
            plain = source[0].partition("?")[0]
            arn = "arn:aws:s3:::" + urllib.parse.unquote(plain.lstrip("/"))
            if not any(arn in d["resources"] and d["action"] in ("s3:GetObject", "s3:GetObjectVersion")
                       for d in decisions):
                judged = [(d["action"], d["resources"]) for d in decisions]
                problems.append(f"the copy source forwarded is not the one judged: {source} forwarded, {judged} judged")
    return problems


def seed_all(aws) -> tuple[str, str]:
    """test_sidecar's seed, and: objects whose content is SECRETS, a queue, a table and a
    topic the policy denies. The queues' URLs (jobs, secret)."""
    seed(aws)
    for key in ("public/a.csv", "tmp/x", "tmp/y", "tmp/d.txt"):
        aws.s3.put_object(Bucket="reports", Key=key, Body=b"name,total\nalice,1\n")
    aws.s3.put_object(Bucket="reports", Key="secret/plan.csv", Body=SECRETS[0])
    aws.s3.put_object(Bucket="private", Key="payroll.csv", Body=SECRETS[1])
    secret_url = aws.sqs.create_queue(QueueName="secret")["QueueUrl"]
    aws.sqs.send_message(QueueUrl=secret_url, MessageBody="classified")
    aws.dynamodb.create_table(TableName="ledger", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    sns = boto3.client("sns", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    for name in ("alerts", "secret"):
        sns.create_topic(Name=name)
    return aws.queue_url("jobs"), secret_url


def protected(aws, secret_url: str) -> dict:
    """What the policy denies every write to, and where its secrets could be copied: it
    must be as seeded at the end."""
    copies = []
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket="reports"):
        for listed in page.get("Contents", []):
            if not listed["Key"].startswith("secret/") and listed["Size"] in {len(x) for x in SECRETS}:
                if aws.s3.get_object(Bucket="reports", Key=listed["Key"])["Body"].read() in SECRETS:
                    copies.append(listed["Key"])

    def objects(bucket: str, prefix: str = "") -> list:
        listed = aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return sorted((o["Key"], o["ETag"], str(o["LastModified"])) for o in listed)

    waiting = aws.sqs.receive_message(QueueUrl=secret_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return {"copies of the secrets outside reports/secret/": copies,
            "reports/secret/": objects("reports", "secret/"), "private": objects("private"),
            "ledger's items": aws.dynamodb.scan(TableName="ledger")["Count"],
            "the secret queue's messages": sorted(m["Body"] for m in waiting.get("Messages", []))}


class Outcomes:
    """The counts of what happened to the requests, and every property violation."""

    def __init__(self, journal):
        self.journal = journal
        self.counts: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.violations: list[str] = []
        self.kinds: Counter[str] = Counter()  # violations by the kind of problem
        self.examples: dict[str, str] = {}  # the first violation of each kind
        self.sdk_lookups = 0
        # Requests signed validly, with the hash of their body, that the sidecar found not to
        # be: the test's signer and the sidecar's verifier would disagree.
        self.bad_signatures: list[str] = []

    def add(self, kind: str, violation: str) -> None:
        self.violations.append(violation)
        self.kinds[kind] += 1
        self.examples.setdefault(kind, violation)

    def record(self, req: Req, sent: list[tuple[str, str]], answer: Answer, recorded: list[Recorded],
               records: list[dict]) -> None:
        """Checks one request: its answer, what the proxy recorded while it was served, and
        the audit records written for it."""
        agent = [r for r in recorded if "aws-sdk-rust" not in r.user_agent]
        self.sdk_lookups += len(recorded) - len(agent)
        calls = list(dict.fromkeys(r["call_id"] for r in records))
        decisions = [r for r in records if r["event"] == "decision"]
        results = [r for r in records if r["event"] == "result"]
        # An answer the proxy relayed came from AWS; any other, awsgate wrote itself.
        relayed = bool(answer.header("X-Faultproxy-Seq"))
        code = answer.code() if answer.body else f"HTTP {answer.status}"
        problems = []
        if len(calls) > 1:
            problems.append(f"several calls in the audit log for one request: {len(calls)}")
        if not relayed and agent:
            problems.append(f"refused by awsgate, yet it reached AWS: awsgate answered {answer.status} {code}")
        if relayed and not agent:
            problems.append("the proxy relayed an answer to a request it did not record from the agent")
        if len(agent) > 1:
            problems.append(f"forwarded more than once: {len(agent)} times")
        if relayed and any(secret in answer.body for secret in SECRETS):
            problems.append("the content of an object the policy denies came back")
        if req.decoy and (relayed or agent or answer.status < 400):
            problems.append("a decoy in the Authorization header was not refused")
        if agent:
            self.counts["forwarded"] += 1
            if not decisions or any(d["decision"] != "allow" for d in decisions):
                problems.append("forwarded without an allow decision")
            problems += check_forwarded(req, sent, agent[0], decisions)
        else:
            self.codes[f"{answer.status} {code}"] += 1
            if code == "SignatureDoesNotMatch" and not req.payload:
                self.bad_signatures.append(req.label())
            if not records:
                invalid = code == "InvalidRequest" or (req.method == "HEAD" and answer.status == 400)
                self.counts["refused before judging (400 InvalidRequest)" if invalid
                            else "refused before judging (other)"] += 1
            elif any(d["decision"] == "deny" for d in decisions):
                self.counts["denied"] += 1
            else:
                outcome = ",".join(r.get("outcome", "?") for r in results)
                self.counts[f"refused after reading ({outcome})"] += 1
        if req.expect == "forwarded" and not agent:
            problems.append("the unmutated base request was not forwarded: the test's requests are not what the "
                            "sidecar takes")
        if req.expect == "denied" and not (decisions and decisions[-1]["decision"] == "deny" and not agent):
            problems.append("the unmutated base request was not denied")
        for problem in problems:
            forwarded = [(r.method, r.target, r.headers, r.body[:300]) for r in agent]
            audited = [(r["event"], r["tool"], r["action"], r["resources"], r["decision"]) for r in records]
            text = (f"{req.label()}: {problem}\n    sent: {req.method} {req.target} {sent} {req.body[:300]!r}\n"
                    f"    answer: {answer.status} {answer.body[:300]!r}\n    forwarded: {forwarded}\n"
                    f"    audit: {audited}")
            self.add(problem.split(": ", 1)[0], text)
        self.journal.write(json.dumps({
            "request": req.label(), "sent": [req.method, req.target, sent, req.body.decode("latin-1")],
            "status": answer.status, "code": code, "relayed": relayed,
            "forwarded": [[r.method, r.target, r.headers, r.body.decode("latin-1")] for r in agent],
            "audit": [[r["event"], r["tool"], r["action"], r["resources"], r["decision"], r.get("outcome")]
                      for r in records],
            "violations": problems}) + "\n")


def test_mutated_requests_are_refused_or_forwarded_as_judged(binary, aws, tmp_path):
    started = time.monotonic()
    jobs_url, secret_url = seed_all(aws)
    before = protected(aws, secret_url)
    base_requests = bases(jobs_url, secret_url)
    requests = mutated(base_requests, random.Random(SEED))
    proxy = FaultProxy(int(aws.endpoint.rsplit(":", 1)[1]), record=True)
    journal_path = tmp_path / "mutations.jsonl"
    try:
        with sidecar(binary, proxy.endpoint, tmp_path, POLICY) as side, journal_path.open("w") as journal:
            port = int(side.endpoint.rsplit(":", 1)[1])
            audit = AuditTail(side.audit)
            outcomes = Outcomes(journal)
            for req in requests:
                sent = signed_headers(req, port, side.key_id, side.secret)
                seen = len(proxy.recorded)
                target = (f"http://{req.authority}" if req.authority else "") + req.target
                try:
                    answer = transmit(port, req.method, target, sent, req.body)
                except (OSError, http.client.HTTPException) as error:
                    outcomes.add("no answer", f"{req.label()}: no answer ({error!r}): it hung, or the sidecar crashed")
                    outcomes.counts["no answer"] += 1
                    continue
                # The proxy records a request before it forwards it, and awsgate writes its
                # audit records before it answers: both are complete once the answer is in.
                outcomes.record(req, sent, answer, proxy.recorded[seen:], audit.new())
            # Still answering, and still running.
            get_item = next(b for b in base_requests if b.base == "GetItem")
            alive = transmit(port, "POST", "/", signed_headers(get_item, port, side.key_id, side.secret), get_item.body)
            assert alive.status == 200 and side.process.poll() is None, (alive.status, alive.body[:300])
    finally:
        proxy.close()
    after = protected(aws, secret_url)
    violations = outcomes.violations
    if after != before:
        outcomes.add("what the policy protects changed", f"what the policy protects changed: {before} -> {after}")
    counts = outcomes.counts
    summary = (f"mutations: {len(requests)} requests sent, "
               f"{counts['refused before judging (400 InvalidRequest)']} refused before judging (400 InvalidRequest), "
               f"{counts['denied']} denied, {counts['forwarded']} forwarded, "
               f"{sum(v for k, v in counts.items() if k.startswith('refused after') or k.endswith('(other)'))} "
               f"refused otherwise, {outcomes.sdk_lookups} look-ups by awsgate's SDK, "
               f"{len(violations)} property violations, {time.monotonic() - started:.1f} s")
    print("\n" + summary)
    print("  outcomes:", dict(counts))
    print("  codes of the refusals:", dict(outcomes.codes.most_common()))
    print("  every request, its answer, what was forwarded, its audit records:", journal_path)
    if violations:
        print("  violations by kind:", dict(outcomes.kinds.most_common()))
    # One example of each kind of violation first, then the others.
    shown = list(outcomes.examples.values()) + [v for v in violations if v not in outcomes.examples.values()]
    assert not violations, (summary + f"\nviolations by kind: {dict(outcomes.kinds.most_common())}\n"
                            + "\n".join(shown[:25]))
    assert counts["no answer"] == 0 and sum(counts.values()) == len(requests), counts
    # Every outcome is reached: the test measures the reading, not a wall.
    assert counts["forwarded"] >= 300 and counts["denied"] >= 50, summary
    assert counts["refused before judging (400 InvalidRequest)"] >= 1000, summary
    # Every request was signed validly after its mutation (but those whose payload hash is
    # made up): the reading met it, not the signature check.
    assert not outcomes.bad_signatures, outcomes.bad_signatures
