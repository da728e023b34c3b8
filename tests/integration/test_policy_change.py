"""Changing a policy safely: a shadow policy judged beside the one in force (recorded,
counted, never changing what runs), `audit replay` of a log under a candidate policy
(conditions included), and `iam-policy --format terraform` read back by a real HCL parser
(python-hcl2) to the same JSON as `--format json`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import hcl2
import httpx
import pytest
from mcp import Client

from conftest import ROOT, awsgate_env, free_port, http_server, read_audit, write_policy
from test_tools import call, gateway, seed

pytestmark = pytest.mark.anyio

IN_FORCE = """
version: 1
name: in-force
region: us-east-1
account: "123456789012"
limits:
  calls_per_minute: 0
shadow: shadow.yaml
statements:
  - sid: Reads
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
  - sid: Listing
    effect: allow
    actions: ["s3:ListBucket"]
    resources: ["arn:aws:s3:::allowed-bucket"]
    conditions:
      StringLike:
        s3:prefix: ["reports/*", "public/*"]
"""

SHADOW = """
version: 1
name: candidate
statements:
  - sid: ReadsButNotRead
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*", "arn:aws:s3:::denied-bucket/*"]
  - sid: NoReadTxt
    effect: deny
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::allowed-bucket/read.txt"]
  - sid: Listing
    effect: allow
    actions: ["s3:ListBucket"]
    resources: ["arn:aws:s3:::allowed-bucket"]
    conditions:
      StringLike:
        s3:prefix: ["reports/*", "public/*"]
"""


def decisions(path) -> list[dict]:
    return [r for r in read_audit(path) if r.get("event") == "decision"]


async def test_a_shadow_is_recorded_both_ways_and_changes_nothing_that_runs(binary, aws, tmp_path):
    seed(aws)
    aws.s3.put_object(Bucket="allowed-bucket", Key="other.txt", Body=b"other")
    policy = write_policy(tmp_path, IN_FORCE)
    (tmp_path / "shadow.yaml").write_text(SHADOW)
    audit = tmp_path / "audit.jsonl"
    metrics = free_port()
    with http_server(binary, policy, awsgate_env(aws.endpoint), tmp_path, "--audit-log", str(audit),
                     "--metrics-listen", f"127.0.0.1:{metrics}") as s:
        async with Client(s.mcp_url) as c:
            # In force: allowed; the shadow would deny. It runs.
            failed, out = await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            assert not failed and out["body"] == "hello", out
            # In force: denied; the shadow would allow. It does not run.
            failed, out = await call(c, "s3_get_object", bucket="denied-bucket", key="x.txt")
            assert failed and out["error"] == "AccessDenied", out
            # Both agree: nothing about the shadow in the record.
            failed, _ = await call(c, "s3_get_object", bucket="allowed-bucket", key="other.txt")
            assert not failed
        text = httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
        assert 'awsgate_shadow_disagreements_total{agent="default",from="allow",to="deny"} 1' in text, text
        assert 'awsgate_shadow_disagreements_total{agent="default",from="deny",to="allow"} 1' in text, text

        # A reload applies to the shadow too: it now agrees on read.txt.
        (tmp_path / "shadow.yaml").write_text(SHADOW.replace("allowed-bucket/read.txt", "allowed-bucket/none.txt"))
        s.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(r.get("event") == "policy_reloaded" for r in read_audit(audit)):
            time.sleep(0.05)
        reloaded = [r for r in read_audit(audit) if r.get("event") == "policy_reloaded"]
        assert reloaded and reloaded[0]["shadow_policy_hash"], reloaded
        async with Client(s.mcp_url) as c:
            await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
    records = decisions(audit)
    read, denied, agreed, after = records
    assert read["decision"] == "allow" and read["shadow"] == {
        "decision": "deny", "statement": "NoReadTxt", "reason": read["shadow"]["reason"]}
    assert "NoReadTxt" in read["shadow"]["reason"]
    assert denied["decision"] == "deny" and denied["shadow"]["decision"] == "allow"
    assert denied["shadow"]["statement"] == "ReadsButNotRead"
    assert "shadow" not in agreed and "shadow" not in after
    # What ran is what the policy in force said: one object read, the other bucket untouched.
    results = [r["outcome"] for r in read_audit(audit) if r.get("event") == "result"]
    assert results == ["ok", "denied", "ok", "ok"], results
    # Each decision carries the context the gate judged by, never argument contents.
    keys = {entry["key"] for entry in read["context"]}
    assert {"aws:requestedregion", "aws:currenttime", "aws:securetransport"} <= keys, keys


def test_a_broken_shadow_is_refused_like_a_broken_policy(binary, aws, tmp_path):
    policy = write_policy(tmp_path, IN_FORCE)
    (tmp_path / "shadow.yaml").write_text("version: 1\nstatements:\n  - effect: allow\n    actions: [s3:GetObjekt]\n"
                                          "    resources: ['*']\n")
    checked = subprocess.run([str(binary), "check", str(policy)], capture_output=True, text=True)
    assert checked.returncode == 1 and "shadow.yaml:4:" in checked.stdout + checked.stderr, checked
    (tmp_path / "shadow.yaml").write_text(SHADOW + "shadow: other.yaml\n")
    checked = subprocess.run([str(binary), "check", str(policy)], capture_output=True, text=True)
    assert checked.returncode == 1 and "cannot name a shadow of its own" in checked.stdout + checked.stderr
    # Settings a shadow does not use are named, not silently ignored.
    (tmp_path / "shadow.yaml").write_text(SHADOW + "limits:\n  calls_per_minute: 5\naudit:\n  log: x.jsonl\n")
    checked = subprocess.run([str(binary), "check", str(policy)], capture_output=True, text=True)
    assert checked.returncode == 0, checked
    assert "its `limits`, `audit` are not used (the policy in force's are)" in checked.stdout, checked
    assert "shadow `" in checked.stdout and "1 warning)" in checked.stdout, checked
    # A shadow the agents file names and that cannot be read: said where it is named.
    (tmp_path / "plain.yaml").write_text(NARROWED)
    agents = tmp_path / "agents.yaml"
    agents.write_text("agents:\n  - name: bot\n    policy: plain.yaml\n    shadow: gone.yaml\n"
                      "    token_sha256: " + "0" * 64 + "\n")
    checked = subprocess.run([str(binary), "check", str(agents)], capture_output=True, text=True)
    assert checked.returncode == 1, checked
    assert "agents.yaml:4:13: error: cannot read agent `bot`'s shadow policy" in checked.stdout, checked


NARROWED = IN_FORCE.replace('s3:prefix: ["reports/*", "public/*"]', 's3:prefix: ["reports/*"]').replace(
    "shadow: shadow.yaml\n", "")
WIDENED = IN_FORCE.replace('resources: ["arn:aws:s3:::allowed-bucket/*"]',
                           'resources: ["arn:aws:s3:::allowed-bucket/*", "arn:aws:s3:::denied-bucket/*"]').replace(
    "shadow: shadow.yaml\n", "")


def replay(binary, log, policy, *args):
    return subprocess.run([str(binary), "audit", "replay", str(log), "--policy", str(policy), *args],
                          capture_output=True, text=True)


async def test_replay_finds_exactly_the_decisions_that_change(binary, aws, tmp_path):
    seed(aws)
    in_force = write_policy(tmp_path, IN_FORCE.replace("shadow: shadow.yaml\n", ""), "in-force.yaml")
    async with gateway(binary, aws, tmp_path, IN_FORCE.replace("shadow: shadow.yaml\n", "")) as c:
        log = c.audit_path
        await call(c, "s3_list_bucket", bucket="allowed-bucket", prefix="reports/")
        await call(c, "s3_list_bucket", bucket="allowed-bucket", prefix="public/")
        await call(c, "s3_list_bucket", bucket="allowed-bucket", prefix="private/")
        await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
        await call(c, "s3_get_object", bucket="denied-bucket", key="x.txt")
    # The policy that made the log changes nothing.
    same = replay(binary, log, in_force)
    assert same.returncode == 0 and same.stdout == "", same
    assert "replayed 5 decision(s)" in same.stderr and "0 narrowed, 0 widened, 0 undetermined" in same.stderr
    # The same log as another tool writes JSON (spaces after colons, keys in another order).
    respaced = tmp_path / "respaced.jsonl"
    respaced.write_text("".join(json.dumps(dict(reversed(list(r.items())))) + "\n" for r in read_audit(log)))
    assert replay(binary, respaced, in_force).stderr == same.stderr.replace(str(log), str(respaced))

    # A narrowed condition: exactly the listing of public/ flips, and narrowing passes.
    narrowed = write_policy(tmp_path, NARROWED, "narrowed.yaml")
    result = replay(binary, log, narrowed, "--json")
    assert result.returncode == 0, result
    changed = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(changed) == 1, changed
    (one,) = changed
    assert set(one) == {"time", "call_id", "agent", "action", "resources", "context", "from", "to", "statement",
                        "new_statement", "reason", "file"}
    assert one["file"] == str(log) and "s3:prefix" in one["reason"], one
    assert (one["action"], one["from"], one["to"], one["statement"], one["new_statement"]) == (
        "s3:ListBucket", "allow", "deny", "Listing", None)
    assert {"key": "s3:prefix", "values": ["public/"]} in one["context"]
    text = replay(binary, log, narrowed)
    assert text.stdout.startswith("allow → deny (1):") and "s3:ListBucket on arn:aws:s3:::allowed-bucket" in text.stdout

    # A widening: the denied read would be allowed, and replay fails.
    widened = write_policy(tmp_path, WIDENED, "widened.yaml")
    result = replay(binary, log, widened)
    assert result.returncode == 1, result
    assert result.stdout.startswith("deny → allow (1):") and "denied-bucket/x.txt" in result.stdout, result.stdout
    # What comes of the call is compared: in audit mode a denied call runs, a widening.
    audit_mode = write_policy(tmp_path, NARROWED.replace("version: 1", "version: 1\nmode: audit"), "audit.yaml")
    result = replay(binary, log, audit_mode)
    # Both denied calls (the private/ listing, the other bucket's read) would run.
    assert result.returncode == 1 and "deny → allow (2):" in result.stdout, result
    # Only another agent's calls: nothing to judge, which replay will not call a pass.
    other = replay(binary, log, widened, "--agent", "someone-else")
    assert other.returncode == 2 and "no decision of agent `someone-else`" in other.stderr, other


def test_replay_refuses_what_is_not_an_audit_log(binary, tmp_path):
    """A line that is not a record could hide a decision: replay stops (exit 2, so that
    exit 1 always means a widening)."""
    policy = write_policy(tmp_path, NARROWED)
    log = tmp_path / "not-a-log.jsonl"
    for damaged, why in (('{"event":"decision", oops\n', "line 1: not an audit record"),
                         ('{"event":"result"}\n\n', "line 2: not an audit record (an empty line)"),
                         ('{"event": "decision", "action": "s3:GetObj', "line 1: not an audit record")):
        log.write_text(damaged)
        result = replay(binary, log, policy)
        assert result.returncode == 2 and why in result.stderr, result
    # A decision record that lacks what the gate judged by is refused, never passed over.
    whole = {"event": "decision", "time": "2026-12-07T10:00:00Z", "call_id": "c-1", "action": "s3:GetObject",
             "resources": ["arn:aws:s3:::denied-bucket/x"], "decision": "deny", "enforced": True,
             "statement": "Deny", "context": []}
    for field, why in (("action", "without `action`"), ("decision", "without `decision`"),
                       ("resources", "without `resources`"), ("context", "without `context`")):
        log.write_text(json.dumps(whole) + "\n" + json.dumps({k: v for k, v in whole.items() if k != field}) + "\n")
        result = replay(binary, log, policy)
        assert result.returncode == 2 and f"line 2: not an audit record (a decision record {why}" in result.stderr, result
    log.write_text(json.dumps(whole) + "\n" + json.dumps({**whole, "event": "Decision"}) + "\n")
    result = replay(binary, log, policy)
    assert result.returncode == 2 and "line 2: not an audit record (an event `Decision`" in result.stderr, result
    log.write_text(json.dumps({**whole, "decision": "maybe"}) + "\n")
    result = replay(binary, log, policy)
    assert result.returncode == 2 and "a decision `maybe`, neither `allow` nor `deny`" in result.stderr, result
    # A call refused before the gate (no statement, nothing read) is counted, not judged.
    refused = {k: v for k, v in whole.items() if k not in ("statement", "context")}
    log.write_text(json.dumps(whole) + "\n" + json.dumps(refused) + "\n")
    result = replay(binary, log, policy)
    assert result.returncode == 0 and "1 call(s) refused before the gate" in result.stderr, result
    # The candidate is judged alone: a `shadow:` it names plays no part, even a missing one.
    with_shadow = write_policy(tmp_path, NARROWED + "shadow: missing.yaml\n", "with-shadow.yaml")
    result = replay(binary, log, with_shadow)
    assert result.returncode == 0 and "replayed 1 decision(s)" in result.stderr, result
    # Input without line breaks takes bounded memory and is refused.
    endless = replay(binary, "/dev/zero", policy)
    assert endless.returncode == 2 and "line 1: not an audit record (longer than 64 MiB)" in endless.stderr, endless
    missing = replay(binary, tmp_path / "missing.jsonl", policy)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = write_policy(tmp_path, "version: 1\nstatements: nope\n", "broken.yaml")
    log.write_text("")
    result = replay(binary, log, broken)
    assert result.returncode == 2 and "broken.yaml:2:" in result.stderr, result


TAGGED = """
version: 1
region: us-east-1
account: "123456789012"
services: [dynamodb]
limits:
  calls_per_minute: 0
statements:
  - sid: TaggedForAgents
    effect: allow
    actions: [dynamodb:DescribeTable]
    resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/*"]
    conditions:
      StringEquals: {"aws:ResourceTag/agent": "allowed"}
"""


async def test_a_record_keeps_the_tags_a_statement_tested_and_no_other_tags_value(binary, aws, tmp_path):
    """A resource's tags are its contents: the tag a statement tests keeps its value, every
    other tag (here one holding a secret) only its name."""
    arn = aws.dynamodb.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    aws.dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "agent", "Value": "allowed"},
                                                     {"Key": "apikey", "Value": "TAGSECRET-999"}])
    async with gateway(binary, aws, tmp_path, TAGGED) as c:
        failed, out = await call(c, "dynamodb_describe_table", table="orders")
        assert not failed, out
    log = tmp_path / "audit.jsonl"
    assert "TAGSECRET" not in log.read_text()
    (record,) = decisions(log)
    assert {"key": "aws:resourcetag/agent", "resource": 0, "values": ["allowed"]} in record["context"], record
    assert {"key": "aws:resourcetag/apikey", "resource": 0, "recorded": False} in record["context"], record


ROLE = """
version: 1
name: reports team
region: us-east-1
account: "123456789012"
credentials:
  role_arn: arn:aws:iam::123456789012:role/awsgate-reports
  external_id: team-7
  duration_seconds: 7200
statements:
  - sid: Homes
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::homes/*"]
  - sid: Listing
    effect: allow
    actions: ["s3:ListBucket"]
    resources: ["arn:aws:s3:::homes"]
    conditions:
      StringLike:
        s3:prefix: ["%{not-a-template}/*"]
"""


def heredoc(value: str) -> str:
    """The text of a `<<-EOT` heredoc as python-hcl2 gives it, as Terraform reads it."""
    match = re.fullmatch(r'"?<<-EOT\n(.*)\n\s*EOT"?', value, re.S)
    assert match, value
    lines = match.group(1).split("\n")
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    text = "\n".join(line[indent:] for line in lines)
    return text.replace("$${", "${").replace("%%{", "%{")


def test_terraform_output_parses_and_carries_the_json_of_the_json_format(binary, tmp_path):
    policy = write_policy(tmp_path, ROLE)
    as_json = subprocess.run([str(binary), "iam-policy", "--policy", str(policy)], capture_output=True, text=True)
    assert as_json.returncode == 0, as_json
    permissions = json.loads(as_json.stdout)
    trust = json.loads(as_json.stderr[as_json.stderr.index("{"):as_json.stderr.rindex("}") + 1])
    hcl = subprocess.run([str(binary), "iam-policy", "--policy", str(policy), "--format", "terraform"],
                         capture_output=True, text=True)
    assert hcl.returncode == 0, hcl
    (tmp_path / "role.tf").write_text(hcl.stdout)
    with (tmp_path / "role.tf").open() as f:
        parsed = hcl2.load(f)
    resources = {list(r)[0].strip('"'): r for r in parsed["resource"]}
    role = resources["aws_iam_role"]['"aws_iam_role"']['"awsgate"']
    inline = resources["aws_iam_role_policy"]['"aws_iam_role_policy"']['"awsgate"']
    assert inline["role"] == "${aws_iam_role.awsgate.id}"
    assert json.loads(heredoc(inline["policy"])) == permissions
    # `%{` in the policy is the policy's text, not a Terraform template.
    assert "%%{not-a-template}" in hcl.stdout
    assumed = json.loads(heredoc(role["assume_role_policy"]))
    assert assumed["Statement"][0]["Principal"] == {"AWS": "${var.assuming_principal_arn}"}
    assumed["Statement"][0]["Principal"] = trust["Statement"][0]["Principal"]
    assert assumed == trust
    assert role["max_session_duration"] == 7200
    variables = {list(v)[0].strip('"') for v in parsed["variable"]}
    assert variables == {"assuming_principal_arn", "role_name"}
    role_name = next(v for v in parsed["variable"] if '"role_name"' in v)['"role_name"']["default"]
    assert role_name.strip('"') == "awsgate-reports"
    outputs = {list(o)[0].strip('"'): o for o in parsed["output"]}
    assert outputs["role_arn"]['"role_arn"']["value"] == "${aws_iam_role.awsgate.arn}"
    # A role under a path is made under it, so that its ARN is the policy's; a description
    # holds only what IAM takes (Latin-1).
    nested = write_policy(tmp_path, ROLE.replace("role/awsgate-reports", "role/agents/web-role").replace(
        "name: reports team", "name: 报告 team"), "nested.yaml")
    hcl = subprocess.run([str(binary), "iam-policy", "--policy", str(nested), "--format", "terraform"],
                         capture_output=True, text=True)
    (tmp_path / "nested.tf").write_text(hcl.stdout)
    with (tmp_path / "nested.tf").open() as f:
        role = {list(r)[0].strip('"'): r for r in hcl2.load(f)["resource"]}["aws_iam_role"]['"aws_iam_role"']['"awsgate"']
    assert role["path"].strip('"') == "/agents/", role
    assert role["description"].strip('"') == "Assumed by awsgate for policy ?? team", role


async def test_the_console_lists_the_shadows_disagreements_and_agents_get_their_own(binary, aws, tmp_path):
    """Per agent in the agents file: `shadow:` beside `policy:`; the console's feed filters
    the decisions a shadow disagrees with (`decision=shadow`)."""
    seed(aws)
    write_policy(tmp_path, IN_FORCE.replace("shadow: shadow.yaml\n", ""), "reports.yaml")
    (tmp_path / "candidate.yaml").write_text(SHADOW)
    line = subprocess.run([str(binary), "agent-token", "new", "reports"], capture_output=True, text=True).stdout
    digest = re.search(r"token_sha256: ([0-9a-f]{64})", line).group(1)
    token = re.search(r"# ([A-Za-z0-9_-]{40,})", line).group(1)
    agents = write_policy(tmp_path, f"""
agents:
  - name: reports
    policy: reports.yaml
    shadow: candidate.yaml
    token_sha256: {digest}
""", "agents.yaml")
    checked = subprocess.run([str(binary), "check", str(agents)], capture_output=True, text=True)
    assert checked.returncode == 0, checked
    operator = "operator-token-0123456789abcdef"
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=operator)
    with http_server(binary, agents, env, tmp_path, "--console", "--audit-log", str(tmp_path / "audit.jsonl"),
                     policy_flag="--agents") as s:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with Client(streamable_http_client(s.mcp_url, http_client=http)) as c:
            await call(c, "s3_get_object", bucket="allowed-bucket", key="read.txt")
            await call(c, "s3_get_object", bucket="allowed-bucket", key="missing.txt")
        listed = httpx.get(f"{s.base}/console/api/audit", params={"decision": "shadow"},
                           headers={"Authorization": f"Bearer {operator}"}).json()["records"]
        assert [(r["agent"], r["resources"], r["shadow"]["decision"]) for r in listed] == [
            ("reports", ["arn:aws:s3:::allowed-bucket/read.txt"], "deny")], listed
    # Both the agents file and the policy naming a shadow: which one is meant cannot be told.
    write_policy(tmp_path, IN_FORCE.replace("shadow.yaml", "candidate.yaml"), "reports.yaml")
    checked = subprocess.run([str(binary), "check", str(agents)], capture_output=True, text=True)
    assert checked.returncode == 1 and "keep one" in checked.stdout + checked.stderr, checked


APPROVING = """
version: 1
name: approving
region: us-east-1
account: "123456789012"
statements:
  - sid: Uploads
    effect: allow
    actions: ["s3:PutObject"]
    resources: ["arn:aws:s3:::allowed-bucket/*"]
    approval: required
  - sid: Tables
    effect: allow
    actions: ["dynamodb:GetItem"]
    resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/allowed-table"]
approvals:
  via: [elicitation]
"""


async def test_replay_compares_approvals_and_never_guesses_what_the_record_left_out(binary, aws, tmp_path):
    seed(aws)
    async with gateway(binary, aws, tmp_path, APPROVING) as c:
        log = c.audit_path
        await call(c, "s3_put_object", bucket="allowed-bucket", key="a.txt", body="secret body")
        await call(c, "dynamodb_get_item", table="allowed-table", key={"pk": "bob@example.com"})
        await call(c, "dynamodb_get_item", table="denied-table", key={"pk": "eve@example.com"})
    text = log.read_text()
    # The partition key is an argument no statement tested: the record names the key only.
    assert "bob@example.com" not in text and "secret body" not in text
    get = [r for r in decisions(log) if r["action"] == "dynamodb:GetItem"][0]
    assert {"key": "dynamodb:leadingkeys", "recorded": False} in get["context"], get["context"]

    # Without the approval, the upload would run unasked: a widening.
    unasked = write_policy(tmp_path, APPROVING.replace("    approval: required\n", ""), "unasked.yaml")
    result = replay(binary, log, unasked)
    assert result.returncode == 1 and result.stdout.startswith("approval → allow (1):"), result

    # A candidate that tests the partition key cannot be judged exactly: undetermined, and
    # for the call that was denied, possibly a widening.
    keyed = write_policy(tmp_path, APPROVING.replace(
        '    resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/allowed-table"]',
        '    resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/*"]\n'
        '    conditions:\n      ForAllValues:StringEquals:\n        dynamodb:LeadingKeys: ["eve@example.com"]'),
        "keyed.yaml")
    result = replay(binary, log, keyed, "--json")
    changed = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((c["from"], c["to"]) for c in changed) == [("allow", "undetermined"), ("deny", "undetermined")]
    assert result.returncode == 1 and "2 undetermined" in result.stderr, result


def test_the_role_allows_the_look_ups_its_shadow_needs(binary, tmp_path):
    """The shadow judges with the same role session: its tag look-ups must be allowed too."""
    policy = write_policy(tmp_path, ROLE.replace("statements:", "shadow: candidate.yaml\nstatements:", 1))
    (tmp_path / "candidate.yaml").write_text("""
version: 1
statements:
  - sid: Tagged
    effect: allow
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::homes/*"]
    conditions:
      StringEquals:
        s3:ExistingObjectTag/class: public
""")
    as_json = subprocess.run([str(binary), "iam-policy", "--policy", str(policy)], capture_output=True, text=True)
    statements = json.loads(as_json.stdout)["Statement"]
    lookups = [s for s in statements if s.get("Sid") == "AwsgateLookupS3GetObjectTagging"]
    assert lookups and lookups[0]["Action"] == "s3:GetObjectTagging", statements
    # Only the look-ups: the shadow's own permissions are not granted.
    assert [s["Sid"] for s in statements] == ["Homes", "Listing", "AwsgateLookupS3GetObjectTagging"], statements
