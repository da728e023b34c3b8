"""The services beyond the first four (SNS, Lambda, CloudWatch Logs, CloudWatch, SSM
Parameter Store), through the Python MCP SDK against moto: each tool on an allowed
resource with its effect checked through boto3, and on a denied resource with nothing
changed in AWS. The tricky ARNs: an SSM parameter with slashes, a qualified Lambda."""

from __future__ import annotations

import io
import json
import time
import urllib.request
import zipfile

import boto3
import pytest

from conftest import ACCOUNT, REGION
from test_tools import call, gateway

pytestmark = pytest.mark.anyio

A = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"

POLICY = f"""
version: 1
region: {REGION}
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: Listing
    effect: allow
    actions: [sns:ListTopics, lambda:ListFunctions, logs:DescribeLogGroups, cloudwatch:ListMetrics,
              cloudwatch:GetMetricData]
    resources: ["*"]
  - sid: AgentTopics
    effect: allow
    actions: ["sns:*"]
    resources: ["{A.format('sns')}:agent-*"]
  - sid: ReportFunction
    effect: allow
    actions: [lambda:GetFunction, lambda:InvokeFunction]
    resources: ["{A.format('lambda')}:function:report"]
  - sid: AgentLogs
    effect: allow
    actions: ["logs:*"]
    resources: ["{A.format('logs')}:log-group:/agents/*"]
  - sid: AgentMetrics
    effect: allow
    actions: [cloudwatch:PutMetricData]
    resources: ["*"]
    conditions:
      StringEquals: {{"cloudwatch:namespace": "Agents"}}
  - sid: ProdParameters
    effect: allow
    actions: [ssm:GetParameter, ssm:GetParametersByPath]
    resources: ["{A.format('ssm')}:parameter/prod/app/*", "{A.format('ssm')}:parameter/prod/app"]
"""


async def call_with(client, tool: str, arguments: dict):
    """`call` for tools that take an argument named `name`."""
    result = await client.call_tool(tool, arguments)
    return bool(result.is_error), result.structured_content


def denied(outcome) -> dict:
    is_error, content = outcome
    assert is_error and content["error"] == "AccessDenied", content
    return content


def ok(outcome) -> dict:
    is_error, content = outcome
    assert not is_error, content
    return content


async def test_sns(binary, aws, tmp_path):
    sns = boto3.client("sns", endpoint_url=aws.endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    other = sns.create_topic(Name="billing")["TopicArn"]
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        created = ok(await call_with(c, "sns_create_topic", {"name": "agent-alerts"}))
        arn = created["topic_arn"]
        assert arn == f"{A.format('sns')}:agent-alerts"
        denied(await call_with(c, "sns_create_topic", {"name": "payroll"}))
        listed = ok(await call(c, "sns_list_topics"))
        assert arn in listed["topic_arns"] and other in listed["topic_arns"]
        attributes = ok(await call(c, "sns_get_topic_attributes", topic_arn=arn))
        assert attributes["attributes"]["TopicArn"] == arn
        published = ok(await call(c, "sns_publish", topic_arn=arn, message="disk full", subject="alert"))
        assert published["message_id"]
        denied(await call(c, "sns_publish", topic_arn=other, message="no"))
        is_error, out = await call(c, "sns_publish", topic_arn=arn.replace(REGION, "eu-west-1"), message="x")
        assert is_error and out["error"] == "InvalidArgument" and "eu-west-1" in out["message"], out
    names = [t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]]
    assert sorted(names) == ["agent-alerts", "billing"]


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


async def test_lambda_with_qualified_arns(binary, aws, tmp_path):
    request = urllib.request.Request(f"{aws.endpoint}/moto-api/config", method="POST",
                                     data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    kwargs = dict(endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    iam = boto3.client("iam", **kwargs)
    role = iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", **kwargs)
    for name in ("report", "payroll"):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                            Code={"ZipFile": lambda_zip()}, Publish=True)
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        listed = ok(await call(c, "lambda_list_functions"))
        assert sorted(f["name"] for f in listed["functions"]) == ["payroll", "report"]
        described = ok(await call(c, "lambda_get_function", function_name="report"))
        assert described["function"]["name"] == "report"
        # By ARN and by partial ARN: the same function, the same decision.
        ok(await call(c, "lambda_get_function", function_name=f"{A.format('lambda')}:function:report"))
        ok(await call(c, "lambda_get_function", function_name=f"{ACCOUNT}:function:report"))
        denied(await call(c, "lambda_get_function", function_name="payroll"))
        # The policy names the unqualified function: a version is another resource to IAM.
        out = denied(await call(c, "lambda_get_function", function_name="report", qualifier="1"))
        assert out["resource"] == f"{A.format('lambda')}:function:report:1", out
        denied(await call(c, "lambda_invoke", function_name="report:1"))
        invoked = ok(await call(c, "lambda_invoke", function_name="report", payload={"order": 7}))
        assert invoked["status_code"] == 200, invoked
        denied(await call(c, "lambda_invoke", function_name="payroll", payload={}))
        is_error, out = await call(c, "lambda_invoke", function_name="report:1", qualifier="2")
        assert is_error and out["error"] == "InvalidArgument", out


async def test_logs(binary, aws, tmp_path):
    logs = boto3.client("logs", endpoint_url=aws.endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    logs.create_log_group(logGroupName="/billing/app")
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        ok(await call(c, "logs_create_log_group", log_group_name="/agents/orders"))
        denied(await call(c, "logs_create_log_group", log_group_name="/payroll"))
        ok(await call(c, "logs_create_log_stream", log_group_name="/agents/orders", log_stream_name="run-1"))
        now = int(time.time() * 1000)
        sent = ok(await call(c, "logs_put_log_events", log_group_name="/agents/orders", log_stream_name="run-1",
                             log_events=[{"timestamp": now, "message": "started"}, {"timestamp": now + 1, "message": "ERROR x"}]))
        assert sent["sent"] == 2
        denied(await call(c, "logs_put_log_events", log_group_name="/billing/app", log_stream_name="s",
                          log_events=[{"timestamp": now, "message": "no"}]))
        groups = ok(await call(c, "logs_describe_log_groups"))
        assert {g["name"] for g in groups["log_groups"]} == {"/agents/orders", "/billing/app"}
        streams = ok(await call(c, "logs_describe_log_streams", log_group_name="/agents/orders"))
        assert [s["name"] for s in streams["log_streams"]] == ["run-1"]
        events = ok(await call(c, "logs_get_log_events", log_group_name="/agents/orders", log_stream_name="run-1",
                               start_from_head=True))
        assert [e["message"] for e in events["events"]] == ["started", "ERROR x"]
        filtered = ok(await call(c, "logs_filter_log_events", log_group_name="/agents/orders", filter_pattern="ERROR"))
        assert [e["message"] for e in filtered["events"]] == ["ERROR x"]
        denied(await call(c, "logs_filter_log_events", log_group_name="/billing/app"))
        is_error, out = await call(c, "logs_put_log_events", log_group_name="/agents/orders", log_stream_name="run-1",
                                   log_events=[{"message": "no timestamp"}])
        assert is_error and out["error"] == "InvalidArgument" and "log_events[0]" in out["message"], out
    assert logs.describe_log_streams(logGroupName="/billing/app")["logStreams"] == []
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/payroll" not in names


async def test_cloudwatch_namespace_condition(binary, aws, tmp_path):
    cw = boto3.client("cloudwatch", endpoint_url=aws.endpoint, region_name=REGION,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        ok(await call(c, "cloudwatch_put_metric_data", namespace="Agents",
                      metric_data=[{"metric_name": "Orders", "value": 3, "unit": "Count", "dimensions": {"team": "a"}}]))
        out = denied(await call(c, "cloudwatch_put_metric_data", namespace="Billing",
                                metric_data=[{"metric_name": "Orders", "value": 1}]))
        assert "cloudwatch:namespace" in out["reason"], out
        listed = ok(await call(c, "cloudwatch_list_metrics", namespace="Agents"))
        assert [m["metric_name"] for m in listed["metrics"]] == ["Orders"]
        now = int(time.time())
        data = ok(await call(c, "cloudwatch_get_metric_data", start_time=now - 3600, end_time=now + 60,
                             metric_data_queries=[{"id": "q", "namespace": "Agents", "metric_name": "Orders",
                                                   "dimensions": {"team": "a"}, "stat": "Sum", "period": 60}]))
        assert sum(data["results"][0]["values"]) == 3, data
    assert cw.list_metrics(Namespace="Billing")["Metrics"] == []


async def test_ssm_parameters_with_slashes(binary, aws, tmp_path):
    ssm = boto3.client("ssm", endpoint_url=aws.endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ssm.put_parameter(Name="/prod/app/db_host", Value="db.internal", Type="String")
    ssm.put_parameter(Name="/prod/app/db_password", Value="s3cret", Type="SecureString")
    ssm.put_parameter(Name="/prod/payroll/key", Value="no", Type="String")
    async with gateway(binary, aws, tmp_path, POLICY) as c:
        host = ok(await call_with(c, "ssm_get_parameter", {"name": "/prod/app/db_host"}))
        assert host["parameter"]["value"] == "db.internal"
        secret = ok(await call_with(c, "ssm_get_parameter", {"name": "/prod/app/db_password"}))
        assert secret["parameter"]["value"] != "s3cret"
        secret = ok(await call_with(c, "ssm_get_parameter", {"name": "/prod/app/db_password", "with_decryption": True}))
        assert secret["parameter"]["value"] == "s3cret"
        out = denied(await call_with(c, "ssm_get_parameter", {"name": "/prod/payroll/key"}))
        assert out["resource"] == f"{A.format('ssm')}:parameter/prod/payroll/key", out
        by_path = ok(await call(c, "ssm_get_parameters_by_path", path="/prod/app"))
        assert sorted(p["name"] for p in by_path["parameters"]) == ["/prod/app/db_host", "/prod/app/db_password"]
        denied(await call(c, "ssm_get_parameters_by_path", path="/prod", recursive=True))
        is_error, out = await call_with(c, "ssm_get_parameter", {"name": "/prod/app/db_host:1"})
        assert is_error and out["error"] == "InvalidArgument", out
    records = (tmp_path / "audit.jsonl").read_text()
    assert "s3cret" not in records


def secrets_policy(key_arn: str) -> str:
    return f"""
version: 1
region: {REGION}
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: AppSecrets
    effect: allow
    actions: [secretsmanager:GetSecretValue, secretsmanager:DescribeSecret]
    resources: ["{A.format('secretsmanager')}:secret:prod/app/*"]
  - sid: NeverTheAdminSecret
    effect: deny
    actions: ["secretsmanager:*"]
    resources: ["{A.format('secretsmanager')}:secret:prod/app/admin-??????"]
  - sid: Listing
    effect: allow
    actions: [secretsmanager:ListSecrets, kms:ListAliases]
    resources: ["*"]
  - sid: AgentKey
    effect: allow
    actions: [kms:DescribeKey, kms:Encrypt, kms:Decrypt]
    resources: ["{key_arn}"]
"""


async def test_secrets_by_name_and_arn_are_judged_on_the_real_arn(binary, aws, tmp_path):
    from faultproxy import FaultProxy

    kwargs = dict(endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    sm = boto3.client("secretsmanager", **kwargs)
    db = sm.create_secret(Name="prod/app/db", SecretString="hunter2")["ARN"]
    sm.create_secret(Name="prod/billing/db", SecretString="no")
    assert db.rsplit("-", 1)[1].isalnum() and len(db.rsplit("-", 1)[1]) == 6
    proxy = FaultProxy(int(aws.endpoint.rsplit(":", 1)[1]))
    try:
        async with gateway(binary, proxy.endpoint, tmp_path, secrets_policy(f"{A.format('kms')}:key/none")) as c:
            by_name = ok(await call(c, "secretsmanager_get_secret_value", secret_id="prod/app/db"))
            assert by_name["secret_string"] == "hunter2" and by_name["arn"] == db
            ok(await call(c, "secretsmanager_get_secret_value", secret_id="prod/app/db"))
            # Resolved once, then cached.
            assert proxy.forwarded["DescribeSecret"] == 1, proxy.forwarded
            by_arn = ok(await call(c, "secretsmanager_get_secret_value", secret_id=db))
            assert by_arn["secret_string"] == "hunter2"
            described = ok(await call(c, "secretsmanager_describe_secret", secret_id="prod/app/db"))
            assert described["arn"] == db and "secret_string" not in described
            # A secret that does not exist yet refuses the call, and that answer is not cached:
            # once it exists, it is judged by its suffixed ARN, which the deny names.
            missing = await call(c, "secretsmanager_get_secret_value", secret_id="prod/app/admin")
            assert missing[0] and missing[1]["error"] == "ResourceNotFoundException", missing
            assert proxy.forwarded["GetSecretValue"] == 3, proxy.forwarded
            admin = sm.create_secret(Name="prod/app/admin", SecretString="root-pw")["ARN"]
            # The deny names the suffixed ARN; a name or a partial ARN cannot slip past it.
            out = denied(await call(c, "secretsmanager_get_secret_value", secret_id="prod/app/admin"))
            assert out["resource"] == admin and out["statement"] == "NeverTheAdminSecret", out
            denied(await call(c, "secretsmanager_get_secret_value",
                              secret_id=f"{A.format('secretsmanager')}:secret:prod/app/admin"))
            denied(await call(c, "secretsmanager_get_secret_value", secret_id="prod/billing/db"))
            listed = ok(await call(c, "secretsmanager_list_secrets"))
            assert {s["name"] for s in listed["secrets"]} == {"prod/app/db", "prod/app/admin", "prod/billing/db"}
    finally:
        proxy.close()
    records = (tmp_path / "audit.jsonl").read_text()
    assert "hunter2" not in records and "root-pw" not in records


async def test_kms_alias_is_judged_as_its_key(binary, aws, tmp_path):
    kwargs = dict(endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    kms = boto3.client("kms", **kwargs)
    agent_key = kms.create_key(Description="agent")["KeyMetadata"]
    other_key = kms.create_key(Description="other")["KeyMetadata"]
    kms.create_alias(AliasName="alias/agent", TargetKeyId=agent_key["KeyId"])
    kms.create_alias(AliasName="alias/other", TargetKeyId=other_key["KeyId"])
    async with gateway(binary, aws, tmp_path, secrets_policy(agent_key["Arn"])) as c:
        sealed = ok(await call(c, "kms_encrypt", key_id="alias/agent", plaintext="launch code",
                               encryption_context={"purpose": "test"}))
        opened = ok(await call(c, "kms_decrypt", key_id=agent_key["KeyId"], ciphertext_blob=sealed["ciphertext_blob"],
                               encryption_context={"purpose": "test"}))
        assert opened["plaintext"] == "launch code"
        described = ok(await call(c, "kms_describe_key", key_id=f"{A.format('kms')}:alias/agent"))
        assert described["key"]["arn"] == agent_key["Arn"]
        out = denied(await call(c, "kms_encrypt", key_id="alias/other", plaintext="x"))
        assert out["resource"] == other_key["Arn"], out
        denied(await call(c, "kms_describe_key", key_id=other_key["Arn"]))
        is_error, out = await call(c, "kms_decrypt", ciphertext_blob=sealed["ciphertext_blob"])
        assert is_error and out["error"] == "InvalidArgument" and "key_id" in out["message"], out
        aliases = ok(await call(c, "kms_list_aliases"))
        assert "alias/agent" in {a["name"] for a in aliases["aliases"]}
    records = (tmp_path / "audit.jsonl").read_text()
    assert "launch code" not in records


OPS_POLICY = f"""
version: 1
region: {REGION}
account: "{ACCOUNT}"
limits:
  calls_per_minute: 0
statements:
  - sid: Describe
    effect: allow
    actions: [ec2:DescribeInstances, ec2:DescribeVolumes, ec2:DescribeRegions, iam:ListRoles, rds:DescribeDBInstances]
    resources: ["*"]
  - sid: ServiceRoles
    effect: allow
    actions: [iam:GetRole]
    resources: ["arn:aws:iam::{ACCOUNT}:role/service/*"]
  - sid: Agents
    effect: allow
    actions: [iam:GetUser]
    resources: ["arn:aws:iam::{ACCOUNT}:user/agents/*"]
  - sid: TeamInstances
    effect: allow
    actions: [ec2:StartInstances, ec2:StopInstances, ec2:CreateTags]
    resources: ["arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"]
  - sid: NotTheDatabaseHost
    effect: deny
    actions: ["ec2:*"]
    resources: ["arn:aws:ec2:{REGION}:{ACCOUNT}:instance/${{DB_HOST}}"]
  - sid: Snapshots
    effect: allow
    actions: [ec2:CreateSnapshot]
    resources: ["arn:aws:ec2:{REGION}:{ACCOUNT}:volume/${{VOLUME}}", "arn:aws:ec2:{REGION}::snapshot/*"]
"""


async def test_iam_roles_and_users_with_paths(binary, aws, tmp_path):
    iam = boto3.client("iam", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    deployer = iam.create_role(RoleName="deployer", Path="/service/", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                  "Action": "sts:AssumeRole"}]}))["Role"]
    admin = iam.create_role(RoleName="admin", AssumeRolePolicyDocument="{}")["Role"]
    iam.create_user(UserName="bot", Path="/agents/")
    iam.create_user(UserName="alice")
    policy = OPS_POLICY.replace("${DB_HOST}", "i-00000000").replace("${VOLUME}", "vol-00000000")
    async with gateway(binary, aws, tmp_path, policy) as c:
        role = ok(await call(c, "iam_get_role", role_name="deployer"))["role"]
        assert role["arn"] == deployer["Arn"] and role["path"] == "/service/"
        assert role["assume_role_policy_document"]["Statement"][0]["Action"] == "sts:AssumeRole"
        out = denied(await call(c, "iam_get_role", role_name="admin"))
        assert out["resource"] == admin["Arn"], out
        assert ok(await call(c, "iam_get_user", user_name="bot"))["user"]["path"] == "/agents/"
        denied(await call(c, "iam_get_user", user_name="alice"))
        roles = ok(await call(c, "iam_list_roles", path_prefix="/service/"))
        assert [r["name"] for r in roles["roles"]] == ["deployer"]


async def test_ec2_and_rds(binary, aws, tmp_path):
    kwargs = dict(endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    ec2 = boto3.client("ec2", **kwargs)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    app, db = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]]
    volume = ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a")["VolumeId"]
    other_volume = ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a")["VolumeId"]
    rds = boto3.client("rds", **kwargs)
    rds.create_db_instance(DBInstanceIdentifier="orders-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)
    policy = OPS_POLICY.replace("${DB_HOST}", db).replace("${VOLUME}", volume)
    async with gateway(binary, aws, tmp_path, policy) as c:
        described = ok(await call(c, "ec2_describe_instances", instance_ids=[app, db]))
        assert {i["instance_id"] for i in described["instances"]} == {app, db}
        running = ok(await call(c, "ec2_describe_instances", filters={"instance-state-name": ["running"]}))
        assert len(running["instances"]) == 2
        regions = ok(await call(c, "ec2_describe_regions"))
        assert REGION in {r["name"] for r in regions["regions"]}
        stopped = ok(await call(c, "ec2_stop_instances", instance_ids=[app]))
        assert stopped["instances"][0]["instance_id"] == app
        # Every instance is judged: one denied one stops the whole call.
        out = denied(await call(c, "ec2_stop_instances", instance_ids=[app, db]))
        assert out["statement"] == "NotTheDatabaseHost" and db in out["resource"], out
        ok(await call(c, "ec2_start_instances", instance_ids=[app]))
        ok(await call(c, "ec2_create_tags", resources=[app], tags={"owner": "agent"}))
        out = denied(await call(c, "ec2_create_tags", resources=[app, volume], tags={"owner": "agent"}))
        assert out["resource"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{volume}", out
        snapshot = ok(await call(c, "ec2_create_snapshot", volume_id=volume, description="before the change"))
        assert snapshot["snapshot_id"].startswith("snap-")
        denied(await call(c, "ec2_create_snapshot", volume_id=other_volume))
        volumes = ok(await call(c, "ec2_describe_volumes", volume_ids=[volume]))
        assert volumes["volumes"][0]["volume_id"] == volume
        is_error, out = await call(c, "ec2_stop_instances", instance_ids=["web-1"])
        assert is_error and out["error"] == "InvalidArgument", out
        instances = ok(await call(c, "rds_describe_db_instances"))
        assert [d["identifier"] for d in instances["db_instances"]] == ["orders-db"]
        one = ok(await call(c, "rds_describe_db_instances", db_instance_identifier="orders-db"))
        assert one["db_instances"][0]["engine"] == "postgres"
    states = {i["InstanceId"]: i["State"]["Name"]
              for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert states[db] == "running"
    tags = {t["Key"]: t["Value"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [app]}])["Tags"]}
    assert tags == {"owner": "agent"}
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [volume]}])["Tags"] == []
    snapshot_volumes = [s["VolumeId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    assert volume in snapshot_volumes and other_volume not in snapshot_volumes
