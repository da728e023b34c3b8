"""Replicas sharing their state in Redis (`serve --store`), behind HAProxy with the
documented configuration (`docs/deploy/haproxy.cfg`): rate limits exact across replicas,
approvals asked on one replica and decided on another and used once, a replica killed
while its call waits, the store stopped and started again, and Prometheus scraping the
replicas. Debian's `redis-server`, `haproxy` and `prometheus`, each on a free loopback port
and stopped by PID."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import ROOT, awsgate_env, free_port, http_server, read_audit, stop, wait_for_port, write_policy
from test_tools import call, gateway, seed

pytestmark = pytest.mark.anyio

OPERATOR = "operator-token-0123456789abcdef"


def require(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    assert path, f"`{program}` is missing: `make test` installs it (scripts/replica-env.sh)"
    return path


class Redis:
    """`redis-server` on a free loopback port, without persistence; restartable on it."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [require("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@contextlib.contextmanager
def redis_server(workdir: Path):
    redis = Redis(workdir)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@contextlib.contextmanager
def haproxy(workdir: Path, replicas: list[str]):
    """HAProxy with the documented configuration, the addresses given in its environment."""
    port = free_port()
    env = {"AWSGATE_LB_BIND": f"127.0.0.1:{port}", "PATH": "/usr/sbin:/usr/bin:/bin"}
    for n, base in enumerate(replicas, start=1):
        env[f"AWSGATE_REPLICA{n}"] = base.removeprefix("http://")
    config = ROOT / "docs" / "deploy" / "haproxy.cfg"
    checked = subprocess.run([require("haproxy"), "-c", "-f", str(config)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    log = (workdir / "haproxy.log").open("wb")
    process = subprocess.Popen([require("haproxy"), "-db", "-f", str(config)], env=env, stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and httpx.get(f"{base}/readyz").status_code != 200:
            time.sleep(0.1)
        # Its health checks reach the replicas (none is taken out).
        time.sleep(2.2)
        assert "DOWN" not in (workdir / "haproxy.log").read_text(), (workdir / "haproxy.log").read_text()
        yield base
    finally:
        stop(process)
        log.close()


@contextlib.contextmanager
def replicas(binary, aws, tmp_path, policy_text: str, redis: Redis, count: int = 3, first: tuple[str, ...] = (),
             every: tuple[str, ...] = ()):
    """`count` replicas on one store; `first` are more arguments for the first alone, `every`
    for all."""
    policy = write_policy(tmp_path, policy_text)
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=OPERATOR)
    with contextlib.ExitStack() as stack:
        servers = []
        for n in range(1, count + 1):
            metrics = free_port()
            server = stack.enter_context(http_server(
                binary, policy, env, tmp_path, "--store", redis.url, "--replica-id", f"replica-{n}", "--console",
                "--audit-log", str(tmp_path / f"audit-{n}.jsonl"), "--metrics-listen", f"127.0.0.1:{metrics}",
                *every, *(first if n == 1 else ())))
            server.metrics = f"127.0.0.1:{metrics}"
            server.log = tmp_path / f"audit-{n}.jsonl"
            servers.append(server)
        yield servers


def records(servers) -> list[dict]:
    return [r for s in servers for r in read_audit(s.log)]


def results(servers, action: str) -> list[dict]:
    return [r for r in records(servers) if r.get("event") == "result" and r.get("action") == action]


def client(url: str) -> Client:
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(timeout=60)))


def operator(base: str):
    return {"Authorization": f"Bearer {OPERATOR}"}


LIMITED = """
version: 1
name: limited
region: us-east-1
account: "123456789012"
limits:
  calls_per_minute: 5
statements:
  - sid: Reads
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
"""


async def test_a_rate_limit_holds_exactly_across_replicas(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, LIMITED, redis) as servers, \
            haproxy(tmp_path, [s.base for s in servers]) as lb:
        outcomes = []
        # Through each replica directly, and through the load balancer: 15 calls in all.
        for url in [s.mcp_url for s in servers] + [f"{lb}/mcp", f"{lb}/mcp"]:
            async with client(url) as c:
                for _ in range(3):
                    is_error, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                    outcomes.append("limited" if is_error and out["error"] == "RateLimited" else "ran")
        assert outcomes.count("ran") == 5, outcomes
        ran = [r for r in results(servers, "s3:GetObject") if r["outcome"] != "rate_limited"]
        assert len(ran) == 5 and len({r["replica"] for r in records(servers)}) == 3


APPROVED = """
version: 1
name: approved
region: us-east-1
account: "123456789012"
limits:
  calls_per_minute: 0
statements:
  - sid: Uploads
    effect: allow
    actions: ["s3:PutObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
    approval: required
approvals:
  via: [console]
  wait_seconds: {wait}
  timeout_seconds: 120
"""


async def pending_for(base: str, key: str, seconds: float = 15) -> dict:
    async with httpx.AsyncClient(headers=operator(base)) as http:
        for _ in range(int(seconds * 20)):
            listed = (await http.get(f"{base}/console/api/approvals")).json()["approvals"]
            mine = [a for a in listed if f'key = "{key}"' in a["arguments"]]
            if mine:
                return mine[0]
            await anyio.sleep(0.05)
    raise AssertionError(f"no approval for {key} appeared on {base}")


async def decide(base: str, approval_id: str, approve: bool = True) -> int:
    async with httpx.AsyncClient(headers=operator(base)) as http:
        response = await http.post(f"{base}/console/api/approvals/{approval_id}", json={"approve": approve})
        return response.status_code


async def test_an_approval_asked_on_one_replica_is_decided_on_another_and_used_once(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, APPROVED.format(wait=30), redis) as servers:
        a, b, c = servers
        async with client(a.mcp_url) as agent:
            outcome = {}

            async def upload():
                outcome["a"] = await call(agent, "s3_put_object", bucket="allowed-bucket", key="one.txt", body="1")

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(upload)
                listed = await pending_for(b.base, "one.txt")
                # Every replica's console lists it.
                assert (await pending_for(c.base, "one.txt"))["id"] == listed["id"]
                assert listed["waiting"] is True
                assert await decide(b.base, listed["id"]) == 200
                assert await decide(c.base, listed["id"]) == 409
            is_error, out = outcome["a"]
            assert not is_error, out
        ran = [r for r in results(servers, "s3:PutObject") if r["outcome"] == "ok"]
        assert len(ran) == 1 and ran[0]["replica"] == "replica-1", ran
        decided = [r for r in records(servers) if r.get("event") == "approval_decided"]
        assert [r["replica"] for r in decided] == ["replica-2"], decided

        # 200 trials, each with its own call asked through a random replica, the decision
        # sent twice at once to two random replicas: one decision is taken, one call runs.
        trials = 200
        conflicts = []

        async def trial(n: int, agents: list) -> None:
            key = f"trial-{n}.txt"
            asked_on = random.randrange(3)
            outcome = {}

            async def upload():
                outcome["done"] = await call(agents[asked_on], "s3_put_object", bucket="allowed-bucket", key=key,
                                             body=str(n))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(upload)
                listed = await pending_for(servers[random.randrange(3)].base, key)
                codes = []

                async def send(to):
                    codes.append(await decide(servers[to].base, listed["id"]))

                async with anyio.create_task_group() as deciding:
                    for to in random.sample(range(3), 2):
                        deciding.start_soon(send, to)
                conflicts.append(sorted(codes))
            is_error, out = outcome["done"]
            assert not is_error, out

        async with client(a.mcp_url) as on_a, client(b.mcp_url) as on_b, client(c.mcp_url) as on_c:
            agents = [on_a, on_b, on_c]
            limiter = anyio.Semaphore(8)

            async def bounded(n):
                async with limiter:
                    await trial(n, agents)

            async with anyio.create_task_group() as tasks:
                for n in range(trials):
                    tasks.start_soon(bounded, n)
        assert conflicts == [[200, 409]] * trials
        ran = [r for r in results(servers, "s3:PutObject") if r["outcome"] == "ok"]
        keys = [r["resources"][0] for r in ran]
        assert len(keys) == trials + 1 and len(set(keys)) == trials + 1, "a call ran twice"


async def test_a_replica_killed_while_its_call_waits_loses_no_decision_and_runs_nothing_twice(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, APPROVED.format(wait=2), redis) as servers:
        a, b, c = servers
        waiting = anyio.Event()

        async def doomed():
            try:
                async with client(c.mcp_url) as agent:
                    waiting.set()
                    await call(agent, "s3_put_object", bucket="allowed-bucket", key="killed.txt", body="k")
            except Exception:  # noqa: BLE001 - its replica is killed under it
                pass

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(doomed)
            listed = await pending_for(a.base, "killed.txt")
            assert listed["waiting"] is True, listed
            c.process.kill()
            c.process.wait()
            tasks.cancel_scope.cancel()
        # The console stops saying a call waits once its replica stops saying so.
        deadline = time.monotonic() + 8
        while (await pending_for(a.base, "killed.txt"))["waiting"] and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert (await pending_for(a.base, "killed.txt"))["waiting"] is False
        # The decision is given on a surviving replica after the one that asked is gone.
        assert await decide(a.base, listed["id"]) == 200
        async with client(b.mcp_url) as agent:
            # The agent's retry, through another replica, uses the decision once...
            is_error, out = await call(agent, "s3_put_object", bucket="allowed-bucket", key="killed.txt", body="k")
            assert not is_error, out
            # ...and a second retry asks anew rather than running again.
            is_error, out = await call(agent, "s3_put_object", bucket="allowed-bucket", key="killed.txt", body="k")
            assert is_error and out["error"] == "ApprovalPending", out
        ran = [r for r in results(servers, "s3:PutObject") if r["outcome"] == "ok"]
        assert len(ran) == 1 and ran[0]["replica"] == "replica-2", ran


async def test_a_call_waiting_when_the_store_goes_is_not_promised_an_approval_it_may_lose(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, APPROVED.format(wait=60), redis) as servers:
        outcome = {}

        async def waits():
            async with client(servers[0].mcp_url) as agent:
                outcome["out"] = await call(agent, "s3_put_object", bucket="allowed-bucket", key="gone.txt", body="g")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(waits)
            await pending_for(servers[1].base, "gone.txt")
            redis.stop()
            stopped = time.monotonic()
        # Told within seconds of the store going, not when `wait_seconds` (60) ends.
        assert time.monotonic() - stopped < 10
        is_error, out = outcome["out"]
        # Not `ApprovalPending` ("stays open"): the store that holds the approval is away.
        assert is_error and out["error"] == "Unavailable" and "was waiting in the shared store" in out["message"], out
    assert not [r for r in results(servers, "s3:PutObject") if r["outcome"] == "ok"]


READS = LIMITED.replace("calls_per_minute: 5", "calls_per_minute: 1000")


async def test_behind_the_balancer_the_agents_own_address_is_judged(binary, aws, tmp_path):
    """With `--trusted-proxy`, `aws:SourceIp` is the agent's address that HAProxy forwards,
    not the balancer's and not what the agent wrote in `X-Forwarded-For` itself."""
    seed(aws)

    def agent(url: str) -> Client:
        http = httpx2.AsyncClient(timeout=60, headers={"X-Forwarded-For": "10.1.2.3"},
                                  transport=httpx2.AsyncHTTPTransport(local_address="127.0.0.5"))
        return Client(streamable_http_client(url, http_client=http))

    with redis_server(tmp_path) as redis, \
            replicas(binary, aws, tmp_path, READS, redis, every=("--trusted-proxy", "127.0.0.1")) as servers, \
            haproxy(tmp_path, [s.base for s in servers]) as lb:
        async with agent(f"{lb}/mcp") as through:
            is_error, out = await call(through, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not is_error, out
        # Straight to a replica from an address that is not the proxy: the header is ignored.
        async with agent(servers[0].mcp_url) as direct:
            is_error, out = await call(direct, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not is_error, out
        # A header that is not addresses, from the proxy's address, is refused, not guessed.
        refused = httpx.post(servers[1].mcp_url, headers={"X-Forwarded-For": "unknown"}, json={})
        assert refused.status_code == 400 and "`unknown`" in refused.text, refused.text
    seen = [entry.get("values") for r in records(servers) if r.get("event") == "decision"
            for entry in r["context"] if entry["key"] == "aws:sourceip"]
    assert seen == [["127.0.0.5"], ["127.0.0.5"]], seen


async def test_without_the_store_every_replica_refuses_and_is_unready_until_it_returns(binary, aws, tmp_path):
    import botocore.exceptions

    from test_sidecar import Sidecar, keys_file

    seed(aws)
    keys, key_id, secret = keys_file(binary, tmp_path, "reports-agent")
    port = free_port()
    first = ("--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys))
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, READS, redis, first=first) as servers, \
            haproxy(tmp_path, [s.base for s in servers]) as lb:
        s3 = Sidecar(f"http://127.0.0.1:{port}", key_id, secret, servers[0].log, servers[0].process).client("s3")
        assert s3.get_object(Bucket="allowed-bucket", Key="read.txt")["Body"].read() == b"hello"
        # A session of the 2025-06-18 protocol through the load balancer, pinned to its replica.
        pinned = Client(streamable_http_client(f"{lb}/mcp", http_client=httpx2.AsyncClient(timeout=60)), mode="legacy")
        await pinned.__aenter__()
        is_error, out = await call(pinned, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        assert not is_error, out
        for s in servers:
            async with client(s.mcp_url) as agent:
                is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                assert not is_error, out
        redis.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(httpx.get(f"{s.base}/readyz").status_code == 503 for s in servers):
                break
            await anyio.sleep(0.1)
        for s in servers:
            ready = httpx.get(f"{s.base}/readyz")
            assert ready.status_code == 503 and "store" in ready.json()["reason"], ready.text
            assert httpx.get(f"http://{s.metrics}/readyz").status_code == 503
            assert httpx.get(f"{s.base}/healthz").status_code == 200
            async with client(s.mcp_url) as agent:
                is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                assert is_error and out["error"] == "Unavailable", out
                # The agent learns why, not where the store is.
                assert "nothing was sent to AWS" in out["message"] and "127.0.0.1" not in out["message"]
            # Each replica itself could serve: the load balancer keeps them.
            assert httpx.get(f"{s.base}/readyz/replica").status_code == 200
        # The sidecar answers as an AWS service that is down, and boto3 retries it as such.
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            s3.get_object(Bucket="allowed-bucket", Key="read.txt")
        error = raised.value.response
        assert error["Error"]["Code"] == "ServiceUnavailable" and error["ResponseMetadata"]["HTTPStatusCode"] == 503
        # HAProxy keeps the replicas (the store is the same for all): through it, agents get
        # the same tool error, and the pinned session is still served.
        await anyio.sleep(2.5)
        assert "DOWN" not in (tmp_path / "haproxy.log").read_text()
        async with client(f"{lb}/mcp") as agent:
            is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert is_error and out["error"] == "Unavailable", out
        is_error, out = await call(pinned, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        assert is_error and out["error"] == "Unavailable", out
        refused = [r for r in records(servers) if r.get("event") == "result" and r.get("error") == "Unavailable"]
        assert len([r for r in refused if r["transport"] == "http"]) == 5
        assert all(r["outcome"] == "error" for r in refused)

        redis.start()
        started = time.monotonic()
        while time.monotonic() - started < 15:
            if all(httpx.get(f"{s.base}/readyz").status_code == 200 for s in servers):
                break
            await anyio.sleep(0.1)
        back = time.monotonic() - started
        assert back < 5, f"the replicas took {back:.1f} s to use the store again"
        # The session made before the outage goes on where it was.
        is_error, out = await call(pinned, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        assert not is_error, out
        await pinned.__aexit__(None, None, None)
        for url in [s.mcp_url for s in servers] + [f"{lb}/mcp"]:
            async with client(url) as agent:
                is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                assert not is_error, out
        assert s3.get_object(Bucket="allowed-bucket", Key="read.txt")["Body"].read() == b"hello"
        assert all(s.process.poll() is None for s in servers), "no replica restarted"


async def test_prometheus_scrapes_the_replicas_and_counts_what_the_audit_logs_record(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, READS, redis) as servers:
        for n, s in enumerate(servers):
            async with client(s.mcp_url) as agent:
                for _ in range(n + 1):
                    await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                await call(agent, "s3_get_object", bucket="denied-bucket", key="x.txt")
        port = free_port()
        config = tmp_path / "prometheus.yml"
        targets = json.dumps([s.metrics for s in servers])
        config.write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: awsgate
    static_configs:
      - targets: {targets}
""")
        log = (tmp_path / "prometheus.log").open("wb")
        prometheus = subprocess.Popen(
            [require("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            expected = {}
            for r in records(servers):
                if r.get("event") == "result":
                    group = (r["replica"], r.get("decision") or "none", r["outcome"])
                    expected[group] = expected.get(group, 0) + 1
            query = "sum by (instance, decision, outcome) (awsgate_calls_total)"
            deadline = time.monotonic() + 30
            seen = {}
            while time.monotonic() < deadline:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}).json()
                seen = {}
                for row in answer["data"]["result"]:
                    instance = row["metric"]["instance"]
                    replica = next(f"replica-{n}" for n, s in enumerate(servers, start=1) if s.metrics == instance)
                    seen[(replica, row["metric"]["decision"], row["metric"]["outcome"])] = int(float(row["value"][1]))
                if seen == expected:
                    break
                await anyio.sleep(0.5)
            assert seen == expected, (seen, expected)
            up = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": "sum(up)"}).json()
            assert up["data"]["result"][0]["value"][1] == "3"
        finally:
            stop(prometheus)
            log.close()


async def test_an_input_required_exchange_begun_on_one_replica_is_continued_on_another(binary, aws, tmp_path):
    """Protocol 2026-07-28: the request state a replica gives is redeemed on any, once."""
    from mcp_types import ElicitResult

    async def human(context, params):
        return ElicitResult(action="accept", content={"approve": True})

    seed(aws)
    text = APPROVED.format(wait=30).replace("via: [console]", "via: [elicitation]")
    put = {"bucket": "allowed-bucket", "key": "exchange.txt", "body": "e"}
    yes = {"awsgate_approval": {"action": "accept", "content": {"approve": True}}}
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, text, redis) as servers:
        a, b, c = servers

        def on(server):
            return Client(streamable_http_client(server.mcp_url, http_client=httpx2.AsyncClient(timeout=60)),
                          elicitation_callback=human)

        async with on(a) as on_a, on(b) as on_b, on(c) as on_c:
            asked = await on_a.session.call_tool("s3_put_object", put, allow_input_required=True)
            assert asked.request_state and "awsgate_approval" in asked.input_requests
            done = await on_b.session.call_tool("s3_put_object", put, input_responses=yes,
                                                request_state=asked.request_state)
            assert not done.is_error, done.structured_content
            again = await on_c.session.call_tool("s3_put_object", put, input_responses=yes,
                                                 request_state=asked.request_state)
            assert again.is_error and "already used" in again.structured_content["message"]
            # A token given for one call approves no other, on any replica.
            asked = await on_a.session.call_tool("s3_put_object", put, allow_input_required=True)
            other = dict(put, key="other.txt")
            refused = await on_c.session.call_tool("s3_put_object", other, input_responses=yes,
                                                   request_state=asked.request_state)
            assert refused.is_error and "different call" in refused.structured_content["message"]
        ran = [r for r in results(servers, "s3:PutObject") if r["outcome"] == "ok"]
        assert [r["replica"] for r in ran] == ["replica-2"], ran
        assert not aws.object_exists("allowed-bucket", "other.txt")


async def test_the_store_password_never_leaks_and_a_wrong_one_serves_nothing(binary, aws, tmp_path):
    seed(aws)
    redis = Redis(tmp_path)
    process = subprocess.Popen(
        [require("redis-server"), "--port", str(redis.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", "right-horse-battery", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(redis.port)
        policy = write_policy(tmp_path, READS)
        env = awsgate_env(aws.endpoint)
        for password, works in (("wrong-staple-9", False), ("right-horse-battery", True)):
            url = f"redis://:{password}@127.0.0.1:{redis.port}"
            with http_server(binary, policy, env, tmp_path, "--store", url, "--audit-log",
                             str(tmp_path / f"{password}.jsonl")) as s:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    ready = httpx.get(f"{s.base}/readyz")
                    if ready.status_code == 200 if works else "credentials" in ready.text:
                        break
                    await anyio.sleep(0.1)
                assert (ready.status_code == 200) == works, ready.text
                async with client(s.mcp_url) as agent:
                    is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                assert is_error != works, out
                seen = ready.text + json.dumps(out) + s.stderr_path.read_text() + (tmp_path / f"{password}.jsonl").read_text()
                assert password not in seen
                if not works:
                    # Redis's own word for it; the address only in awsgate's log.
                    assert "refused awsgate's credentials" in ready.json()["reason"], ready.text
                    assert f"redis://127.0.0.1:{redis.port}" not in ready.text
                    # The operator's log says so from the start, with the address.
                    log = s.stderr_path.read_text()
                    assert "the store cannot be used; calls are refused" in log and \
                        f"redis://127.0.0.1:{redis.port}" in log, log
        # The first call right after start is served: awsgate waits for the store's first
        # answer before it serves (over stdio, a desktop client calls at once).
        for _ in range(5):
            async with gateway(binary, aws, tmp_path, READS,
                               AWSGATE_STORE=f"redis://:right-horse-battery@127.0.0.1:{redis.port}") as agent:
                is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                assert not is_error, out
        # Without a password, Redis's NOAUTH, with what it means.
        with http_server(binary, policy, env, tmp_path, "--store", f"redis://127.0.0.1:{redis.port}",
                         "--audit-log", str(tmp_path / "none.jsonl")) as s:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "NOAUTH" not in httpx.get(f"{s.base}/readyz").text:
                await anyio.sleep(0.1)
            assert "names no password, and the store wants one" in httpx.get(f"{s.base}/readyz").text
        # A user the store lets in but not run awsgate's scripts: unready and said why, not
        # a healthy store whose every call fails.
        limited = Redis(tmp_path)
        narrow = subprocess.Popen(
            [require("redis-server"), "--port", str(limited.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path), "--user", "lim", "on", ">limpw", "~*", "+ping", "+get",
             "+set", "+hello", "+client", "+select", "+subscribe", "+info"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            wait_for_port(limited.port)
            with http_server(binary, policy, env, tmp_path, "--store", f"redis://lim:limpw@127.0.0.1:{limited.port}",
                             "--audit-log", str(tmp_path / "lim.jsonl")) as s:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and "NOPERM" not in httpx.get(f"{s.base}/readyz").text:
                    await anyio.sleep(0.1)
                ready = httpx.get(f"{s.base}/readyz")
                assert ready.status_code == 503 and "+@scripting" in ready.text and "limpw" not in ready.text, ready.text
        finally:
            stop(narrow)
    finally:
        stop(process)


async def test_every_replicas_console_shows_the_records_of_all(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, READS, redis) as servers:
        a, b, c = servers
        following = []

        async def follow():
            async with httpx.AsyncClient(headers=operator(a.base), timeout=30) as http:
                async with http.stream("GET", f"{a.base}/console/api/audit", params={"follow": "1"}) as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            following.append(json.loads(line[5:]))
                            if any(r.get("replica") == "replica-3" and r.get("event") == "result" for r in following):
                                return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(follow)
            await anyio.sleep(0.5)
            for s in (b, c):
                async with client(s.mcp_url) as agent:
                    await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            with anyio.fail_after(10):
                while not any(r.get("replica") == "replica-3" and r.get("event") == "result" for r in following):
                    await anyio.sleep(0.05)
        # A's live feed showed the others' records as they were written...
        assert {"replica-2", "replica-3"} <= {r.get("replica") for r in following}
        # ...and every console lists the latest records of all replicas.
        for s in servers:
            listed = httpx.get(f"{s.base}/console/api/audit", headers=operator(s.base)).json()["records"]
            assert {"replica-2", "replica-3"} <= {r.get("replica") for r in listed}, s.base


async def test_replicas_of_one_name_and_a_restarted_replica_still_share_one_budget(binary, aws, tmp_path):
    """The window's entries are this process's own, whatever `--replica-id` says: two replicas
    left with the default id (the host name), and one restarted within the minute."""
    seed(aws)
    policy = write_policy(tmp_path, LIMITED)
    env = awsgate_env(aws.endpoint)
    ran = 0
    with redis_server(tmp_path) as redis:
        with http_server(binary, policy, env, tmp_path, "--store", redis.url) as one, \
                http_server(binary, policy, env, tmp_path, "--store", redis.url) as two:
            for server in (one, two, one):
                async with client(server.mcp_url) as agent:
                    for _ in range(2):
                        is_error, _ = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                        ran += not is_error
        with http_server(binary, policy, env, tmp_path, "--store", redis.url) as restarted:
            async with client(restarted.mcp_url) as agent:
                for _ in range(4):
                    is_error, out = await call(agent, "s3_get_object", bucket="allowed-bucket", key="read.txt")
                    ran += not is_error
    assert ran == 5


async def test_a_replica_stopped_while_its_call_waits_answers_it_and_withdraws_the_approval(binary, aws, tmp_path):
    seed(aws)
    with redis_server(tmp_path) as redis, replicas(binary, aws, tmp_path, APPROVED.format(wait=30), redis,
                                                   count=2) as servers:
        a, b = servers
        outcome = {}

        async def waits():
            async with client(a.mcp_url) as agent:
                outcome["a"] = await call(agent, "s3_put_object", bucket="allowed-bucket", key="stop.txt", body="s")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(waits)
            listed = await pending_for(b.base, "stop.txt")
            a.process.send_signal(signal.SIGTERM)
        is_error, out = outcome["a"]
        assert is_error and "shutting down" in out["message"], out
        withdrawn = [r for r in read_audit(a.log) if r.get("event") == "approval_withdrawn"]
        assert [(r["approval_id"], r["why"]) for r in withdrawn] == [(listed["id"], "shutdown")], withdrawn
        listed_now = httpx.get(f"{b.base}/console/api/approvals", headers=operator(b.base)).json()["approvals"]
        assert listed_now == []
        assert not aws.object_exists("allowed-bucket", "stop.txt")
