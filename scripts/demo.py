"""The newcomer's demo: a local AWS emulator, a bucket, a table and a queue, awsgate on a
starter policy, and a real MCP client showing the tools, an allowed call, denied calls
with their reasons, and the audit lines they left; then the same policy's other front door,
the AWS-protocol sidecar, with boto3 and an agent key (an allowed read, a denied write with
its statement), next to the operator console.

Run it with `make demo`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import boto3
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "reports-team.yaml"
BOLD, DIM, GREEN, RED, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = DIM = GREEN = RED = RESET = ""


def step(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("moto did not start")


def seed(endpoint: str) -> None:
    kwargs = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo")
    s3, dynamodb, sqs = boto3.client("s3", **kwargs), boto3.client("dynamodb", **kwargs), boto3.client("sqs", **kwargs)
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="reports", Key="2026/q3.csv", Body=b"region,revenue\nemea,1200\namer,3400\n")
    s3.put_object(Bucket="reports", Key="private/salaries.csv", Body=b"name,salary\nalice,1\n")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs.create_queue(QueueName="jobs")
    print("bucket `reports` (2026/q3.csv, private/salaries.csv), table `orders`, queue `jobs`")


def show(result) -> None:
    color = RED if result.is_error else GREEN
    label = "error" if result.is_error else "ok"
    print(f"{color}{label}{RESET} " + textwrap.indent(json.dumps(result.structured_content, indent=2), "   ").lstrip())


async def drive(binary: Path, endpoint: str, audit: Path) -> None:
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_REGION="us-east-1")
    params = StdioServerParameters(command=str(binary), args=["serve", "--policy", str(POLICY), "--audit-log", str(audit)], env=env)
    answers = iter([True, False])

    async def human(context, params):
        """Stands in for the person at the MCP client: approves the first upload, not the second."""
        from mcp_types import ElicitResult

        yes = next(answers, False)
        print(f"  {DIM}the client asks the human:{RESET} " + params.message.replace("\n", "\n    "))
        print(f"  {BOLD}human: {'yes' if yes else 'no'}{RESET}")
        return ElicitResult(action="accept", content={"approve": yes})

    async with Client(params, elicitation_callback=human) as client:
        step(f"awsgate serves policy {POLICY.relative_to(ROOT)}: the tools the agent sees")
        for tool in (await client.list_tools()).tools:
            hints = tool.annotations
            kind = "read-only" if hints.read_only_hint else ("destructive" if hints.destructive_hint else "write")
            print(f"  {BOLD}{tool.name:<26}{RESET} {DIM}{kind}{RESET}")
        print(f"  {DIM}(no DynamoDB or SQS tools: the policy's `services` is [s3, sts]){RESET}")

        step("allowed: s3_get_object reports/2026/q3.csv")
        show(await client.call_tool("s3_get_object", {"bucket": "reports", "key": "2026/q3.csv"}))

        step("denied by an explicit deny: s3_get_object reports/private/salaries.csv")
        show(await client.call_tool("s3_get_object", {"bucket": "reports", "key": "private/salaries.csv"}))

        step("denied, no statement allows it: s3_delete_object reports/2026/q3.csv")
        show(await client.call_tool("s3_delete_object", {"bucket": "reports", "key": "2026/q3.csv"}))

        step("needs a human's approval (statement UploadWithApproval): s3_put_object reports/uploads/q4.csv")
        show(await client.call_tool("s3_put_object", {"bucket": "reports", "key": "uploads/q4.csv", "body": "region,revenue\n"}))

        step("the same kind of call, and this time the human says no: s3_put_object reports/uploads/draft.csv")
        show(await client.call_tool("s3_put_object", {"bucket": "reports", "key": "uploads/draft.csv", "body": "draft"}))

        step("a hallucinated argument never reaches AWS: s3_get_object with `region`")
        show(await client.call_tool("s3_get_object", {"bucket": "reports", "key": "2026/q3.csv", "region": "eu-west-1"}))


def sidecar(binary: Path, endpoint: str, tmp: Path) -> None:
    """boto3 through the sidecar with an agent key, the console served beside it."""
    import re

    import botocore.exceptions
    from botocore.config import Config

    entry = subprocess.run([str(binary), "agent-key", "new", "demo-agent"], capture_output=True, text=True,
                           check=True).stdout
    key_id = re.search(r"access_key_id: ([A-Z0-9]{20})", entry).group(1)
    secret = re.search(r'secret_access_key: "([^"]{40})"', entry).group(1)
    keys = tmp / "agent-keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o600)
    aws_port, http_port = free_port(), free_port()
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWSGATE_CONSOLE_TOKEN="demo-operator-token-0123456789")
    server = subprocess.Popen(
        [str(binary), "serve", "--policy", str(POLICY), "--transport", "http", "--listen", f"127.0.0.1:{http_port}",
         "--console", "--aws-listen", f"127.0.0.1:{aws_port}", "--agent-keys", str(keys),
         "--audit-log", str(tmp / "sidecar-audit.jsonl")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", aws_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        step(f"the same policy's other door: boto3 with an agent key, AWS_ENDPOINT_URL=http://127.0.0.1:{aws_port}")
        print(f"  {DIM}the operator console runs beside it: http://127.0.0.1:{http_port}/console "
              f"(token demo-operator-token-0123456789){RESET}")
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{aws_port}", region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          config=Config(retries={"total_max_attempts": 1}))
        body = s3.get_object(Bucket="reports", Key="2026/q3.csv")["Body"].read()
        print(f"{GREEN}allowed{RESET} s3.get_object(reports/2026/q3.csv) -> {body!r}")
        try:
            s3.put_object(Bucket="reports", Key="private/raise.csv", Body=b"alice,+20%")
        except botocore.exceptions.ClientError as error:
            print(f"{RED}denied{RESET}  s3.put_object(reports/private/raise.csv) -> {error.response['Error']['Code']}: "
                  f"{error.response['Error']['Message']}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def main() -> None:
    binary = Path(sys.argv[1])
    moto, endpoint = start_moto()
    try:
        step(f"local AWS emulator (moto) on {endpoint}, seeded with")
        seed(endpoint)
        with tempfile.TemporaryDirectory() as tmp:
            audit = Path(tmp) / "audit.jsonl"
            asyncio.run(drive(binary, endpoint, audit))
            step(f"the audit log: a decision before each AWS request, a result after")
            for line in audit.read_text().splitlines():
                record = json.loads(line)
                summary = {k: record.get(k) for k in ("event", "call_id", "tool", "resources", "decision", "statement", "approval", "outcome", "error")}
                if summary["approval"] == "not_required":
                    summary["approval"] = None
                print("  " + json.dumps({k: v for k, v in summary.items() if v is not None}))
            sidecar(binary, endpoint, Path(tmp))
        print(f"\n{DIM}Try your own: {binary} simulate --policy {POLICY.relative_to(ROOT)} --action s3:PutObject "
              f"--resource arn:aws:s3:::reports/uploads/q4.csv{RESET}")
    finally:
        moto.send_signal(signal.SIGTERM)
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
