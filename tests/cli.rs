//! The CLI as users run it: exit codes, the `simulate --json` contract, `tools`,
//! `iam-policy` and `actions`, and a decision on each starter policy.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn awsgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_awsgate"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env_remove("AWSGATE_POLICY")
        .output()
        .expect("run awsgate")
}

/// A policy file `name` holding `text`, in a folder of its own (`tag` tells the tests'
/// folders apart); the caller removes the folder.
fn policy_file(tag: &str, name: &str, text: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("awsgate-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    (dir, path.to_str().expect("path").to_string())
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn simulate(policy: &str, action: &str, resources: &[&str]) -> Value {
    let mut args = vec!["simulate", "--policy", policy, "--action", action, "--json"];
    for resource in resources {
        args.extend(["--resource", resource]);
    }
    let output = awsgate(&args);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    stdout_json(&output)
}

#[test]
fn simulate_json_has_exactly_the_specified_fields_in_order() {
    let out = simulate("policies/reports-team.yaml", "s3:GetObject", &["arn:aws:s3:::reports/private/pay.csv"]);
    let keys: Vec<&str> = out.as_object().expect("object").keys().map(String::as_str).collect();
    // The spec's five, then the condition that decided (null when none did).
    assert_eq!(keys, ["decision", "enforced", "statement", "reason", "approval", "condition"]);
    assert_eq!(out["condition"], Value::Null);
    assert_eq!(out["decision"], "deny");
    assert_eq!(out["enforced"], true);
    assert_eq!(out["statement"], "DenyPrivate");
    assert_eq!(out["approval"], "not_required");
    let reason = out["reason"].as_str().expect("reason");
    assert!(reason.contains("s3:GetObject") && reason.contains("arn:aws:s3:::reports/private/pay.csv"), "{reason}");
}

#[test]
fn simulate_exits_zero_whatever_the_decision_and_reads_the_policy_from_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_awsgate"))
        .args(["simulate", "--action", "s3:DeleteObject", "--resource", "arn:aws:s3:::reports/a", "--json"])
        .env("AWSGATE_POLICY", "policies/s3-read-only.yaml")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let out = stdout_json(&output);
    assert_eq!(out["decision"], "deny");
    assert_eq!(out["statement"], Value::Null);
}

#[test]
fn exit_codes_distinguish_failed_checks_from_usage_errors() {
    assert_eq!(awsgate(&["check", "tests/golden/check/bad-arns.yaml"]).status.code(), Some(1));
    assert_eq!(awsgate(&["check", "policies/s3-read-only.yaml"]).status.code(), Some(0));
    assert_eq!(awsgate(&["check", "does/not/exist.yaml"]).status.code(), Some(1));
    assert_eq!(awsgate(&["check"]).status.code(), Some(2));
    assert_eq!(awsgate(&["simulate", "--policy", "policies/s3-read-only.yaml"]).status.code(), Some(2));
    assert_eq!(awsgate(&["frobnicate"]).status.code(), Some(2));
    // A misspelt action is invalid input, with a suggestion; not a silent implicit deny.
    let typo = awsgate(&[
        "simulate",
        "--policy",
        "policies/s3-read-only.yaml",
        "--action",
        "s3:GetObjcet",
        "--resource",
        "arn:aws:s3:::reports/a",
    ]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("did you mean `s3:GetObject`?"));
    let not_arn = awsgate(&[
        "simulate",
        "--policy",
        "policies/s3-read-only.yaml",
        "--action",
        "s3:GetObject",
        "--resource",
        "reports/a",
    ]);
    assert_eq!(not_arn.status.code(), Some(1));
}

#[test]
fn commands_refuse_an_invalid_policy_with_located_errors() {
    let output = awsgate(&["tools", "--policy", "tests/golden/check/bad-actions.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tests/golden/check/bad-actions.yaml:6:9: error: unknown action"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn s3_read_only_reads_one_bucket_only() {
    let p = "policies/s3-read-only.yaml";
    assert_eq!(simulate(p, "s3:GetObject", &["arn:aws:s3:::reports/2026/q3.csv"])["decision"], "allow");
    assert_eq!(simulate(p, "s3:ListBucket", &["arn:aws:s3:::reports"])["decision"], "allow");
    assert_eq!(simulate(p, "s3:GetObject", &["arn:aws:s3:::finance/q3.csv"])["decision"], "deny");
    assert_eq!(simulate(p, "s3:PutObject", &["arn:aws:s3:::reports/new.csv"])["decision"], "deny");
    assert_eq!(
        simulate(p, "dynamodb:GetItem", &["arn:aws:dynamodb:us-east-1:123456789012:table/t"])["reason"]
            .as_str()
            .map(|r| r.contains("not enabled")),
        Some(true)
    );
}

#[test]
fn dynamodb_read_only_reads_one_table() {
    let p = "policies/dynamodb-read-only.yaml";
    let orders = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";
    for action in ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"] {
        assert_eq!(simulate(p, action, &[orders])["decision"], "allow", "{action}");
    }
    assert_eq!(simulate(p, "dynamodb:ListTables", &["*"])["decision"], "allow");
    assert_eq!(simulate(p, "dynamodb:PutItem", &[orders])["decision"], "deny");
    assert_eq!(
        simulate(p, "dynamodb:GetItem", &["arn:aws:dynamodb:us-east-1:123456789012:table/users"])["decision"],
        "deny"
    );
}

#[test]
fn sqs_worker_consumes_one_queue_and_publishes_to_another() {
    let p = "policies/sqs-worker.yaml";
    let jobs = "arn:aws:sqs:us-east-1:123456789012:jobs";
    let results = "arn:aws:sqs:us-east-1:123456789012:results";
    assert_eq!(simulate(p, "sqs:ReceiveMessage", &[jobs])["decision"], "allow");
    assert_eq!(simulate(p, "sqs:DeleteMessage", &[jobs])["decision"], "allow");
    assert_eq!(simulate(p, "sqs:SendMessage", &[results])["decision"], "allow");
    assert_eq!(simulate(p, "sqs:SendMessage", &[jobs])["decision"], "deny");
    assert_eq!(simulate(p, "sqs:ReceiveMessage", &[results])["decision"], "deny");
    let purge = simulate(p, "sqs:PurgeQueue", &[jobs]);
    assert_eq!((purge["decision"].as_str(), purge["statement"].as_str()), (Some("deny"), Some("NeverPurge")));
}

#[test]
fn reports_team_denies_private_and_asks_approval_for_uploads() {
    let p = "policies/reports-team.yaml";
    assert_eq!(simulate(p, "s3:GetObject", &["arn:aws:s3:::reports/q3.csv"])["decision"], "allow");
    assert_eq!(simulate(p, "s3:GetObject", &["arn:aws:s3:::reports/private/pay.csv"])["statement"], "DenyPrivate");
    let upload = simulate(p, "s3:PutObject", &["arn:aws:s3:::reports/uploads/q4.csv"]);
    assert_eq!((upload["decision"].as_str(), upload["approval"].as_str()), (Some("allow"), Some("required")));
    assert_eq!(simulate(p, "s3:PutObject", &["arn:aws:s3:::reports/private/uploads/x"])["decision"], "deny");
    assert_eq!(simulate(p, "sts:GetCallerIdentity", &["*"])["decision"], "allow");
    // The commented-out audit line is there for users to flip.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).expect("read");
    assert!(text.contains("# mode: audit"));
}

#[test]
fn iam_minimal_runs_with_real_tools_and_keeps_other_services() {
    let p = "policies/iam-minimal.json";
    let check = awsgate(&["check", p]);
    assert_eq!(check.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("no tools for service `redshift`"), "{stdout}");
    assert!(!stdout.contains("`rds`") && !stdout.contains("`ec2`"), "{stdout}");
    let tools = stdout_json(&awsgate(&["tools", "--policy", p, "--json"]));
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for tool in [
        "rds_describe_db_instances",
        "ec2_describe_instances",
        "cloudwatch_get_metric_data",
        "sns_publish",
        "logs_put_log_events",
        "kms_decrypt",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    assert_eq!(simulate(p, "rds:DescribeDBInstances", &["*"])["decision"], "allow");
    assert_eq!(simulate(p, "redshift:DescribeClusters", &["*"])["decision"], "allow");
    assert_eq!(
        simulate(p, "sqs:SendMessage", &["arn:aws:sqs:eu-west-1:123456789012:vendor-jobs"])["decision"],
        "allow"
    );
    assert_eq!(
        simulate(p, "dynamodb:DeleteItem", &["arn:aws:dynamodb:us-east-1:123456789012:table/vendor-state"])["decision"],
        "deny"
    );
}

#[test]
fn tools_lists_what_the_policy_can_allow_with_truthful_annotations() {
    let output = awsgate(&["tools", "--policy", "policies/sqs-worker.yaml", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let tools = stdout_json(&output);
    let names: Vec<&str> = tools.as_array().expect("list").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "sqs_get_queue_url",
            "sqs_get_queue_attributes",
            "sqs_send_message",
            "sqs_receive_message",
            "sqs_delete_message",
            "sqs_change_message_visibility"
        ]
    );
    let delete =
        tools.as_array().expect("list").iter().find(|t| t["name"] == "sqs_delete_message").expect("delete tool");
    assert_eq!(delete["annotations"]["destructiveHint"], true);
    assert_eq!(delete["annotations"]["readOnlyHint"], false);
    assert_eq!(delete["resources"][0], "arn:aws:sqs:us-east-1:123456789012:jobs");
    assert!(delete["description"].as_str().expect("description").contains("arn:aws:sqs:us-east-1:123456789012:jobs"));
    // PurgeQueue is denied everywhere, so it is not listed; an approval summary is given.
    let reports = stdout_json(&awsgate(&["tools", "--policy", "policies/reports-team.yaml", "--json"]));
    let put = reports.as_array().expect("list").iter().find(|t| t["name"] == "s3_put_object").expect("put tool");
    assert_eq!(put["approval"], "required");
}

#[test]
fn audit_mode_lists_every_tool_of_the_enabled_services() {
    let dir = std::env::temp_dir().join(format!("awsgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("audit.yaml");
    std::fs::write(&file, "version: 1\nmode: audit\nservices: [sqs]\nstatements:\n  - effect: allow\n    actions: [sqs:SendMessage]\n    resources: [\"*\"]\n").expect("write");
    let tools = stdout_json(&awsgate(&["tools", "--policy", file.to_str().expect("path"), "--json"]));
    assert_eq!(tools.as_array().map(Vec::len), Some(8), "{tools}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn iam_policy_is_least_privilege_and_keeps_denies() {
    let output = awsgate(&["iam-policy", "--policy", "policies/reports-team.yaml"]);
    assert_eq!(output.status.code(), Some(0));
    let document = stdout_json(&output);
    assert_eq!(document["Version"], "2012-10-17");
    let statements = document["Statement"].as_array().expect("statements");
    let list = statements.iter().find(|s| s["Sid"] == "ListReports").expect("ListReports");
    // `s3:List*` is expanded to the list actions awsgate can call on a bucket, no more:
    // `s3:ListAllMyBuckets` is on no bucket, so it does not land on `reports`.
    assert_eq!(list["Action"], serde_json::json!(["s3:GetBucketLocation", "s3:ListBucket"]));
    let read = statements.iter().find(|s| s["Sid"] == "ReadReports").expect("ReadReports");
    assert_eq!(read["Action"], serde_json::json!(["s3:GetObject"]));
    let deny = statements.iter().find(|s| s["Sid"] == "DenyPrivate").expect("DenyPrivate");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Action"], serde_json::json!(["s3:*"]));
    for statement in statements {
        let sid = statement["Sid"].as_str().expect("sid");
        assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
    }
}

#[test]
fn actions_lists_the_catalog() {
    let catalog = stdout_json(&awsgate(&["actions", "--json"]));
    let items = catalog.as_array().expect("list");
    assert!(items.len() >= 24);
    let head = items.iter().find(|a| a["tool"] == "s3_head_object").expect("head object");
    assert_eq!(head["action"], "s3:GetObject");
    for item in items {
        let tool = item["tool"].as_str().expect("tool");
        assert!(tool.len() <= 64 && tool.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
}

#[test]
fn json_policies_are_rfc_8259_json() {
    // Python's json.dumps writes a non-BMP character as a surrogate pair.
    let dir = std::env::temp_dir().join(format!("awsgate-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("emoji.json");
    std::fs::write(
        &file,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/\ud83d\ude00*"}]}"#,
    )
    .expect("write");
    let path = file.to_str().expect("path");
    assert_eq!(simulate(path, "s3:GetObject", &["arn:aws:s3:::b/\u{1F600}x"])["decision"], "allow");
    assert_eq!(simulate(path, "s3:GetObject", &["arn:aws:s3:::b/x"])["decision"], "deny");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn simulate_judges_requests_on_no_resource_in_the_given_region_and_account() {
    let dir = std::env::temp_dir().join(format!("awsgate-scope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("queues.yaml");
    std::fs::write(
        &file,
        "version: 1\nregion: us-east-1\naccount: \"123456789012\"\nstatements:\n  - sid: EuQueues\n    effect: allow\n    actions: [sqs:ListQueues]\n    resources: [\"arn:aws:sqs:eu-west-1:999999999999:*\"]\n",
    )
    .expect("write");
    let path = file.to_str().expect("path");
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "--policy", path, "--action", "sqs:ListQueues", "--resource", "*", "--json"];
        args.extend_from_slice(extra);
        stdout_json(&awsgate(&args))
    };
    let here = run(&[]);
    assert_eq!(here["decision"], "deny");
    assert!(here["reason"].as_str().unwrap_or("").contains("arn:aws:sqs:us-east-1:123456789012:*"), "{here}");
    assert_eq!(run(&["--region", "eu-west-1", "--account", "999999999999"])["decision"], "allow");
    assert_eq!(
        awsgate(&["simulate", "--policy", path, "--action", "sqs:ListQueues", "--resource", "*", "--region", "mars"])
            .status
            .code(),
        Some(1)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn iam_policy_mentions_the_session_policy_only_with_a_role() {
    let output = awsgate(&["iam-policy", "--policy", "policies/reports-team.yaml"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("session policy"), "{stderr}");
    assert!(stderr.contains("# Attach the policy above to the role."), "{stderr}");
}

#[test]
fn simulate_context_names_the_condition_that_decided() {
    let run = |pairs: &[&str]| {
        let mut args = vec![
            "simulate",
            "--policy",
            "policies/s3-home-folders.yaml",
            "--action",
            "s3:ListBucket",
            "--resource",
            "arn:aws:s3:::team-data",
            "--json",
        ];
        for pair in pairs {
            args.extend(["--context", pair]);
        }
        let output = awsgate(&args);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        stdout_json(&output)
    };
    let allowed = run(&["s3:prefix=home/alice/reports/"]);
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["statement"], "ListOwnFolder");
    assert_eq!(allowed["condition"], r#"StringLike {"s3:prefix": ["home/alice/*"]}"#);
    let denied = run(&["s3:prefix=home/bob/"]);
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["statement"], Value::Null);
    assert!(denied["reason"].as_str().unwrap().contains("the request's `s3:prefix` is `home/bob/`"), "{denied}");
    // Keys are case-insensitive; a repeated key is multi-valued.
    let top = run(&["S3:Prefix=", "s3:delimiter=/"]);
    assert_eq!(top["decision"], "allow", "{top}");
    let bad = awsgate(&[
        "simulate",
        "--policy",
        "policies/s3-home-folders.yaml",
        "--action",
        "s3:ListBucket",
        "--resource",
        "arn:aws:s3:::team-data",
        "--context",
        "prefix",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("write KEY=VALUE"));
}

#[test]
fn iam_policy_carries_conditions_and_the_look_ups_they_need() {
    let (dir, path) = policy_file(
        "conditions",
        "policy.yaml",
        r#"version: 1
statements:
  - sid: Tagged
    effect: allow
    actions: [dynamodb:GetItem]
    resources: ["arn:aws:dynamodb:*:*:table/*"]
    conditions:
      StringEquals: {"aws:ResourceTag/agent": "allowed"}
      IpAddress: {"aws:SourceIp": "10.0.0.0/8"}
  - sid: OfficeOnly
    effect: deny
    actions: ["s3:*"]
    resources: ["*"]
    conditions:
      NotIpAddress: {"aws:SourceIp": "10.0.0.0/8"}
  - sid: HomeFolder
    effect: allow
    actions: [s3:ListBucket]
    resources: ["arn:aws:s3:::b"]
    conditions:
      StringLike: {"s3:prefix": ["home/a/*", "home/a/"]}
"#,
    );
    let output = awsgate(&["iam-policy", "--policy", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let policy = stdout_json(&output);
    let statements = policy["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).cloned();
    // AWS judges the tag as awsgate does; the agent's address is the gate's alone.
    let tagged = by_sid("Tagged").expect("Tagged");
    assert_eq!(tagged["Condition"], serde_json::json!({"StringEquals": {"aws:ResourceTag/agent": "allowed"}}));
    // A deny that AWS would judge on awsgate's own address is left to the gate.
    assert!(by_sid("OfficeOnly").is_none(), "{policy}");
    let home = by_sid("HomeFolder").expect("HomeFolder");
    assert_eq!(home["Condition"]["StringLike"]["s3:prefix"], serde_json::json!(["home/a/*", "home/a/"]));
    let lookups = by_sid("AwsgateLookupDynamodbListTagsOfResource").expect("look-ups");
    assert_eq!(lookups["Action"], serde_json::json!("dynamodb:ListTagsOfResource"));
    assert_eq!(lookups["Resource"], serde_json::json!(["arn:aws:dynamodb:*:*:table/*"]));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn each_look_up_is_allowed_only_on_its_own_services_resources() {
    let (dir, path) = policy_file(
        "lookups",
        "policy.yaml",
        r#"version: 1
statements:
  - sid: ReadTagged
    effect: allow
    actions: [s3:GetObject]
    resources: ["arn:aws:s3:::reports/*"]
    conditions:
      StringEquals: {"s3:ExistingObjectTag/class": "public"}
  - sid: Queues
    effect: allow
    actions: ["sqs:SendMessage"]
    resources: ["*"]
    conditions:
      StringEquals: {"aws:ResourceTag/team": "x"}
"#,
    );
    let output = awsgate(&["iam-policy", "--policy", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let policy = stdout_json(&output);
    let lookups: Vec<_> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"].as_str().unwrap().starts_with("AwsgateLookup"))
        .map(|s| (s["Action"].clone(), s["Resource"].clone()))
        .collect();
    // The queues' `*` never lets the role read every object's tags.
    assert_eq!(
        lookups,
        [
            (serde_json::json!("s3:GetObjectTagging"), serde_json::json!(["arn:aws:s3:::reports/*"])),
            (serde_json::json!("sqs:ListQueueTags"), serde_json::json!(["*"])),
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_2008_documents_literal_dollar_brace_stays_literal_in_the_iam_policy() {
    let (dir, path) = policy_file(
        "2008",
        "old.json",
        r#"{"Version": "2008-10-17", "Statement": [{"Sid": "Home", "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::homes/${aws:username}/*"}]}"#,
    );
    let output = awsgate(&["iam-policy", "--policy", &path]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let policy = stdout_json(&output);
    // The output is a "2012-10-17" document, where `${aws:username}` would be a variable:
    // the gate matched the text, so AWS is told to as well.
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"][0]["Resource"], serde_json::json!(["arn:aws:s3:::homes/${$}{aws:username}/*"]));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn business_hours_allows_writes_only_inside_the_window() {
    let write = |moment: &str| {
        let output = awsgate(&[
            "simulate",
            "--policy",
            "policies/business-hours.yaml",
            "--action",
            "s3:PutObject",
            "--resource",
            "arn:aws:s3:::reports/out.csv",
            "--context",
            &format!("aws:CurrentTime={moment}"),
            "--json",
        ]);
        stdout_json(&output)["decision"].as_str().unwrap().to_string()
    };
    assert_eq!(write("2026-12-01T09:00:00Z"), "allow");
    assert_eq!(write("2026-12-01T16:59:59Z"), "allow");
    assert_eq!(write("2026-12-01T17:00:00Z"), "deny");
    assert_eq!(write("1796115599"), "deny"); // 08:59:59 that day, in epoch seconds
    // Reads do not depend on the time.
    assert_eq!(
        simulate("policies/business-hours.yaml", "s3:GetObject", &["arn:aws:s3:::reports/a"])["decision"],
        "allow"
    );
}

#[test]
fn the_service_starter_policies_decide_as_their_comments_say() {
    let decide = |policy: &str, action: &str, resource: &str| {
        let out = simulate(policy, action, &[resource]);
        (out["decision"].as_str().unwrap().to_string(), out["approval"].as_str().unwrap().to_string())
    };
    let allow = |approval: &str| ("allow".to_string(), approval.to_string());
    let deny = ("deny".to_string(), "not_required".to_string());

    let p = "policies/ec2-operator.yaml";
    assert_eq!(decide(p, "ec2:DescribeInstances", "*"), allow("not_required"));
    let instance = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";
    assert_eq!(decide(p, "ec2:StopInstances", instance), allow("required"));
    assert_eq!(decide(p, "ec2:StartInstances", instance), allow("required"));
    assert_eq!(decide(p, "ec2:CreateTags", instance), deny);

    let p = "policies/secrets-reader.yaml";
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-AbCdEf";
    assert_eq!(decide(p, "secretsmanager:GetSecretValue", secret), allow("required"));
    let other = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/billing/db-AbCdEf";
    assert_eq!(decide(p, "secretsmanager:GetSecretValue", other), deny);
    assert_eq!(decide(p, "secretsmanager:DescribeSecret", other), allow("not_required"));

    let p = "policies/lambda-invoker.yaml";
    let function = "arn:aws:lambda:us-east-1:123456789012:function:report-daily";
    assert_eq!(decide(p, "lambda:InvokeFunction", function), allow("not_required"));
    assert_eq!(decide(p, "lambda:InvokeFunction", &format!("{function}:prod")), allow("not_required"));
    assert_eq!(decide(p, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:payroll"), deny);

    let p = "policies/logs-reader.yaml";
    let group = "arn:aws:logs:us-east-1:123456789012:log-group:/app/orders";
    assert_eq!(decide(p, "logs:FilterLogEvents", group), allow("not_required"));
    assert_eq!(decide(p, "logs:GetLogEvents", &format!("{group}:log-stream:run-1")), allow("not_required"));
    assert_eq!(decide(p, "logs:PutLogEvents", &format!("{group}:log-stream:run-1")), deny);
    assert_eq!(decide(p, "logs:FilterLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x"), deny);
}
