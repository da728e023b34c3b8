//! The compiled gate against the reference in `common/`, written from AWS's documented
//! rules: random policies (allow and deny, `not_actions`, `not_resources`, approvals,
//! wildcards in every ARN segment but the service) and random requests (one or two
//! resources, requests on no resource, several regions, partitions and accounts).
//!
//! CI runs a fast sample; `make differential` runs a long one
//! (`AWSGATE_DIFF_CASES=N`, default 1,000 here).

mod common;

use awsgate::catalog;
use awsgate::policy::{self, Request};
use common::{Statement, Verdict};
use proptest::prelude::*;
use serde_json::json;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "sqs:SendMessage",
    "sqs:ListQueues",
    "dynamodb:GetItem",
    "dynamodb:ListTables",
    "iam:ListRoles",
    "sts:GetCallerIdentity",
];

const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "s3:*",
    "s3:List*",
    "S3:get?bject",
    "sqs:*",
    "sqs:ListQueues",
    "sqs:?endMessage",
    "dynamodb:*",
    "dynamodb:List*",
    "iam:List*",
    "sts:GetCallerIdentity",
    "*",
];

const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/k:x",
    "arn:aws:s3:::c/k",
    "arn:aws:sqs:us-east-1:111111111111:q1",
    "arn:aws:sqs:eu-west-1:222222222222:q1",
    "arn:aws:dynamodb:us-east-1:111111111111:table/t",
    "arn:aws:iam::111111111111:role/r",
    "arn:aws-cn:s3:::b",
];

fn segment(choices: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(choices)
}

/// `*`, or an ARN pattern with a literal service and wildcards anywhere else.
fn resource_pattern() -> impl Strategy<Value = String> {
    let arn = (
        segment(&["aws", "aws", "aws-cn", "*", "aws*"]),
        segment(&["s3", "sqs", "dynamodb", "iam", "sts"]),
        segment(&["", "", "us-east-1", "eu-west-1", "cn-north-1", "*", "us-*", "??-east-1"]),
        segment(&["", "", "111111111111", "222222222222", "*", "1*"]),
        segment(&[
            "*", "b", "b*", "b/*", "b/k", "*/k", "?", "q1", "q?", "table/*", "table/t", "role/*", "b/k:*", "*:x",
        ]),
    )
        .prop_map(|(partition, service, region, account, rest)| {
            format!("arn:{partition}:{service}:{region}:{account}:{rest}")
        });
    prop_oneof![1 => Just("*".to_string()), 6 => arn]
}

fn statement(index: usize) -> impl Strategy<Value = Statement> {
    (
        any::<bool>(),
        prop::collection::vec(segment(ACTION_PATTERNS), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(resource_pattern(), 1..3),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    )
        .prop_map(move |(allow, actions, not_actions, resources, not_resources, approval)| Statement {
            sid: format!("S{index}"),
            allow: allow || index == 0,
            actions: actions.into_iter().map(str::to_string).collect(),
            not_actions,
            resources,
            not_resources,
            approval,
        })
}

fn statements() -> impl Strategy<Value = Vec<Statement>> {
    (1usize..6).prop_flat_map(|n| (0..n).map(statement).collect::<Vec<_>>())
}

fn policy_json(statements: &[Statement]) -> String {
    let items: Vec<serde_json::Value> = statements
        .iter()
        .map(|s| {
            let mut item = serde_json::Map::new();
            item.insert("sid".into(), json!(s.sid));
            item.insert("effect".into(), json!(if s.allow { "allow" } else { "deny" }));
            item.insert((if s.not_actions { "not_actions" } else { "actions" }).into(), json!(s.actions));
            item.insert((if s.not_resources { "not_resources" } else { "resources" }).into(), json!(s.resources));
            if s.approval && s.allow {
                item.insert("approval".into(), json!("required"));
            }
            serde_json::Value::Object(item)
        })
        .collect();
    json!({ "version": 1, "statements": items }).to_string()
}

fn vocabulary() -> &'static policy::Vocabulary {
    static VOCABULARY: std::sync::OnceLock<policy::Vocabulary> = std::sync::OnceLock::new();
    VOCABULARY.get_or_init(catalog::vocabulary)
}

/// The gate's verdict on one request.
fn gate(statements: &[Statement], action: &str, resources: &[&str], region: &str, account: &str) -> Verdict {
    let loaded = policy::parse(&policy_json(statements), "differential", vocabulary())
        .unwrap_or_else(|d| panic!("generated policy does not load: {d:?}\n{}", policy_json(statements)));
    let request = Request { action, resources, region, account, context: &awsgate::policy::EMPTY_CONTEXT };
    let decision = loaded.policy.decide(&request);
    Verdict {
        allowed: decision.allowed,
        statement: decision.statement.map(str::to_string),
        approval: decision.approval_required,
    }
}

/// Approvals only count on allow statements; the reference reads them as the gate does.
fn normalized(statements: &[Statement]) -> Vec<Statement> {
    statements.iter().cloned().map(|s| Statement { approval: s.approval && s.allow, ..s }).collect()
}

fn cases() -> u32 {
    std::env::var("AWSGATE_DIFF_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gate_agrees_with_the_documented_rules(
        statements in statements(),
        action in segment(ACTIONS),
        resources in prop::collection::vec(segment(RESOURCES), 1..3),
        region in segment(&["us-east-1", "eu-west-1", "cn-north-1"]),
        account in segment(&["111111111111", "222222222222", ""]),
    ) {
        let statements = normalized(&statements);
        let expected = common::decide(&statements, action, &resources, region, account);
        let got = gate(&statements, action, &resources, region, account);
        prop_assert_eq!(got, expected, "{} {} {:?} in {} / {:?}", policy_json(&statements), action, resources, region, account);
    }

    /// `not_resources: [P]` allows exactly what `resources: [P]` does not, requests on no
    /// resource included.
    #[test]
    fn not_resource_is_the_complement_of_resource(
        pattern in resource_pattern(),
        action in segment(ACTIONS),
        resource in segment(RESOURCES),
        region in segment(&["us-east-1", "eu-west-1", "cn-north-1"]),
        account in segment(&["111111111111", ""]),
    ) {
        let with = |not_resources| vec![Statement {
            sid: "S".into(),
            allow: true,
            actions: vec!["*".into()],
            not_actions: false,
            resources: vec![pattern.clone()],
            not_resources,
            approval: false,
        }];
        let resources = [resource];
        let inside = gate(&with(false), action, &resources, region, account).allowed;
        let outside = gate(&with(true), action, &resources, region, account).allowed;
        prop_assert_ne!(inside, outside, "{} {} on {} in {}", pattern, action, resource, region);
    }
}
