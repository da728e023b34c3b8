"""The audit log as evidence and as a starting point: its hash chain verifies on a real log
(across a restart) and names the first record edited, removed or swapped; and `audit
suggest` over an audit-mode session yields a policy under which the same session passes in
enforce mode while a different call is denied."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import read_audit, write_policy
from test_tools import assert_denied, call, gateway, seed

pytestmark = pytest.mark.anyio

WIDE_OPEN = """
version: 1
name: agent-trial
mode: audit
region: us-east-1
account: "123456789012"
limits:
  calls_per_minute: 0
statements:
  - sid: NothingYet
    effect: deny
    actions: ["s3:DeleteBucket"]
    resources: ["*"]
"""


def awsgate(binary, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


async def agent_session(client) -> None:
    """What the new agent does on its first day."""
    assert not (await call(client, "s3_get_object", bucket="allowed-bucket", key="read.txt"))[0]
    assert not (await call(client, "s3_put_object", bucket="allowed-bucket", key="out/report-1.txt", body="one"))[0]
    assert not (await call(client, "s3_put_object", bucket="allowed-bucket", key="out/report-2.txt", body="two"))[0]
    assert not (await call(client, "dynamodb_get_item", table="allowed-table", key={"pk": "a"}))[0]
    assert not (await call(client, "s3_list_all_my_buckets"))[0]


async def test_the_chain_of_a_real_log_verifies_across_a_restart_and_names_each_kind_of_tampering(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path) as client:
        await call(client, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        await call(client, "s3_get_object", bucket="denied-bucket", key="x.txt")
    # A second server appends to the same file and continues its chain.
    async with gateway(binary, aws, tmp_path) as client:
        await call(client, "sqs_list_queues")
    path = tmp_path / "audit.jsonl"
    records = read_audit(path)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(records, records[1:]))
    checked = awsgate(binary, "audit", "verify", str(path))
    assert checked.returncode == 0, checked.stderr
    assert f"{len(records)} records chained" in checked.stdout and records[-1]["hash"] in checked.stdout

    lines = path.read_text().splitlines(keepends=True)

    def verify_variant(name: str, variant: list[str]) -> str:
        broken = tmp_path / f"{name}.jsonl"
        broken.write_text("".join(variant))
        result = awsgate(binary, "audit", "verify", str(broken))
        assert result.returncode == 1, (name, result.stdout)
        return result.stderr

    edited = list(lines)
    edited[2] = edited[2].replace('"decision":"deny"', '"decision":"allow"')
    assert edited[2] != lines[2]
    assert "line 3: record seq 3 was altered" in verify_variant("edited", edited)

    removed = lines[:1] + lines[2:]
    assert "line 2: record seq 2 is missing" in verify_variant("removed", removed)

    swapped = list(lines)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert "line 4: record seq 4 is missing" in verify_variant("swapped", swapped)

    # An edit that recomputes the record's own hash still breaks the next link.
    record = json.loads(lines[1])
    record["resources"] = ["arn:aws:s3:::somewhere-else/read.txt"]
    del record["hash"]
    import hashlib

    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    record["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
    rehashed = list(lines)
    rehashed[1] = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
    verify_variant_text = verify_variant("rehashed", rehashed)
    assert "line 3: record seq 3 does not follow the record before it" in verify_variant_text


async def test_suggest_turns_an_audit_mode_session_into_an_enforced_policy(binary, aws, tmp_path):
    seed(aws)
    trial = tmp_path / "trial"
    trial.mkdir()
    async with gateway(binary, aws, trial, WIDE_OPEN) as client:
        await agent_session(client)
    audit = trial / "audit.jsonl"
    assert all(r["mode"] == "audit" for r in read_audit(audit))

    suggested = awsgate(binary, "audit", "suggest", str(audit))
    assert suggested.returncode == 0, suggested.stderr
    text = suggested.stdout
    assert "name: \"agent-trial-suggested\"" in text and "mode: enforce" in text
    assert '"arn:aws:s3:::allowed-bucket/out/report-1.txt"' in text and "# 1 call: s3:GetObject 1" in text
    policy = write_policy(tmp_path, text.replace("mode: enforce", 'mode: enforce\nregion: us-east-1\naccount: "123456789012"\nlimits:\n  calls_per_minute: 0'), "suggested.yaml")
    checked = awsgate(binary, "check", str(policy))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Every logged call, replayed through simulate, is allowed.
    for record in read_audit(audit):
        if record["event"] != "decision":
            continue
        args = ["simulate", "--policy", str(policy), "--action", record["action"]]
        for resource in record["resources"]:
            args += ["--resource", resource]
        simulated = awsgate(binary, *args)
        assert simulated.returncode == 0 and "decision:  allow" in simulated.stdout, (record, simulated.stdout)

    enforced = tmp_path / "enforced"
    enforced.mkdir()
    async with gateway(binary, aws, enforced, policy.read_text()) as client:
        await agent_session(client)
        assert_denied(await call(client, "s3_put_object", bucket="allowed-bucket", key="out/report-3.txt", body="3"))
        assert_denied(await call(client, "s3_get_object", bucket="denied-bucket", key="x.txt"))
    assert not aws.object_exists("allowed-bucket", "out/report-3.txt")

    generalized = awsgate(binary, "audit", "suggest", "--generalize", str(audit))
    assert '"arn:aws:s3:::allowed-bucket/out/*"' in generalized.stdout
    assert "report-1.txt" not in generalized.stdout


async def test_a_restart_resumes_only_a_chain_whose_last_record_can_be_trusted(binary, aws, tmp_path):
    from conftest import awsgate_env

    seed(aws)
    async with gateway(binary, aws, tmp_path) as client:
        await call(client, "s3_get_object", bucket="allowed-bucket", key="read.txt")
    path = tmp_path / "audit.jsonl"
    whole = path.read_text()

    # A last record cut off before its newline: the next server starts a new line.
    path.write_text(whole.rstrip("\n"))
    async with gateway(binary, aws, tmp_path) as client:
        await call(client, "sqs_list_queues")
    checked = awsgate(binary, "audit", "verify", str(path))
    assert checked.returncode == 0, checked.stderr

    policy = write_policy(tmp_path, WIDE_OPEN, "start.yaml")

    def start(text: str) -> subprocess.CompletedProcess:
        log = tmp_path / "variant.jsonl"
        log.write_text(text)
        return subprocess.run([str(binary), "serve", "--policy", str(policy), "--audit-log", str(log)], input="",
                              capture_output=True, text=True, timeout=60, env=awsgate_env(aws.endpoint))

    lines = path.read_text().splitlines(keepends=True)
    # A forged last line that claims a far later seq, its own hash right.
    import hashlib

    forged = json.loads(lines[-1])
    forged["seq"] = 999
    del forged["hash"]
    forged["hash"] = hashlib.sha256(json.dumps(forged, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()).hexdigest()
    started = start("".join(lines) + json.dumps(forged, separators=(",", ":")) + "\n")
    assert started.returncode != 0
    assert f"line {len(lines) + 1}: its last record (seq 999) does not follow" in started.stderr, started.stderr

    # Trailing blank lines: the server and `verify` agree, and both name the line.
    started = start("".join(lines) + "\n")
    assert started.returncode != 0 and f"line {len(lines) + 1} is blank" in started.stderr, started.stderr
    blank = tmp_path / "blank.jsonl"
    blank.write_text("".join(lines) + "\n")
    verified = awsgate(binary, "audit", "verify", str(blank))
    assert verified.returncode == 1 and f"line {len(lines) + 1}: a blank line" in verified.stderr, verified.stderr

    # A record that names a field twice (the real value last, as a parser keeping the last
    # would read it) is refused by `verify`.
    doubled = list(lines)
    doubled[0] = doubled[0].replace("{", '{"decision":"allow",', 1)
    twice = tmp_path / "twice.jsonl"
    twice.write_text("".join(doubled))
    verified = awsgate(binary, "audit", "verify", str(twice))
    assert verified.returncode == 1 and "line 1: the key `decision` appears twice" in verified.stderr, verified.stderr
