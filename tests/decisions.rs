//! Golden decision tables: each file in `tests/golden/decisions/` holds a policy and the
//! requests it must decide, with the expected decision, statement, approval and mode.

use std::path::Path;

use awsgate::catalog;
use awsgate::cli::simulation_json;
use awsgate::policy::{self, Request};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[allow(dead_code)]
    about: String,
    policy: serde_json::Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    action: String,
    resources: Vec<String>,
    decision: String,
    statement: Option<String>,
    #[serde(default)]
    approval: Option<String>,
    #[serde(default)]
    enforced: Option<bool>,
    #[serde(default)]
    reason_contains: Option<String>,
    /// The call's region and account; us-east-1 and 123456789012 unless given.
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    account: Option<String>,
    /// Condition keys: a value or a list of values each (several for multi-valued keys).
    #[serde(default)]
    context: serde_json::Map<String, serde_json::Value>,
    /// Keys (or key prefixes) whose look-up failed: unknown to the gate.
    #[serde(default)]
    unknown: Vec<String>,
    /// The condition the decision names (`simulate --json`'s `condition`), when one did.
    #[serde(default)]
    condition_contains: Option<String>,
}

fn context_of(case: &Case) -> policy::Context {
    let mut context = policy::Context::new();
    for (key, value) in &case.context {
        let values = match value {
            serde_json::Value::Array(items) => {
                items.iter().map(|v| v.as_str().expect("string values").to_string()).collect()
            }
            other => vec![other.as_str().expect("string values").to_string()],
        };
        context.set(key, values);
    }
    for prefix in &case.unknown {
        context.set_unknown(None, prefix);
    }
    context
}

fn run_table(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read table");
    let table: Table = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let policy_text = serde_json::to_string_pretty(&table.policy).expect("policy as JSON");
    let loaded = policy::parse(&policy_text, "golden", &catalog::vocabulary())
        .unwrap_or_else(|d| panic!("{}: policy does not load: {d:?}", path.display()));
    let mut failures = Vec::new();
    for case in &table.cases {
        let resources: Vec<&str> = case.resources.iter().map(String::as_str).collect();
        let context = context_of(case);
        let request = Request {
            action: &case.action,
            resources: &resources,
            region: case.region.as_deref().unwrap_or("us-east-1"),
            account: case.account.as_deref().unwrap_or("123456789012"),
            context: &context,
        };
        let decision = loaded.policy.decide(&request);
        let got = simulation_json(&decision, &request);
        let mut wrong = Vec::new();
        if got["decision"] != case.decision.as_str() {
            wrong.push(format!("decision {} (expected {})", got["decision"], case.decision));
        }
        if got["statement"].as_str() != case.statement.as_deref() {
            wrong.push(format!("statement {} (expected {:?})", got["statement"], case.statement));
        }
        if let Some(approval) = &case.approval
            && got["approval"] != approval.as_str()
        {
            wrong.push(format!("approval {} (expected {approval})", got["approval"]));
        }
        let enforced = case.enforced.unwrap_or(true);
        if got["enforced"] != enforced {
            wrong.push(format!("enforced {} (expected {enforced})", got["enforced"]));
        }
        if let Some(part) = &case.reason_contains
            && !got["reason"].as_str().unwrap_or("").contains(part.as_str())
        {
            wrong.push(format!("reason {} lacks {part:?}", got["reason"]));
        }
        if let Some(part) = &case.condition_contains
            && !got["condition"].as_str().unwrap_or("").contains(part.as_str())
        {
            wrong.push(format!("condition {} lacks {part:?}", got["condition"]));
        }
        if !wrong.is_empty() {
            failures.push(format!("{} / {}: {}", path.display(), case.name, wrong.join("; ")));
        }
    }
    failures
}

#[test]
fn golden_decision_tables() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/decisions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("decisions dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    assert!(files.len() >= 12, "expected the decision tables in {}", dir.display());
    let failures: Vec<String> = files.iter().flat_map(|f| run_table(f)).collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}
