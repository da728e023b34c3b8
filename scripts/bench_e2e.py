"""End-to-end figures in one run against moto:

* cold start: spawn `awsgate serve` (stdio) to the `tools/list` reply, with a one-statement
  policy and with a 10,000-statement one;
* the median round trip of `s3_get_object` through awsgate, next to the same GetObject
  made directly with boto3 (what a Python agent would do instead);
* the median round trip of a denied call (answered by the gate, no AWS request), over stdio
  and over one kept-alive streamable HTTP connection;
* resident memory of the server after the calls;
* the sidecar: boto3 GetObject through it next to boto3 direct to moto, and a denied
  request's round trip (one signed request sent again and again over one kept-alive
  connection, so that the figure is the sidecar's: verify, recognize, judge, answer).

With `--baseline OTHER`, the sidecar's figures (overhead on a GetObject, a denied request)
are measured for both builds, alternating, and the denied call's round trip over stdio is also measured for
another awsgate binary (an earlier build) in the same run, the two alternating in five
rounds so that the machine's drift falls on both alike.

The MCP side speaks raw JSON-RPC over the server's pipes so that the figures measure
awsgate, not a client library.
Usage: bench_e2e.py path/to/awsgate [--iterations N] [--baseline path/to/other/awsgate]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import start_moto  # noqa: E402

import boto3  # noqa: E402

POLICY = """
version: 1
name: bench
region: us-east-1
account: "123456789012"
limits:
  calls_per_minute: 0
statements:
  - sid: Read
    effect: allow
    actions: [s3:GetObject]
    resources: ["arn:aws:s3:::bench/*"]
  - sid: Parameters
    effect: allow
    actions: [ssm:GetParameter]
    resources: ["arn:aws:ssm:us-east-1:123456789012:parameter/bench/*"]
"""

def large_policy(statements: int) -> str:
    """Teams with a bucket each: reads, a private deny, approved uploads, queues."""
    lines = ["version: 1", "name: bench-large", "region: us-east-1", 'account: "123456789012"', "statements:"]
    for i in range(statements):
        kind = i % 4
        if kind == 0:
            lines.append(f'  - {{effect: allow, actions: [s3:GetObject, "s3:List*"], resources: ["arn:aws:s3:::team-{i}", "arn:aws:s3:::team-{i}/*"]}}')
        elif kind == 1:
            lines.append(f'  - {{effect: deny, actions: ["s3:*"], resources: ["arn:aws:s3:::team-{i}/private/*"]}}')
        elif kind == 2:
            lines.append(f'  - {{effect: allow, actions: ["s3:Put*"], resources: ["arn:aws:s3:::team-{i}/uploads/*"], approval: required}}')
        else:
            lines.append(f'  - {{effect: allow, actions: ["sqs:*Message"], resources: ["arn:aws:sqs:*:123456789012:queue-{i}"]}}')
    return "\n".join(lines) + "\n"


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


class Server:
    def __init__(self, binary: Path, policy: Path, env: dict[str, str]):
        self.process = subprocess.Popen(
            [str(binary), "serve", "--policy", str(policy), "--audit-log", os.devnull],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.next_id = 1

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict | None = None) -> dict:
        request_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("awsgate closed its output")
            message = json.loads(line)
            if message.get("id") == request_id:
                return message

    def handshake(self) -> None:
        self.send(INITIALIZE)
        json.loads(self.process.stdout.readline())
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def rss_kib(self) -> tuple[int, int]:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def http_serve(binary: Path, policy: Path, env: dict[str, str], *extra: str,
               audit: str = os.devnull) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "serve", "--policy", str(policy), "--audit-log", audit, "--transport", "http",
         "--listen", f"127.0.0.1:{port}", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    wait_port(port)
    return process, port


class McpHttp:
    """One kept-alive streamable-HTTP connection with its MCP session, in `http.client`."""

    def __init__(self, port: int):
        import http.client

        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self.post(INITIALIZE)
        self.headers["mcp-protocol-version"] = "2025-06-18"
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, message: dict) -> bytes:
        self.connection.request("POST", "/mcp", json.dumps(message), self.headers)
        answer = self.connection.getresponse()
        if answer.getheader("mcp-session-id"):
            self.headers["mcp-session-id"] = answer.getheader("mcp-session-id")
        return answer.read()


def http_denied_calls(binary: Path, policy: Path, env: dict[str, str], denied: dict, iterations: int, *extra: str):
    """Denied calls, and pings as the baseline, over one kept-alive streamable-HTTP
    connection. The standard library's `http.client` speaks the HTTP, so that the figure is
    awsgate's and not a client library's (httpx adds about 0.8 ms a request here)."""
    process, port = http_serve(binary, policy, env, *extra)
    try:
        post = McpHttp(port).post
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": denied}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}

        def one() -> None:
            assert b"AccessDenied" in post(call)

        def baseline() -> None:
            assert b'"result"' in post(ping)

        for _ in range(20):
            one()
            baseline()
        return timed(one, iterations), timed(baseline, iterations)
    finally:
        process.terminate()
        process.wait(timeout=10)


def sidecar_calls(binary: Path, policy: Path, env: dict[str, str], endpoint: str, direct_s3, iterations: int,
                  tmp: Path) -> tuple[list[float], list[float], list[float]]:
    """boto3 GetObject through the sidecar and direct; a denied request's round trip."""
    import http.client
    import re
    import socket

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    entry = subprocess.run([str(binary), "agent-key", "new", "bench"], capture_output=True, text=True, check=True).stdout
    key_id = re.search(r"access_key_id: ([A-Z0-9]{20})", entry).group(1)
    secret = re.search(r'secret_access_key: "([^"]{40})"', entry).group(1)
    keys = tmp / "keys.yaml"
    keys.write_text(entry)
    keys.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(binary), "serve", "--policy", str(policy), "--transport", "http", "--listen", "127.0.0.1:0",
         "--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys), "--audit-log", str(tmp / "sidecar-audit.jsonl")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        sidecar = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=sidecar, region_name="us-east-1", aws_access_key_id=key_id,
                          aws_secret_access_key=secret)
        for _ in range(20):
            s3.get_object(Bucket="bench", Key="object.txt")["Body"].read()
            direct_s3.get_object(Bucket="bench", Key="object.txt")["Body"].read()
        through = timed(lambda: s3.get_object(Bucket="bench", Key="object.txt")["Body"].read(), iterations)
        direct = timed(lambda: direct_s3.get_object(Bucket="bench", Key="object.txt")["Body"].read(), iterations)

        request = AWSRequest(method="GET", url=f"{sidecar}/other/object.txt",
                             headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        SigV4Auth(Credentials(key_id, secret), "s3", "us-east-1").add_auth(request)
        headers = dict(request.headers)
        connection = http.client.HTTPConnection("127.0.0.1", port)

        def denied_once() -> None:
            connection.request("GET", "/other/object.txt", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 403, response.status

        for _ in range(20):
            denied_once()
        deny = timed(denied_once, iterations)
        connection.close()
        return through, direct, deny
    finally:
        process.terminate()
        process.wait(timeout=10)


def start_redis() -> tuple[subprocess.Popen, str] | None:
    """Debian's redis-server on a free loopback port, without persistence (None if absent)."""
    import shutil

    server = shutil.which("redis-server")
    if not server:
        return None
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wait_port(port)
    return process, f"redis://127.0.0.1:{port}"


def store_against_none(binary: Path, policy: Path, env: dict[str, str], denied: dict, iterations: int,
                       store: str) -> tuple[list[float], list[float]]:
    """The denied call over kept-alive HTTP with `--store` and without, alternating, 3 rounds
    each; the policy has a rate limit, so each call runs the store's limit script."""
    samples: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(3):
        for with_store in (True, False):
            extra = ("--store", store) if with_store else ()
            samples[with_store] += http_denied_calls(binary, policy, env, denied, iterations, *extra)[0]
    return samples[True], samples[False]


def _hammer(port: int, denied: dict, seconds: float) -> int:
    """One load-generating process: denied calls on its own connection for `seconds`."""
    client = McpHttp(port)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": denied}
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.post(call)
        done += 1
    return done


def throughput(ports: list[int], denied: dict, workers: int, seconds: float = 5.0) -> float:
    """Denied calls per second, `workers` processes spread over the replicas' ports."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.starmap(_hammer, [(ports[n % len(ports)], denied, seconds) for n in range(workers)])
    return sum(counts) / seconds


def replicas_throughput(binary: Path, policy: Path, env: dict[str, str], denied: dict, store: str,
                        workers: int = 6) -> tuple[float, float]:
    """Three replicas on one store against one replica without, the same load generator; each
    writes its own audit file (one writer per file)."""
    logs = Path(policy).parent
    started = [http_serve(binary, policy, env, "--store", store, "--replica-id", f"bench-{n}",
                          audit=str(logs / f"replica-{n}.jsonl")) for n in range(3)]
    try:
        three = throughput([port for _, port in started], denied, workers)
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=10)
    process, port = http_serve(binary, policy, env, audit=str(logs / "single.jsonl"))
    try:
        one = throughput([port], denied, workers)
    finally:
        process.terminate()
        process.wait(timeout=10)
    return three, one


def shadow_against_none(binary: Path, policy: Path, shadowed: Path, env: dict[str, str], denied: dict,
                        iterations: int) -> tuple[list[float], list[float]]:
    """The denied call over stdio with a shadow policy and without, alternating, 5 rounds."""
    samples: dict[Path, list[float]] = {shadowed: [], policy: []}
    for _ in range(5):
        for path in (shadowed, policy):
            server = Server(binary, path, env)
            server.handshake()
            for _ in range(50):
                server.request("tools/call", denied)
            samples[path] += timed(lambda: server.request("tools/call", denied), iterations)
            server.close()
    return samples[shadowed], samples[policy]


def replay_speed(binary: Path, policy: Path, tmp: Path, records: int = 1_000_000) -> tuple[float, int, float]:
    """`audit replay` over a log of `records` records (a decision and a result per call, as
    awsgate writes them, each decision with its context): seconds, bytes, records/s."""
    log = tmp / "replay.jsonl"
    decision = json.dumps({
        "action": "s3:GetObject", "agent": "default", "approval": "not_required", "call_id": "CALL",
        "client": {"name": "bench", "version": "1"},
        "context": [{"key": "aws:currenttime", "values": ["2026-12-07T12:00:00Z"]},
                    {"key": "aws:epochtime", "values": ["1796644800"]},
                    {"key": "aws:requestedregion", "values": ["us-east-1"]},
                    {"key": "aws:securetransport", "values": ["true"]},
                    {"key": "aws:principalarn", "prefix": True},
                    {"key": "s3:existingobjecttag/", "prefix": True, "resource": 0}],
        "decision": "allow", "enforced": True, "event": "decision", "mode": "enforce", "policy": "bench",
        "prev": "0" * 64, "reason": "statement `Read` allows `s3:GetObject` on `arn:aws:s3:::bench/KEY`",
        "replica": "bench", "resources": ["arn:aws:s3:::BUCKET/KEY"], "seq": 1, "session": "s",
        "statement": "Read", "time": "2026-12-07T12:00:00.000Z", "tool": "s3_get_object", "transport": "http",
        "hash": "0" * 64}, separators=(",", ":"))
    result = decision.replace('"event":"decision"', '"event":"result"').replace('"context":[', '"unused":[')
    with log.open("w") as out:
        for n in range(records // 2):
            bucket = "bench" if n % 10 else "other"
            key = f"reports/{n % 977}/object-{n}.csv"
            for template in (decision, result):
                out.write(template.replace("CALL", f"c-{n}").replace("BUCKET", bucket).replace("KEY", key))
                out.write("\n")
    started = time.perf_counter()
    replayed = subprocess.run([str(binary), "audit", "replay", str(log), "--policy", str(policy)],
                              capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert f"replayed {records // 2} decision(s)" in replayed.stderr, replayed.stderr
    size = log.stat().st_size
    log.unlink()
    return seconds, size, records / seconds


def timed(fn, iterations: int) -> list[float]:
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def denied_against_baseline(binary: Path, baseline: Path, policy: Path, env: dict[str, str],
                            iterations: int) -> tuple[list[float], list[float]]:
    """The denied call over stdio, this binary and the baseline alternating, 5 rounds each."""
    denied = {"name": "s3_get_object", "arguments": {"bucket": "other", "key": "object.txt"}}
    samples: dict[Path, list[float]] = {binary: [], baseline: []}
    for _ in range(5):
        for path in (binary, baseline):
            server = Server(path, policy, env)
            server.handshake()
            for _ in range(50):
                server.request("tools/call", denied)
            samples[path] += timed(lambda: server.request("tools/call", denied), iterations)
            server.close()
    return samples[binary], samples[baseline]


def sidecar_against_baseline(binary: Path, baseline: Path, policy: Path, env: dict[str, str], endpoint: str,
                             direct_s3, iterations: int, tmp: Path) -> dict[Path, tuple[list[float], list[float]]]:
    """The sidecar's overhead on a boto3 GetObject (through minus direct, per round) and its
    denied round trip, this binary and the baseline alternating, 3 rounds each."""
    samples: dict[Path, tuple[list[float], list[float]]] = {binary: ([], []), baseline: ([], [])}
    for _ in range(3):
        for path in (binary, baseline):
            through, direct, deny = sidecar_calls(path, policy, env, endpoint, direct_s3, iterations, tmp)
            samples[path][0].append(statistics.median(through) - statistics.median(direct))
            samples[path][1].extend(deny)
    return samples


def main() -> None:
    binary = Path(sys.argv[1])
    baseline = Path(sys.argv[sys.argv.index("--baseline") + 1]) if "--baseline" in sys.argv else None
    iterations = int(sys.argv[sys.argv.index("--iterations") + 1]) if "--iterations" in sys.argv else 300
    moto, endpoint = start_moto()
    try:
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="object.txt", Body=b"x" * 1024)
        ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
        ssm.put_parameter(Name="/bench/db/host", Value="db.internal", Type="String")
        with tempfile.TemporaryDirectory() as tmp:
            policy = Path(tmp) / "bench.yaml"
            policy.write_text(POLICY)

            large = Path(tmp) / "large.yaml"
            large.write_text(large_policy(10_000))

            def cold_starts(path: Path, runs: int) -> list[float]:
                samples = []
                for _ in range(runs):
                    start = time.perf_counter()
                    server = Server(binary, path, env)
                    server.handshake()
                    server.request("tools/list")
                    samples.append((time.perf_counter() - start) * 1000)
                    server.close()
                return samples

            cold = cold_starts(policy, 20)
            cold_large = cold_starts(large, 5)

            server = Server(binary, policy, env)
            server.handshake()
            allowed = {"name": "s3_get_object", "arguments": {"bucket": "bench", "key": "object.txt"}}
            denied = {"name": "s3_get_object", "arguments": {"bucket": "other", "key": "object.txt"}}
            reply = server.request("tools/call", allowed)
            assert not reply["result"].get("isError"), reply
            assert server.request("tools/call", denied)["result"]["isError"]
            for _ in range(20):  # warm both paths
                server.request("tools/call", allowed)
                s3.get_object(Bucket="bench", Key="object.txt")["Body"].read()
            through = timed(lambda: server.request("tools/call", allowed), iterations)
            direct = timed(lambda: s3.get_object(Bucket="bench", Key="object.txt")["Body"].read(), iterations)
            deny = timed(lambda: server.request("tools/call", denied), iterations)
            parameter = {"name": "ssm_get_parameter", "arguments": {"name": "/bench/db/host"}}
            assert not server.request("tools/call", parameter)["result"].get("isError")
            for _ in range(20):
                server.request("tools/call", parameter)
                ssm.get_parameter(Name="/bench/db/host")
            through_ssm = timed(lambda: server.request("tools/call", parameter), iterations)
            direct_ssm = timed(lambda: ssm.get_parameter(Name="/bench/db/host"), iterations)
            rss, peak = server.rss_kib()
            server.close()
            deny_http, ping_http = http_denied_calls(binary, policy, env, denied, iterations)
            side_get, side_direct, side_deny = sidecar_calls(binary, policy, env, endpoint, s3, iterations, Path(tmp))
            redis = start_redis()
            limited = Path(tmp) / "limited.yaml"
            limited.write_text(POLICY.replace("calls_per_minute: 0", "calls_per_minute: 1000000"))
            if redis:
                try:
                    stored = store_against_none(binary, limited, env, denied, iterations, redis[1])
                    replicated = replicas_throughput(binary, limited, env, denied, redis[1])
                finally:
                    redis[0].terminate()
                    redis[0].wait(timeout=10)
            else:
                stored = replicated = None
            shadow_file = Path(tmp) / "shadow.yaml"
            shadow_file.write_text(POLICY.replace("name: bench", "name: bench-shadow"))
            shadowed = Path(tmp) / "shadowed.yaml"
            shadowed.write_text(POLICY.replace("statements:", f"shadow: {shadow_file.name}\nstatements:", 1))
            shadow_cost = shadow_against_none(binary, policy, shadowed, env, denied, iterations)
            replay_seconds, replay_bytes, replay_rate = replay_speed(binary, policy, Path(tmp))
            versus = denied_against_baseline(binary, baseline, policy, env, iterations) if baseline else None
            side_versus = (sidecar_against_baseline(binary, baseline, policy, env, endpoint, s3, iterations, Path(tmp))
                           if baseline else None)
    finally:
        moto.terminate()
        moto.wait(timeout=10)

    def median(samples: list[float]) -> float:
        return statistics.median(samples)

    rows = [
        ("cold start to tools/list reply", f"{median(cold):.1f} ms", "median of 20 starts"),
        ("the same, 10,000 statements", f"{median(cold_large):.0f} ms", "median of 5 starts"),
        ("s3_get_object through awsgate", f"{median(through):.2f} ms", f"median of {iterations}, 1 KiB object"),
        ("GetObject direct with boto3", f"{median(direct):.2f} ms", f"median of {iterations}, same object"),
        ("ssm_get_parameter through awsgate", f"{median(through_ssm):.2f} ms", f"median of {iterations}"),
        ("GetParameter direct with boto3", f"{median(direct_ssm):.2f} ms", f"median of {iterations}, same parameter"),
        ("denied call round trip", f"{median(deny) * 1000:.0f} µs", f"median of {iterations}, no AWS request"),
        ("the same over kept-alive HTTP", f"{median(deny_http) * 1000:.0f} µs", f"median of {iterations}, one connection"),
        ("a ping over that connection", f"{median(ping_http) * 1000:.0f} µs", "baseline: HTTP and MCP, no gate"),
        ("resident memory after the calls", f"{rss / 1024:.1f} MiB", f"peak {peak / 1024:.1f} MiB"),
        ("sidecar: boto3 GetObject through it", f"{median(side_get):.2f} ms", f"median of {iterations}, 1 KiB object"),
        ("boto3 GetObject direct to moto", f"{median(side_direct):.2f} ms", f"median of {iterations}, same run"),
        ("sidecar: denied request round trip", f"{median(side_deny) * 1000:.0f} µs", f"median of {iterations}, no AWS request"),
    ]
    if stored:
        with_store, without = (median(v) * 1000 for v in stored)
        three, one = replicated
        rows += [
            ("denied call over kept-alive HTTP, --store", f"{with_store:.0f} µs",
             f"median of {3 * iterations}, alternating; a rate limit, so one store script a call"),
            ("the same without a store", f"{without:.0f} µs", f"median of {3 * iterations}, same policy"),
            ("the store's cost", f"{with_store - without:+.0f} µs", "goal: +300 µs or less"),
            ("denied calls/s, 3 replicas on one Redis", f"{three:.0f}", "6 client processes, 5 s, one machine"),
            ("denied calls/s, 1 replica, no store", f"{one:.0f}", "the same load generator"),
        ]
    with_shadow, without_shadow = (median(v) * 1000 for v in shadow_cost)
    rows += [
        ("denied call over stdio with a shadow policy", f"{with_shadow:.0f} µs",
         f"median of {5 * iterations}, alternating"),
        ("the same without", f"{without_shadow:.0f} µs", f"median of {5 * iterations}"),
        ("the shadow's cost", f"{with_shadow - without_shadow:+.0f} µs", "same run"),
        ("audit replay of 1,000,000 records", f"{replay_seconds:.2f} s",
         f"{replay_bytes / 1e6:.0f} MB, 500,000 decisions judged again"),
        ("replay speed", f"{replay_rate:,.0f}/s", "records per second; goal 200,000"),
    ]
    if versus:
        mine, theirs = (median(v) * 1000 for v in versus)
        rows += [
            ("denied call, this build (5 rounds)", f"{mine:.0f} µs", f"median of {5 * iterations}, alternating"),
            ("denied call, the baseline build", f"{theirs:.0f} µs", f"{baseline}"),
            ("change", f"{(mine / theirs - 1) * 100:+.1f} %", "this build against the baseline"),
        ]
    if side_versus:
        (mine_over, mine_deny), (theirs_over, theirs_deny) = side_versus[binary], side_versus[baseline]
        rows += [
            ("sidecar overhead on GetObject, this build", f"{median(mine_over):.2f} ms",
             "median of 3 rounds of (through - direct), alternating"),
            ("the same, the baseline build", f"{median(theirs_over):.2f} ms", f"{baseline}"),
            ("sidecar denied round trip, this build", f"{median(mine_deny) * 1000:.0f} µs", f"median of {3 * iterations}"),
            ("the same, the baseline build", f"{median(theirs_deny) * 1000:.0f} µs", f"{baseline}"),
            ("change in the denied round trip", f"{(median(mine_deny) / median(theirs_deny) - 1) * 100:+.1f} %",
             "this build against the baseline"),
        ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  ({note})")


if __name__ == "__main__":
    main()
