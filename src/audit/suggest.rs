//! `awsgate audit suggest`: the tightest native policy that allows every (action, resource)
//! pair the logs' decision records show. Run a new agent with `mode: audit` for a while,
//! then enforce exactly what it used.
//!
//! Without `--generalize` the policy is exact: each action gets the ARNs it was called on,
//! and actions called on the same set of ARNs share a statement. With it, two or more
//! resources that differ only after their last `/` become `prefix/*`. The suggestion has no
//! conditions (a record keeps only the keys a policy tested). A call that needed a human's
//! approval keeps `approval: required`; one a human declined, or a deny statement refused,
//! is left out and listed in a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

/// The calls the logs show: per action (and whether it needed a human's approval), per
/// resource, how many decision records.
#[derive(Debug, Default)]
pub struct Calls {
    actions: BTreeMap<(bool, String), Action>,
    /// Calls that needed approval, by call id: judged at the end, when the results of the
    /// logs say which an operator declined.
    gated: BTreeMap<String, (String, Vec<String>)>,
    /// Call ids whose approval a human declined.
    declined: BTreeSet<String>,
    /// The `policy` names the records were judged under.
    policies: BTreeSet<String>,
    records: u64,
    /// Calls a deny statement refused: (action, resources, statement), and how many times.
    explicitly_denied: BTreeMap<(String, Vec<String>, String), u64>,
    /// Only the records of this agent, when given.
    agent: Option<String>,
}

/// What the actions of one statement share: whether they need approval, and resources.
type Shared = (bool, Vec<String>);

#[derive(Debug, Default)]
struct Action {
    calls: u64,
    resources: BTreeSet<String>,
}

impl Calls {
    /// The calls of one agent only (`audit suggest --agent`).
    pub fn of_agent(agent: &str) -> Calls {
        Calls { agent: Some(agent.to_string()), ..Calls::default() }
    }

    /// Reads one log's JSON lines, a line at a time; other records (results, reloads) are
    /// skipped. `Err` names the line that is not a record.
    pub fn read(&mut self, log: impl std::io::BufRead) -> Result<(), (usize, String)> {
        for (index, line) in log.lines().enumerate() {
            let line = line.map_err(|e| (index + 1, format!("cannot read the file: {e}")))?;
            let line = line.as_str();
            if line.trim().is_empty() {
                continue;
            }
            let record: Value = serde_json::from_str(line)
                .map_err(|e| (index + 1, format!("not an audit record (JSON lines expected): {e}")))?;
            let event = record.get("event").and_then(Value::as_str);
            let call_id = record.get("call_id").and_then(Value::as_str).unwrap_or_default();
            if event == Some("result") && record.get("approval").and_then(Value::as_str) == Some("declined") {
                self.declined.insert(call_id.to_string());
            }
            if event != Some("decision") {
                continue;
            }
            // Records from before agents name none: they are `default`'s.
            let agent = record.get("agent").and_then(Value::as_str).unwrap_or(crate::agents::DEFAULT_AGENT);
            if self.agent.as_deref().is_some_and(|wanted| wanted != agent) {
                continue;
            }
            let Some(action) = record.get("action").and_then(Value::as_str).filter(|a| a.contains(':')) else {
                continue;
            };
            let resources: Vec<&str> = record
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let statement = record.get("statement").and_then(Value::as_str);
            if let (Some("deny"), Some(statement)) = (record.get("decision").and_then(Value::as_str), statement) {
                let resources = resources.iter().map(|r| r.to_string()).collect();
                *self.explicitly_denied.entry((action.to_string(), resources, statement.to_string())).or_default() += 1;
                continue;
            }
            if let Some(policy) = record.get("policy").and_then(Value::as_str) {
                self.policies.insert(policy.to_string());
            }
            let resources: Vec<String> = if resources.is_empty() {
                vec!["*".into()]
            } else {
                resources.into_iter().map(str::to_string).collect()
            };
            // A call a human had to approve keeps that in the suggestion, unless one said no.
            if record.get("approval").and_then(Value::as_str) == Some("required") && !call_id.is_empty() {
                self.gated.insert(call_id.to_string(), (action.to_string(), resources));
                continue;
            }
            self.count(false, action, resources);
        }
        Ok(())
    }

    fn count(&mut self, approval: bool, action: &str, resources: Vec<String>) {
        let entry = self.actions.entry((approval, action.to_string())).or_default();
        entry.calls += 1;
        entry.resources.extend(resources);
        self.records += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.gated.is_empty() && self.explicitly_denied.is_empty()
    }

    /// Moves the approved (or undecided) gated calls into `actions`; returns the declined.
    fn settle(&mut self) -> BTreeMap<(String, Vec<String>), u64> {
        let mut declined = BTreeMap::new();
        for (call_id, (action, resources)) in std::mem::take(&mut self.gated) {
            if self.declined.contains(&call_id) {
                *declined.entry((action, resources)).or_default() += 1;
            } else {
                self.count(true, &action, resources);
            }
        }
        declined
    }

    /// The policy, as YAML with a comment per statement.
    pub fn policy(&mut self, sources: &str, generalize: bool) -> String {
        let declined = self.settle();
        // Actions called on the same resources (and needing approval alike) share a statement.
        let mut statements: BTreeMap<Shared, Vec<(&str, u64)>> = BTreeMap::new();
        for ((approval, action), seen) in &self.actions {
            let resources = if seen.resources.contains("*") {
                vec!["*".to_string()]
            } else if generalize {
                generalized(&seen.resources)
            } else {
                seen.resources.iter().cloned().collect()
            };
            statements.entry((*approval, resources)).or_default().push((action, seen.calls));
        }
        let name = match self.policies.iter().next() {
            Some(one) if self.policies.len() == 1 => format!("{one}-suggested"),
            _ => "suggested".to_string(),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Suggested by `awsgate audit suggest` from {sources}: {} calls of {} actions.",
            self.records,
            self.actions.keys().map(|(_, action)| action).collect::<BTreeSet<_>>().len()
        );
        if generalize {
            out.push_str("# With --generalize: a `prefix/*` also allows keys the log does not show.\n");
        }
        out.push_str("# Add `credentials`, `region`, `account` and `limits` from the policy the agent ran under.\n");
        if !self.explicitly_denied.is_empty() {
            out.push_str("# Left out: calls a deny statement refused; allow them only if that deny was wrong:\n");
            for ((action, resources, statement), times) in &self.explicitly_denied {
                let times = if *times == 1 { String::new() } else { format!(", {times} calls") };
                let _ = writeln!(out, "#   {action} on {} (statement `{statement}`{times})", resources.join(", "));
            }
        }
        if !declined.is_empty() {
            out.push_str("# Left out: calls a human declined to approve:\n");
            for ((action, resources), times) in &declined {
                let times = if *times == 1 { String::new() } else { format!(" ({times} calls)") };
                let _ = writeln!(out, "#   {action} on {}{times}", resources.join(", "));
            }
        }
        let _ = writeln!(out, "version: 1\nname: {}\nmode: enforce\nstatements:", quoted(&name));
        for ((approval, resources), actions) in &statements {
            let calls: u64 = actions.iter().map(|(_, n)| n).sum();
            let counts: Vec<String> = actions.iter().map(|(a, n)| format!("{a} {n}")).collect();
            let noun = if calls == 1 { "call" } else { "calls" };
            let _ = writeln!(out, "  # {calls} {noun}: {}", counts.join(", "));
            let sid = sid(actions) + if *approval { "WithApproval" } else { "" };
            let _ = writeln!(out, "  - sid: {}", quoted(&sid));
            out.push_str("    effect: allow\n");
            let names: Vec<String> = actions.iter().map(|(a, _)| quoted(a)).collect();
            let _ = writeln!(out, "    actions: [{}]", names.join(", "));
            out.push_str("    resources:\n");
            for resource in resources {
                let _ = writeln!(out, "      - {}", quoted(resource));
            }
            if *approval {
                out.push_str("    approval: required\n");
            }
        }
        out
    }
}

/// `S3GetObject`, or `S3GetObjectAnd2More` for a statement of three actions.
fn sid(actions: &[(&str, u64)]) -> String {
    let first = actions.first().map_or("", |(a, _)| a);
    let (service, name) = first.split_once(':').unwrap_or(("", first));
    let mut sid: String = service.split('-').map(capitalized).collect::<String>() + name;
    if actions.len() > 1 {
        let _ = write!(sid, "And{}More", actions.len() - 1);
    }
    sid
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A YAML double-quoted scalar (JSON's string syntax is one).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Two or more ARNs that differ only after their last `/` become `prefix/*`. Only below
/// a name: S3 keys in a bucket (`arn:aws:s3:::reports/2026/*`), or paths below a typed
/// resource (`table/Orders/index/*`), never a resource type itself (`table/*`).
fn generalized(resources: &BTreeSet<String>) -> Vec<String> {
    let mut groups: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    let mut kept = BTreeSet::new();
    for arn in resources {
        match prefix(arn) {
            Some(prefix) => groups.entry(prefix.to_string()).or_default().push(arn),
            None => {
                kept.insert(arn.clone());
            }
        }
    }
    for (prefix, arns) in groups {
        if arns.len() >= 2 {
            kept.insert(format!("{prefix}*"));
        } else {
            kept.extend(arns.into_iter().cloned());
        }
    }
    // A pattern may now cover an ARN kept as it was.
    let patterns: Vec<String> = kept.iter().filter(|r| r.ends_with("/*")).cloned().collect();
    kept.into_iter()
        .filter(|r| r.ends_with("/*") || !patterns.iter().any(|p| r.starts_with(&p[..p.len() - 1])))
        .collect()
}

/// The text up to and including the ARN's last `/`, when that is below a name.
fn prefix(arn: &str) -> Option<&str> {
    if arn.contains(['*', '?']) {
        return None;
    }
    let mut fields = arn.splitn(6, ':');
    let service = fields.nth(2)?;
    let resource = fields.nth(2)?;
    let slash = resource.rfind('/')?;
    let parent = &resource[..slash];
    let below_a_name = if service == "s3" { !parent.is_empty() } else { parent.contains('/') };
    below_a_name.then(|| &arn[..arn.len() - resource.len() + slash + 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: &str, resources: &[&str]) -> String {
        serde_json::json!({"event": "decision", "policy": "reports", "action": action, "resources": resources})
            .to_string()
    }

    #[test]
    fn exact_pairs_share_statements_by_resource_set() {
        let mut calls = Calls::default();
        let log = [
            decision("s3:GetObject", &["arn:aws:s3:::reports/a.csv"]),
            decision("s3:GetObject", &["arn:aws:s3:::reports/a.csv"]),
            decision("s3:PutObject", &["arn:aws:s3:::reports/a.csv"]),
            decision("s3:ListBucket", &["arn:aws:s3:::reports"]),
            decision("s3:ListAllMyBuckets", &["*"]),
            r#"{"event":"result","action":"s3:DeleteObject","resources":["x"]}"#.to_string(),
            r#"{"event":"decision","action":"s3:GetObject","resources":["arn:aws:s3:::reports/private/p.csv"],"decision":"deny","statement":"NoPrivate"}"#.to_string(),
            r#"{"event":"decision","action":"s3:GetObject","resources":["arn:aws:s3:::reports/private/p.csv"],"decision":"deny","statement":"NoPrivate"}"#.to_string(),
        ]
        .join("\n");
        calls.read(log.as_bytes()).unwrap();
        let policy = calls.policy("audit.jsonl", false);
        assert!(policy.contains("name: \"reports-suggested\""), "{policy}");
        assert!(
            policy.contains(
                "  # 3 calls: s3:GetObject 2, s3:PutObject 1\n  - sid: \"S3GetObjectAnd1More\"\n    effect: allow\n    actions: [\"s3:GetObject\", \"s3:PutObject\"]\n    resources:\n      - \"arn:aws:s3:::reports/a.csv\"\n"
            ),
            "{policy}"
        );
        assert!(policy.contains("actions: [\"s3:ListAllMyBuckets\"]\n    resources:\n      - \"*\""), "{policy}");
        assert!(!policy.contains("DeleteObject"), "{policy}");
        assert!(
            policy
                .contains("#   s3:GetObject on arn:aws:s3:::reports/private/p.csv (statement `NoPrivate`, 2 calls)\n"),
            "{policy}"
        );
        assert!(!policy.contains("- \"arn:aws:s3:::reports/private/p.csv\""), "{policy}");
    }

    #[test]
    fn generalizing_merges_keys_below_a_name_only() {
        let resources: BTreeSet<String> = [
            "arn:aws:s3:::reports/2026/a.csv",
            "arn:aws:s3:::reports/2026/b.csv",
            "arn:aws:s3:::reports/2025/c.csv",
            "arn:aws:s3:::reports/2026",
            "arn:aws:dynamodb:us-east-1:1:table/Orders",
            "arn:aws:dynamodb:us-east-1:1:table/Users",
            "arn:aws:s3:::weird/k*1",
            "arn:aws:s3:::weird/k*2",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(
            generalized(&resources),
            [
                "arn:aws:dynamodb:us-east-1:1:table/Orders",
                "arn:aws:dynamodb:us-east-1:1:table/Users",
                "arn:aws:s3:::reports/2025/c.csv",
                "arn:aws:s3:::reports/2026",
                "arn:aws:s3:::reports/2026/*",
                "arn:aws:s3:::weird/k*1",
                "arn:aws:s3:::weird/k*2",
            ]
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_named() {
        let mut calls = Calls::default();
        let error = calls.read(format!("{}\nnot json\n", decision("s3:GetObject", &["*"])).as_bytes()).unwrap_err();
        assert_eq!(error.0, 2);
    }

    #[test]
    fn approvals_are_kept_and_what_a_human_declined_is_left_out() {
        let gated = |id: &str, key: &str| {
            format!(
                r#"{{"event":"decision","call_id":"{id}","action":"s3:PutObject","resources":["arn:aws:s3:::up/{key}"],"decision":"allow","approval":"required"}}"#
            )
        };
        let result = |id: &str, approval: &str| {
            format!(r#"{{"event":"result","call_id":"{id}","action":"s3:PutObject","approval":"{approval}"}}"#)
        };
        let log = [
            gated("c1", "report.csv"),
            result("c1", "approved"),
            gated("c2", "evil.sh"),
            result("c2", "declined"),
            decision("s3:GetObject", &["arn:aws:s3:::up/report.csv"]),
        ]
        .join("\n");
        let mut calls = Calls::default();
        calls.read(log.as_bytes()).unwrap();
        let policy = calls.policy("audit.jsonl", false);
        assert!(
            policy.contains(
                "  - sid: \"S3PutObjectWithApproval\"\n    effect: allow\n    actions: [\"s3:PutObject\"]\n    resources:\n      - \"arn:aws:s3:::up/report.csv\"\n    approval: required\n"
            ),
            "{policy}"
        );
        assert!(
            policy.contains(
                "# Left out: calls a human declined to approve:\n#   s3:PutObject on arn:aws:s3:::up/evil.sh\n"
            ),
            "{policy}"
        );
        assert!(!policy.contains("- \"arn:aws:s3:::up/evil.sh\""), "{policy}");
        // The suggestion is a policy awsgate loads.
        assert!(crate::policy::parse(&policy, "suggested", &crate::catalog::vocabulary()).is_ok(), "{policy}");
    }

    #[test]
    fn one_agents_calls_only() {
        // Records without an agent are `default`'s.
        let mut mine = Calls::of_agent("reports-bot");
        let theirs = r#"{"event":"decision","agent":"other","action":"s3:PutObject","resources":["arn:aws:s3:::x/y"]}"#;
        let ours =
            r#"{"event":"decision","agent":"reports-bot","action":"s3:GetObject","resources":["arn:aws:s3:::x/y"]}"#;
        mine.read(format!("{theirs}\n{ours}\n{}\n", decision("s3:ListBucket", &["arn:aws:s3:::x"])).as_bytes())
            .unwrap();
        assert_eq!(mine.records, 1);
        assert!(
            mine.policy("log", false).contains("s3:GetObject") && !mine.policy("log", false).contains("s3:PutObject")
        );
    }
}
