//! The gate's speed: one decision against policies of 10 to 10,000 statements, and
//! loading (parse, validate, compile) the same policies.
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

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for size in SIZES {
        let text = policy_text(size);
        group.bench_with_input(BenchmarkId::from_parameter(size), &text, |b, text| b.iter(|| load(black_box(text))));
    }
    group.finish();
}

criterion_group!(benches, decisions, loading);
criterion_main!(benches);
