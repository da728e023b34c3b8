"""Idle sockets lock no one out. A local process opens hundreds of connections to the
sidecar and to the HTTP port (console and /mcp) and sends nothing; a real request (boto3
through the sidecar, the operator's console API) is still answered at once, because a new
connection takes the slot of the longest-idle one and accepting never waits."""

from __future__ import annotations

import contextlib
import socket
import time

import boto3
import httpx
from botocore.config import Config

from conftest import free_port
from test_console import console_server, policy
from test_sidecar import keys_file
from test_tools import seed


@contextlib.contextmanager
def idle_sockets(port: int, count: int):
    """`count` connections to `port` that send nothing."""
    opened = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_idle_sockets_delay_neither_the_sidecar_nor_the_operator(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="allowed-bucket", Key="report.csv", Body=b"a,b\n")
    keys, key_id, secret = keys_file(binary, tmp_path, "reports-agent")
    port = free_port()
    text = policy(30)
    with console_server(binary, aws, tmp_path, text, "--aws-listen", f"127.0.0.1:{port}",
                        "--agent-keys", str(keys)) as (server, operator):
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
        http_port = int(server.base.rsplit(":", 1)[1])

        with idle_sockets(port, 600):
            started = time.monotonic()
            assert s3.get_object(Bucket="allowed-bucket", Key="report.csv")["Body"].read() == b"a,b\n"
            sidecar_wait = time.monotonic() - started

        with idle_sockets(http_port, 1000):
            started = time.monotonic()
            response = httpx.get(f"{server.base}/console/api/approvals", headers=operator.headers, timeout=10)
            operator_wait = time.monotonic() - started
            assert response.status_code == 200, response.text

        # Before, the sidecar's request waited for an idle socket to time out (27 s) and the
        # operator's connection was closed at once.
        assert sidecar_wait < 3, sidecar_wait
        assert operator_wait < 3, operator_wait
