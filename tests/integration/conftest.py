"""Integration harness: a real moto server on a free loopback port, the real awsgate
binary, and real MCP clients. Every process a fixture starts, it stops."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account


def awsgate_binary() -> Path:
    explicit = os.environ.get("AWSGATE_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "awsgate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def binary() -> Path:
    path = awsgate_binary()
    assert path.exists(), f"build awsgate first (cargo build): {path} is missing"
    return path


@pytest.fixture(scope="session")
def moto_endpoint():
    port = free_port()
    process = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


class Aws:
    """boto3 clients on the emulator: the separate AWS client that checks real effects."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        kwargs = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self.s3 = boto3.client("s3", **kwargs)
        self.dynamodb = boto3.client("dynamodb", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.sts = boto3.client("sts", **kwargs)

    def queue_url(self, name: str) -> str:
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except self.s3.exceptions.ClientError:
            return False


@pytest.fixture
def aws(moto_endpoint) -> Aws:
    """A clean emulator for each test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    return Aws(moto_endpoint)


def awsgate_env(endpoint: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def write_policy(directory: Path, text: str, name: str = "policy.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def read_audit(path: Path) -> list[dict]:
    """Every line must be one JSON object."""
    records = []
    for line in path.read_text().splitlines():
        records.append(json.loads(line))
    return records


class HttpServer:
    def __init__(self, process: subprocess.Popen, url: str, stderr_path: Path):
        self.process = process
        self.base = url
        self.stderr_path = stderr_path

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    @property
    def sse_url(self) -> str:
        return f"{self.base}/sse"


@contextlib.contextmanager
def http_server(binary: Path, policy: Path, env: dict[str, str], workdir: Path, *args: str, policy_flag: str = "--policy",
                listen: str = "127.0.0.1:0"):
    """Starts `awsgate serve --transport http` on a free port and waits for it (with
    `policy_flag="--agents"`, on an agents file)."""
    stderr_path = workdir / f"awsgate-http-{time.monotonic_ns()}.log"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        [str(binary), "serve", policy_flag, str(policy), "--transport", "http", "--listen", listen, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        deadline = time.monotonic() + 30
        url = None
        while time.monotonic() < deadline and url is None:
            match = re.search(r"listening on (http://[0-9.]+:\d+)/mcp", stderr_path.read_text(errors="replace"))
            if match:
                url = match.group(1)
                break
            if process.poll() is not None:
                raise RuntimeError(f"awsgate exited: {stderr_path.read_text()}")
            time.sleep(0.05)
        if url is None:
            raise RuntimeError(f"awsgate did not start: {stderr_path.read_text()}")
        yield HttpServer(process, url, stderr_path)
    finally:
        stop(process)
        stderr.close()


@contextlib.contextmanager
def loopback_http(handler):
    """Serves `handler` (an `http.server.BaseHTTPRequestHandler` class) on a free loopback
    port in a thread, and yields its base URL; stops it on exit."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_in_venv(venv: str, script: str, *args: str, env: dict[str, str], timeout: int = 180) -> dict:
    """Runs a client script of `tests/integration` in one of the separate venvs that
    `scripts/python-env.sh` makes (each adapter pins its own MCP SDK) and returns the one
    JSON object it prints last."""
    python = ROOT / venv / "bin" / "python"
    assert python.exists(), f"make test creates {venv}; run scripts/python-env.sh"
    result = subprocess.run([str(python), str(ROOT / "tests" / "integration" / script), *args], env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
