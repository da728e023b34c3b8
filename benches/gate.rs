//! The gate's speed: one decision against policies of 10 to 10,000 statements, and
//! loading (parse, validate, compile) the same policies; and the audit hash chain's cost
//! per record.
//!
//! `cargo bench --bench gate`

use std::hint::black_box;

use awsgate::catalog;
use awsgate::policy::{self, Policy, Request};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A policy shaped like real ones: per team a bucket with read and write prefixes, a
/// deny on a private prefix every tenth statement, and queue and table statements with
/// wildcards mixed in.
fn policy_text(statements: usize) -> String {
    let mut text = String::from("version: 1\nname: bench\nstatements:\n");
    for i in 0..statements {
        let entry = match i % 10 {
            0 => format!(
                "  - sid: Deny{i}\n    effect: deny\n    actions: [\"s3:*\"]\n    resources: [\"arn:aws:s3:::team-{i}/private/*\"]\n"
            ),
            1..=4 => format!(
                "  - sid: Read{i}\n    effect: allow\n    actions: [s3:GetObject, s3:ListBucket]\n    resources: [\"arn:aws:s3:::team-{i}\", \"arn:aws:s3:::team-{i}/*\"]\n"
            ),
            5 => format!(
                "  - sid: Write{i}\n    effect: allow\n    actions: [\"s3:Put*\"]\n    resources: [\"arn:aws:s3:::team-{i}/uploads/*\"]\n    approval: required\n"
            ),
            6 | 7 => format!(
                "  - sid: Queue{i}\n    effect: allow\n    actions: [\"sqs:*Message\"]\n    resources: [\"arn:aws:sqs:*:123456789012:queue-{i}\"]\n"
            ),
            _ => format!(
                "  - sid: Table{i}\n    effect: allow\n    actions: [\"dynamodb:Get*\", dynamodb:Query]\n    resources: [\"arn:aws:dynamodb:us-east-1:123456789012:table/table-{i}*\"]\n"
            ),
        };
        text.push_str(&entry);
    }
    text
}

fn load(text: &str) -> Policy {
    match policy::parse(text, "bench", &catalog::vocabulary()) {
        Ok(loaded) => loaded.policy,
        Err(diagnostics) => panic!("bench policy does not load: {diagnostics:?}"),
    }
}

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for size in SIZES {
        let policy = load(&policy_text(size));
        // A team in the middle of the policy, so nothing is found by luck at the front.
        let team = (size / 2 / 10) * 10 + 1;
        let allowed = format!("arn:aws:s3:::team-{team}/reports/2026/q3.csv");
        let denied = format!("arn:aws:s3:::team-{}/private/pay.csv", team - 1);
        let unknown = "arn:aws:s3:::nobody/x".to_string();
        let cases = [
            ("allow", "s3:GetObject", allowed),
            ("explicit_deny", "s3:GetObject", denied),
            ("implicit_deny", "s3:GetObject", unknown),
        ];
        for (name, action, resource) in cases {
            let resources = [resource.as_str()];
            let request = Request {
                action,
                resources: &resources,
                region: "us-east-1",
                account: "123456789012",
                context: &awsgate::policy::EMPTY_CONTEXT,
            };
            let expected = policy.decide(&request).allowed;
            assert_eq!(expected, name == "allow", "{name} at {size}");
            group.bench_with_input(BenchmarkId::new(name, size), &request, |b, request| {
                b.iter(|| black_box(policy.decide(black_box(request))).allowed)
            });
        }
    }
    group.finish();
}

/// The same shape of policy with a condition block on every statement, as tenant- and
/// prefix-scoped policies have them.
fn conditional_policy_text(statements: usize) -> String {
    let mut text = String::from("version: 1\nname: bench\nstatements:\n");
    for i in 0..statements {
        let entry = match i % 10 {
            0 => format!(
                "  - sid: Deny{i}\n    effect: deny\n    actions: [\"s3:*\"]\n    resources: [\"arn:aws:s3:::team-{i}/*\"]\n    conditions:\n      NotIpAddress: {{\"aws:SourceIp\": [\"10.0.0.0/8\", \"2001:db8::/32\"]}}\n"
            ),
            1..=4 => format!(
                "  - sid: List{i}\n    effect: allow\n    actions: [s3:ListBucket]\n    resources: [\"arn:aws:s3:::team-{i}\"]\n    conditions:\n      StringLike: {{\"s3:prefix\": [\"home/user-{i}/*\", \"shared/*\"]}}\n      Bool: {{\"aws:SecureTransport\": \"true\"}}\n"
            ),
            5 => format!(
                "  - sid: Write{i}\n    effect: allow\n    actions: [\"s3:Put*\"]\n    resources: [\"arn:aws:s3:::team-{i}/uploads/*\"]\n    conditions:\n      DateLessThan: {{\"aws:CurrentTime\": \"2030-01-01T00:00:00Z\"}}\n"
            ),
            6 | 7 => format!(
                "  - sid: Queue{i}\n    effect: allow\n    actions: [\"sqs:*Message\"]\n    resources: [\"arn:aws:sqs:*:123456789012:queue-{i}\"]\n    conditions:\n      StringEquals: {{\"aws:RequestedRegion\": [\"us-east-1\", \"eu-west-1\"]}}\n"
            ),
            _ => format!(
                "  - sid: Table{i}\n    effect: allow\n    actions: [dynamodb:GetItem, dynamodb:Query]\n    resources: [\"arn:aws:dynamodb:us-east-1:123456789012:table/table-{i}\"]\n    conditions:\n      ForAllValues:StringEquals: {{\"dynamodb:LeadingKeys\": [\"tenant-{i}\"]}}\n      \"Null\": {{\"dynamodb:LeadingKeys\": \"false\"}}\n"
            ),
        };
        text.push_str(&entry);
    }
    text
}

/// Decisions where the deciding statements have conditions, at 100 statements, with a
/// context like a real call's (the global keys and the service keys), and the same
/// requests against the unconditional policy as the baseline.
fn conditional_decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide_conditions");
    let size = 100;
    let policy = load(&conditional_policy_text(size));
    let plain = load(&policy_text(size));
    let mut context = awsgate::policy::Context::new();
    context.set("aws:CurrentTime", vec!["2026-11-30T12:00:00Z".into()]);
    context.set("aws:EpochTime", vec!["1796040000".into()]);
    context.set("aws:RequestedRegion", vec!["us-east-1".into()]);
    context.set("aws:SecureTransport", vec!["true".into()]);
    context.set("aws:SourceIp", vec!["10.1.2.3".into()]);
    context.set("s3:prefix", vec!["home/user-51/reports/".into()]);
    context.set("dynamodb:LeadingKeys", vec!["tenant-58".into()]);
    let bucket = ["arn:aws:s3:::team-51"];
    let table = ["arn:aws:dynamodb:us-east-1:123456789012:table/table-58"];
    let other_table = ["arn:aws:dynamodb:us-east-1:123456789012:table/table-59"];
    let cases: [(&str, &str, &[&str], bool); 3] = [
        ("allow_prefix", "s3:ListBucket", &bucket, true),
        ("allow_leading_keys", "dynamodb:GetItem", &table, true),
        ("deny_by_condition", "dynamodb:GetItem", &other_table, false),
    ];
    for (name, action, resources, allowed) in cases {
        let request = Request { action, resources, region: "us-east-1", account: "123456789012", context: &context };
        assert_eq!(policy.decide(&request).allowed, allowed, "{name}");
        group.bench_with_input(BenchmarkId::new(name, size), &request, |b, request| {
            b.iter(|| black_box(policy.decide(black_box(request))).allowed)
        });
        let baseline = Request { context: &awsgate::policy::EMPTY_CONTEXT, ..request };
        group.bench_with_input(BenchmarkId::new(format!("{name}_baseline_no_conditions"), size), &baseline, |b, r| {
            b.iter(|| black_box(plain.decide(black_box(r))).allowed)
        });
    }
    // What a call adds before deciding: the global keys.
    let caller = awsgate::conditions::Caller {
        source_ip: None,
        principal_arn: None,
        secure_transport: true,
        principal_tags: Vec::new(),
    };
    group.bench_function("global_context", |b| {
        b.iter(|| black_box(awsgate::conditions::global_context(black_box(&caller), "us-east-1")))
    });
    group.finish();
}

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for size in SIZES {
        let text = policy_text(size);
        group.bench_with_input(BenchmarkId::from_parameter(size), &text, |b, text| b.iter(|| load(black_box(text))));
    }
    group.finish();
}

/// Chaining one decision record (`seq`, `prev`, canonical JSON, SHA-256, the line), from
/// the record as the pipeline builds it. The baseline is the line written unchained.
fn audit_chain(c: &mut Criterion) {
    use awsgate::audit::{Client, Record, chain::Chain};
    let client = Client { name: "claude-desktop".into(), version: "1.4.2".into() };
    let resources = vec!["arn:aws:s3:::reports/2026/q3/summary.csv".to_string()];
    // What a decision record carries: the global keys of every call.
    let mut context = awsgate::policy::Context::new();
    context.set("aws:CurrentTime", vec!["2026-12-01T03:04:05Z".into()]);
    context.set("aws:EpochTime", vec!["1796094245".into()]);
    context.set("aws:RequestedRegion", vec!["us-east-1".into()]);
    context.set("aws:SecureTransport", vec!["true".into()]);
    context.set_unknown(None, "aws:principalarn");
    let record = Record {
        time: "2026-12-01T03:04:05.678Z".into(),
        event: "decision",
        call_id: "4f2a9c1e-1234",
        session: "http:8c1f0a3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b",
        client: &client,
        transport: "http",
        agent: None,
        policy: "reports-reader",
        mode: "enforce",
        tool: "s3_get_object",
        action: Some("s3:GetObject"),
        resources: &resources,
        decision: Some("allow"),
        enforced: Some(true),
        statement: Some("ReadReports"),
        reason: Some("allowed by statement `ReadReports`"),
        approval: Some("not_required"),
        outcome: None,
        error: None,
        aws_request_id: None,
        duration_ms: None,
        context: Some(&context),
        shadow: None,
    };
    let mut group = c.benchmark_group("audit_record");
    group.bench_function("unchained", |b| b.iter(|| serde_json::to_vec(black_box(&record)).unwrap()));
    let chain = Chain::default();
    group.bench_function("chained", |b| {
        b.iter(|| {
            let serde_json::Value::Object(map) = serde_json::to_value(black_box(&record)).unwrap() else {
                unreachable!()
            };
            chain.seal(map)
        })
    });
    group.finish();
}

criterion_group!(benches, decisions, conditional_decisions, loading, audit_chain);
criterion_main!(benches);
