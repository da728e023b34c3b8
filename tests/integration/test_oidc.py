"""Agents identified by OAuth 2.1 access tokens from a real OpenID provider that no one here
wrote: the npm package `oidc-provider` (pinned in `js/package-lock.json`), started on
loopback, giving JWT access tokens by the client-credentials grant for awsgate's MCP URL
(RFC 8707). The MCP Python SDK's OAuth client finds the issuer through awsgate's 401 and
its RFC 9728 metadata and gets a token; every bad-token class is refused; a valid token of
no agent gets 403."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time

import httpx
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, awsgate_env, free_port, http_server, read_audit, stop
from test_agents import policy
from test_tools import call, seed

pytestmark = pytest.mark.anyio

JS = ROOT / "tests" / "integration" / "js"
CLIENTS = [
    {"client_id": "reports-client", "client_secret": "reports-secret-0123456789"},
    {"client_id": "stranger-client", "client_secret": "stranger-secret-0123456789"},
]


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_jwk(key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


@contextlib.contextmanager
def provider(tmp_path, audience: str, key):
    node = shutil.which("node")
    assert node and (JS / "node_modules" / "oidc-provider").is_dir(), \
        "oidc-provider is not installed: run scripts/js-env.sh (make test does)"
    jwks = tmp_path / "provider-jwks.json"
    jwks.write_text(json.dumps({"keys": [private_jwk(key, "k1")]}))
    port = free_port()
    process = subprocess.Popen([node, str(JS / "oidc_provider.mjs"), str(port), audience, str(jwks), json.dumps(CLIENTS)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


class Memory:
    """Token storage for the SDK's OAuth client, in memory."""

    def __init__(self):
        self.tokens, self.client = None, None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


@contextlib.contextmanager
def gateway(binary, aws, tmp_path):
    """awsgate on an agents file whose agents are the provider's clients, and the provider."""
    seed(aws)
    port = free_port()
    audience = f"http://127.0.0.1:{port}/mcp"
    key = rsa_key()
    with provider(tmp_path, audience, key) as issuer:
        (tmp_path / "reports.yaml").write_text(policy("reports", "allowed-bucket"))
        agents = tmp_path / "agents.yaml"
        agents.write_text(f"""
oidc:
  issuer: {issuer}
  audience: {audience}
agents:
  - name: reports-bot
    policy: reports.yaml
    subject: reports-client
""")
        with http_server(binary, agents, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(tmp_path / "audit.jsonl"),
                         policy_flag="--agents", listen=f"127.0.0.1:{port}") as s:
            yield s, issuer, audience, key


def token_for(issuer: str, audience: str, client: dict) -> str:
    reply = httpx.post(f"{issuer}/token", auth=(client["client_id"], client["client_secret"]),
                       data={"grant_type": "client_credentials", "resource": audience, "scope": "mcp"})
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def list_tools(url: str, token: str | None, **extra) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **extra}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    return httpx.post(url, headers=headers, json=init)


async def test_the_sdks_oauth_client_finds_the_issuer_and_its_agent_runs_its_policy(binary, aws, tmp_path):
    with gateway(binary, aws, tmp_path) as (s, issuer, audience, _):
        # Without a token: 401, pointing at the metadata, which names the issuer.
        refused = list_tools(s.mcp_url, None)
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge == f'Bearer resource_metadata="{s.base}/.well-known/oauth-protected-resource"', challenge
        metadata = httpx.get(f"{s.base}/.well-known/oauth-protected-resource").json()
        assert metadata == {"resource": audience, "authorization_servers": [issuer], "bearer_methods_supported": ["header"]}

        auth = ClientCredentialsOAuthProvider(server_url=s.mcp_url, storage=Memory(), client_id="reports-client",
                                              client_secret="reports-secret-0123456789", scope="mcp", issuer=issuer)
        async with Client(streamable_http_client(s.mcp_url, http_client=httpx2.AsyncClient(auth=auth, timeout=30))) as c:
            ok, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not ok and out["body"] == "hello", out
            ok, out = await call(c, "s3_get_object", bucket="denied-bucket", key="x")
            assert ok and out["error"] == "AccessDenied", out
    decisions = [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "decision"]
    assert [(r["agent"], r["decision"]) for r in decisions] == [("reports-bot", "allow"), ("reports-bot", "deny")]


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_every_bad_token_is_refused(binary, aws, tmp_path):
    with gateway(binary, aws, tmp_path) as (s, issuer, audience, key):
        now = int(time.time())
        claims = {"iss": issuer, "aud": audience, "sub": "reports-client", "iat": now, "exp": now + 300}
        pem = key

        def signed(changes: dict, kid: str = "k1", signing_key=None, algorithm: str = "RS256") -> str:
            return jwt.encode({**claims, **changes}, signing_key or pem, algorithm=algorithm, headers={"kid": kid})

        good = token_for(issuer, audience, CLIENTS[0])
        assert list_tools(s.mcp_url, good).status_code == 200
        assert list_tools(s.mcp_url, signed({})).status_code == 200, "a token the test signs with the provider's key verifies"
        public_pem = key.public_key().public_bytes(
            encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
            format=__import__("cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
        hs256_header = b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
        hs256_body = b64(claims)
        import hashlib
        import hmac
        hs256 = f"{hs256_header}.{hs256_body}." + b64(hmac.new(public_pem, f"{hs256_header}.{hs256_body}".encode(),
                                                               hashlib.sha256).digest())
        bad = {
            "expired": signed({"exp": now - 120, "iat": now - 600}),
            "not yet valid": signed({"nbf": now + 600}),
            "wrong audience": signed({"aud": "http://127.0.0.1:1/mcp"}),
            "wrong issuer": signed({"iss": "http://127.0.0.1:1"}),
            "unknown kid": signed({}, kid="k-unknown"),
            "a key not in the JWKS": signed({}, signing_key=rsa_key()),
            "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}.",
            "HS256 keyed with the public key": hs256,
            "not a JWT": "not.a.jwt",
        }
        for name, token in bad.items():
            reply = list_tools(s.mcp_url, token)
            assert reply.status_code == 401, (name, reply.status_code, reply.text)
            assert 'error="invalid_token"' in reply.headers["www-authenticate"], (name, reply.headers)
        # A token in the query string is refused, even a good one.
        in_query = httpx.get(f"{s.mcp_url}?access_token={good}", headers={"Accept": "text/event-stream"})
        assert in_query.status_code == 400
        # A valid token of a client that is no agent here: 403.
        stranger = token_for(issuer, audience, CLIENTS[1])
        assert list_tools(s.mcp_url, stranger).status_code == 403
    assert not [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "decision"]
