//! The least-privilege IAM policy equivalent to an awsgate policy: what to attach to the
//! role, and what is sent as the session policy.

use serde_json::{Value, json};

use super::Vocabulary;
use super::document::{Effect, PolicyDocument};
use super::pattern::ActionPattern;

pub const IAM_POLICY_VERSION: &str = "2012-10-17";

/// Allow statements keep only the actions awsgate has tools for (wildcards expanded, and
/// only in enabled services): the role needs nothing more. Deny statements are kept as
/// written, since a broader deny is always safe. Resources are kept as written. Sids are
/// made alphanumeric and unique, as IAM requires.
pub fn least_privilege(document: &PolicyDocument, vocabulary: &Vocabulary) -> Value {
    let mut statements = Vec::new();
    let mut sids: Vec<String> = Vec::new();
    for statement in &document.statements {
        let actions: Vec<String> = match statement.effect {
            Effect::Deny => statement.actions.iter().map(|a| a.value.clone()).collect(),
            Effect::Allow => {
                let patterns: Vec<ActionPattern> =
                    statement.actions.iter().map(|a| ActionPattern::new(&a.value)).collect();
                let mut reachable = Vec::new();
                for service in vocabulary.services() {
                    let enabled = document.services.as_ref().is_none_or(|s| s.iter().any(|n| n == service.name));
                    if !enabled {
                        continue;
                    }
                    for action in service.tool_actions {
                        let name = format!("{}:{action}", service.name);
                        let matched = patterns.iter().any(|p| p.matches_lowercase(&name.to_ascii_lowercase()));
                        if matched != statement.not_actions && !reachable.contains(&name) {
                            reachable.push(name);
                        }
                    }
                }
                reachable.sort();
                reachable
            }
        };
        if actions.is_empty() {
            continue;
        }
        let mut entry = serde_json::Map::new();
        let mut sid: String = statement.label.chars().filter(char::is_ascii_alphanumeric).collect();
        if sid.is_empty() {
            sid = "Statement".into();
        }
        let base = sid.clone();
        let mut n = 2;
        while sids.contains(&sid) {
            sid = format!("{base}{n}");
            n += 1;
        }
        sids.push(sid.clone());
        entry.insert("Sid".into(), json!(sid));
        entry.insert(
            "Effect".into(),
            json!(match statement.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            }),
        );
        let action_key = if statement.not_actions && statement.effect == Effect::Deny { "NotAction" } else { "Action" };
        entry.insert(action_key.into(), json!(actions));
        let resources: Vec<&str> = statement.resources.iter().map(|r| r.value.as_str()).collect();
        let resource_key = if statement.not_resources { "NotResource" } else { "Resource" };
        entry.insert(resource_key.into(), json!(resources));
        statements.push(Value::Object(entry));
    }
    json!({ "Version": IAM_POLICY_VERSION, "Statement": statements })
}
