"""Role-scoped credentials against moto with IAM enforcement on: the base identity is an
admin, the role may only read. A write that the awsgate policy allows must fail at AWS,
which proves the calls run on the role. moto ignores session policies, so the AssumeRole
request awsgate sends is recorded by a forwarding proxy and checked directly."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import urllib.parse
import urllib.request

import contextlib

import boto3
import pytest

from conftest import (ACCOUNT, REGION, VENV_BIN, awsgate_env, free_port, loopback_http, read_audit, stop, wait_for_port,
                      write_policy)
from test_tools import call, gateway

pytestmark = pytest.mark.anyio

ROLE = f"arn:aws:iam::{ACCOUNT}:role/agent-reader"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Forwards every request to moto and keeps the STS ones."""

    upstream = ""
    sts_requests: list[dict] = []

    def log_message(self, *args):
        pass

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if body and b"Action=AssumeRole" in body:
            Recorder.sts_requests.append({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
        request = urllib.request.Request(self.upstream + self.path, data=body, method=self.command)
        for key, value in self.headers.items():
            if key.lower() not in ("content-length", "connection"):
                request.add_header(key, value)
        try:
            response = urllib.request.urlopen(request)
            status, headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, error.headers, error.read()
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


@pytest.fixture
def enforcing_moto(tmp_path):
    """A moto server that enforces IAM after three unauthenticated set-up calls, an admin
    user, a read-only role, and a recording proxy in front of it."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    moto = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        root = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="root", aws_secret_access_key="root")
        iam = boto3.client("iam", **root)
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        admin = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                     aws_secret_access_key=key["SecretAccessKey"])
        iam = boto3.client("iam", **admin)
        # moto does not read `:root` as "any principal of the account": name the user.
        def trust(principal: str) -> str:
            return json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{principal}"},
                               "Action": "sts:AssumeRole"}],
            })

        iam.create_role(RoleName="agent-reader", AssumeRolePolicyDocument=trust("admin"))
        iam.create_role(RoleName="locked", AssumeRolePolicyDocument=trust("somebody-else"))
        iam.put_role_policy(RoleName="agent-reader", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
        }))
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket="role-bucket")
        s3.put_object(Bucket="role-bucket", Key="read.txt", Body=b"readable")

        with recording(endpoint) as proxied:
            yield {"endpoint": proxied, "key": key, "s3": s3}
    finally:
        stop(moto)


@contextlib.contextmanager
def recording(upstream: str):
    """A forwarding proxy in front of `upstream` that records STS AssumeRole* requests."""
    Recorder.upstream = upstream
    Recorder.sts_requests = []
    with loopback_http(Recorder) as url:
        yield url


def role_policy(extra: str = "") -> str:
    return f"""
version: 1
name: role-scoped
region: us-east-1
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
credentials:
  role_arn: {ROLE}
  session_name: awsgate-test
  external_id: reports-agent
{extra}
statements:
  - sid: Bucket
    effect: allow
    actions: ["s3:GetObject", "s3:PutObject"]
    resources: ["arn:aws:s3:::role-bucket/*"]
  - sid: WhoAmI
    effect: allow
    actions: [sts:GetCallerIdentity]
"""


def admin_env(moto) -> dict:
    return dict(AWS_ACCESS_KEY_ID=moto["key"]["AccessKeyId"], AWS_SECRET_ACCESS_KEY=moto["key"]["SecretAccessKey"])


async def test_calls_run_on_the_assumed_role(binary, enforcing_moto, tmp_path):

    async with gateway(binary, enforcing_moto["endpoint"], tmp_path, role_policy(), **admin_env(enforcing_moto)) as c:
        ok, identity = await call(c, "sts_get_caller_identity")
        assert not ok and "assumed-role/agent-reader/awsgate-test" in identity["arn"], identity
        ok, out = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
        assert not ok and out["body"] == "readable"
        # The awsgate policy allows the write; the role does not, and AWS says so.
        ok, out = await call(c, "s3_put_object", bucket="role-bucket", key="written.txt", body="x")
        audit = c.audit_path
    assert ok and out["error"] == "AccessDenied" and "statement" not in out, out
    head = enforcing_moto["s3"].list_objects_v2(Bucket="role-bucket")
    assert [o["Key"] for o in head["Contents"]] == ["read.txt"]
    assert read_audit(audit)[-1]["outcome"] == "error"
    # The request awsgate sent: the role, the session name, the external id, the duration
    # and the derived session policy, identical to `awsgate iam-policy`.
    request = Recorder.sts_requests[0]
    assert request["Action"] == "AssumeRole" and request["RoleArn"] == ROLE
    assert request["RoleSessionName"] == "awsgate-test" and request["ExternalId"] == "reports-agent"
    assert request["DurationSeconds"] == "900"
    policy_file = write_policy(tmp_path, role_policy(), "again.yaml")
    expected = subprocess.run([str(binary), "iam-policy", "--policy", str(policy_file)], capture_output=True, text=True)
    assert json.loads(request["Policy"]) == json.loads(expected.stdout)
    assert "sts:AssumeRole" in expected.stderr and "sts:ExternalId" in expected.stderr
    # One AssumeRole served every call: the credentials are cached.
    assert len(Recorder.sts_requests) == 1


async def test_session_policy_none_sends_no_policy(binary, enforcing_moto, tmp_path):

    async with gateway(binary, enforcing_moto["endpoint"], tmp_path, role_policy("  session_policy: none"), **admin_env(enforcing_moto)) as c:
        ok, _ = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
    assert not ok and "Policy" not in Recorder.sts_requests[0]


async def test_a_role_that_cannot_be_assumed_is_a_clear_error_and_the_server_keeps_serving(binary, enforcing_moto, tmp_path):

    missing = role_policy().replace("role/agent-reader", "role/locked")
    async with gateway(binary, enforcing_moto["endpoint"], tmp_path, missing, **admin_env(enforcing_moto)) as c:
        first = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
        second = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
        audit = c.audit_path
    for ok, out in (first, second):
        assert ok and out["error"] == "AssumeRoleFailed", out
        assert "role/locked" in out["message"] and "AccessDenied" in out["message"]
    text = repr(first) + audit.read_text()
    assert enforcing_moto["key"]["SecretAccessKey"] not in text
    assert [r["error"] for r in read_audit(audit) if r["event"] == "result"] == ["AssumeRoleFailed", "AssumeRoleFailed"]


def test_an_oversized_session_policy_stops_the_server(binary, enforcing_moto, tmp_path):
    statements = "\n".join(
        f"""  - sid: S{i}
    effect: allow
    actions: [s3:GetObject, s3:PutObject, s3:DeleteObject]
    resources: ["arn:aws:s3:::bucket-with-a-long-name-{i:03}/some/long/prefix/*"]"""
        for i in range(40)
    )
    text = role_policy().split("statements:")[0] + "statements:\n" + statements + "\n"
    policy = write_policy(tmp_path, text)
    result = subprocess.run([str(binary), "serve", "--policy", str(policy)], env=awsgate_env(enforcing_moto["endpoint"]),
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "derived session policy is" in result.stderr and "session_policy: none" in result.stderr


MFA = f"  mfa_serial: arn:aws:iam::{ACCOUNT}:mfa/alice"


class MfaHuman:
    def __init__(self, code: str | None):
        self.code = code
        self.asked: list[str] = []

    async def __call__(self, context, params):
        from mcp_types import ElicitResult

        self.asked.append(params.message)
        if self.code is None:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"code": self.code})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mfa_code_is_asked_of_the_human_and_sent_to_sts(binary, enforcing_moto, tmp_path, mode):
    """moto accepts any MFA code: this checks the AssumeRole request awsgate sends."""
    human = MfaHuman("246810")
    endpoint = enforcing_moto["endpoint"]
    async with gateway(binary, endpoint, tmp_path, role_policy(MFA), mode=mode, human=human, **admin_env(enforcing_moto)) as c:
        ok, out = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
        assert not ok and out["body"] == "readable", out
        # The session lasts: the next call asks nothing.
        ok, _ = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
        assert not ok
        audit = c.audit_path
    assert len(human.asked) == 1 and "mfa/alice" in human.asked[0]
    assert len(Recorder.sts_requests) == 1
    request = Recorder.sts_requests[0]
    assert request["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/alice" and request["TokenCode"] == "246810"
    assert "246810" not in audit.read_text()


@pytest.mark.parametrize("code", [None, "12ab56"])
async def test_no_valid_mfa_code_fails_closed(binary, enforcing_moto, tmp_path, code):
    endpoint = enforcing_moto["endpoint"]
    async with gateway(binary, endpoint, tmp_path, role_policy(MFA), human=MfaHuman(code), **admin_env(enforcing_moto)) as c:
        ok, out = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
    assert ok and out["error"] == "MfaRequired" and "6 digits" in out["message"]
    assert Recorder.sts_requests == []


async def test_a_client_that_cannot_ask_gets_no_mfa_session(binary, enforcing_moto, tmp_path):
    endpoint = enforcing_moto["endpoint"]
    async with gateway(binary, endpoint, tmp_path, role_policy(MFA), **admin_env(enforcing_moto)) as c:
        ok, out = await call(c, "s3_get_object", bucket="role-bucket", key="read.txt")
    assert ok and out["error"] == "MfaRequired" and "cannot ask a human" in out["message"]
    assert Recorder.sts_requests == []


async def test_web_identity_token_file_uses_assume_role_with_web_identity(binary, aws, tmp_path):
    """Against the plain emulator: moto with IAM enforcement fails on any unsigned
    AssumeRoleWithWebIdentity (a KeyError on the missing Authorization header)."""
    token = tmp_path / "oidc-token"
    token.write_text("header.payload.signature\n")
    text = role_policy(f"  web_identity_token_file: {token}").replace("  external_id: reports-agent\n", "")
    with recording(aws.endpoint) as proxied:

        async with gateway(binary, proxied, tmp_path, text) as c:
            ok, identity = await call(c, "sts_get_caller_identity")
        requests = list(Recorder.sts_requests)
    assert not ok and "assumed-role/agent-reader/awsgate-test" in identity["arn"], identity
    request = requests[0]
    assert request["Action"] == "AssumeRoleWithWebIdentity" and request["RoleArn"] == ROLE
    assert request["WebIdentityToken"] == "header.payload.signature" and json.loads(request["Policy"])["Statement"]
