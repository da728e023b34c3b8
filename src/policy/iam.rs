//! The least-privilege IAM policy equivalent to an awsgate policy: what to attach to the
//! role, and what is sent as the session policy.

use serde_json::{Value, json};

use super::Vocabulary;
use super::document::{Effect, PolicyDocument};
use super::pattern::{ActionPattern, ArnPattern};

pub const IAM_POLICY_VERSION: &str = "2012-10-17";

/// AWS's limit on an inline session policy, in characters of minified JSON.
pub const SESSION_POLICY_MAX_CHARS: usize = 2048;

/// The derived session policy as minified JSON, or its length when it is over the limit.
pub fn session_policy(
    document: &PolicyDocument,
    vocabulary: &Vocabulary,
    shadow: Option<&PolicyDocument>,
) -> Result<String, usize> {
    let text = least_privilege(document, vocabulary, shadow).to_string();
    if text.chars().count() > SESSION_POLICY_MAX_CHARS { Err(text.chars().count()) } else { Ok(text) }
}

/// An example trust policy for the role: who may assume it, with the external id and MFA
/// conditions the policy's `credentials` imply.
pub fn trust_policy_example(document: &PolicyDocument) -> Value {
    let credentials = document.credentials.clone().unwrap_or_default();
    let account = credentials
        .role_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(4))
        .or(document.account.as_deref())
        .unwrap_or("ACCOUNT_ID")
        .to_string();
    if credentials.web_identity_token_file.is_some() {
        return json!({
            "Version": IAM_POLICY_VERSION,
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": format!("arn:aws:iam::{account}:oidc-provider/OIDC_PROVIDER_HOST") },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": { "StringEquals": { "OIDC_PROVIDER_HOST:sub": "SUBJECT_OF_THE_AGENT_WORKLOAD" } }
            }]
        });
    }
    let mut conditions = serde_json::Map::new();
    if let Some(id) = &credentials.external_id {
        conditions.insert("StringEquals".into(), json!({ "sts:ExternalId": id }));
    }
    if credentials.mfa_serial.is_some() {
        conditions.insert("Bool".into(), json!({ "aws:MultiFactorAuthPresent": "true" }));
    }
    let mut statement = serde_json::Map::new();
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), json!({ "AWS": format!("arn:aws:iam::{account}:root") }));
    // With `--agents`, awsgate names the agent in each role session (SourceIdentity) and
    // passes its tags: the trust policy must allow both.
    statement.insert("Action".into(), json!(["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]));
    if !conditions.is_empty() {
        statement.insert("Condition".into(), Value::Object(conditions));
    }
    json!({ "Version": IAM_POLICY_VERSION, "Statement": [Value::Object(statement)] })
}

/// Condition keys whose value awsgate decides differently from what AWS sees of awsgate's
/// own request: `aws:SourceIp` is the agent's address to awsgate, and `dynamodb:Select` is
/// inferred from the projection. They stay with the gate and are not exported.
const GATE_ONLY_KEYS: &[&str] = &["aws:sourceip", "dynamodb:select"];

/// The `Condition` element of an exported statement; `None` when the statement is better
/// left out (a deny whose condition AWS would judge differently: a broader deny could
/// refuse what the gate allows).
fn exported_conditions(statement: &super::document::Statement) -> Option<Option<Value>> {
    let stays = |key: &str| GATE_ONLY_KEYS.contains(&key);
    if statement.effect == Effect::Deny && statement.conditions.iter().any(|c| stays(&c.key)) {
        return None;
    }
    let mut block = serde_json::Map::new();
    for condition in statement.conditions.iter().filter(|c| !stays(&c.key)) {
        let values = match condition.raw_values.as_slice() {
            [one] => json!(literal(one)),
            many => json!(many.iter().map(|v| literal(v)).collect::<Vec<_>>()),
        };
        let operator = block.entry(condition.operator_name.clone()).or_insert_with(|| json!({}));
        if let Value::Object(keys) = operator {
            keys.insert(condition.key_name.clone(), values);
        }
    }
    Some((!block.is_empty()).then_some(Value::Object(block)))
}

/// A policy's text as AWS reads it literally in a "2012-10-17" document: awsgate matches
/// `${...}` as text (a "2008-10-17" policy has no policy variables, and awsgate refuses
/// them elsewhere), so each `${` is written `${$}{`, IAM's escape for a literal `$`.
fn literal(text: &str) -> String {
    text.replace("${", "${$}{")
}

/// Allow statements keep only the actions awsgate has tools for (wildcards expanded, and
/// only in enabled services) whose resources the statement's resources can name: the role
/// needs nothing more, and `s3:List*` on a bucket does not become `s3:ListAllMyBuckets` on
/// it. Deny statements are kept as written, since a broader deny is always safe. Resources
/// are kept as written, and so are conditions, except those on keys that only the gate can
/// judge (see [`GATE_ONLY_KEYS`]). Sids are made alphanumeric and unique, as IAM requires.
///
/// With a shadow, the look-ups its conditions need are allowed too: it judges every call
/// beside the policy, with the same role session.
pub fn least_privilege(document: &PolicyDocument, vocabulary: &Vocabulary, shadow: Option<&PolicyDocument>) -> Value {
    let mut statements = Vec::new();
    let mut sids: Vec<String> = Vec::new();
    for statement in &document.statements {
        let actions: Vec<String> = match statement.effect {
            Effect::Deny => statement.actions.iter().map(|a| a.value.clone()).collect(),
            Effect::Allow => {
                let patterns: Vec<ActionPattern> =
                    statement.actions.iter().map(|a| ActionPattern::new(&a.value)).collect();
                let resources: Vec<ArnPattern> =
                    statement.resources.iter().map(|r| ArnPattern::new(&r.value)).collect();
                // With `not_resources` the statement covers nearly everything: keep the action.
                let fits = |action: &str| {
                    statement.not_resources
                        || vocabulary
                            .templates(action)
                            .iter()
                            .any(|template| resources.iter().any(|r| r.may_match_template(template)))
                };
                let mut reachable = Vec::new();
                for service in vocabulary.services() {
                    let enabled = document.services.as_ref().is_none_or(|s| s.iter().any(|n| n == service.name));
                    if !enabled {
                        continue;
                    }
                    for action in service.tool_actions {
                        let name = format!("{}:{action}", service.name);
                        let matched = patterns.iter().any(|p| p.matches_lowercase(&name.to_ascii_lowercase()));
                        if matched != statement.not_actions && fits(&name) && !reachable.contains(&name) {
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
        let Some(condition) = exported_conditions(statement) else { continue };
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
        let resources: Vec<String> = statement.resources.iter().map(|r| literal(&r.value)).collect();
        let resource_key = if statement.not_resources { "NotResource" } else { "Resource" };
        entry.insert(resource_key.into(), json!(resources));
        if let Some(condition) = condition {
            entry.insert("Condition".into(), condition);
        }
        statements.push(Value::Object(entry));
    }
    statements.extend(lookup_statements(std::iter::once(document).chain(shadow)));
    json!({ "Version": IAM_POLICY_VERSION, "Statement": statements })
}

/// The reads awsgate makes to learn condition keys (tags, a table's key schema), on the
/// resources of the statements that test them: without them the role could not answer the
/// look-ups and every such condition would fail closed. One statement per look-up, each on
/// the resources of its own service, so that no look-up is allowed on what only another
/// needs (an object's tags on every object because a queue's are read on `*`).
fn lookup_statements<'d>(documents: impl Iterator<Item = &'d PolicyDocument>) -> Vec<Value> {
    let mut lookups: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for statement in documents.flat_map(|document| &document.statements) {
        let services: Vec<String> = statement
            .actions
            .iter()
            .map(|a| a.value.split_once(':').map_or("*", |(s, _)| s).to_ascii_lowercase())
            .collect();
        let uses = |service: &str| statement.not_actions || services.iter().any(|s| s == "*" || s == service);
        let mut needed: Vec<&str> = Vec::new();
        for condition in &statement.conditions {
            let key = condition.key.as_str();
            if key.starts_with("aws:resourcetag/") {
                if uses("dynamodb") {
                    needed.push("dynamodb:ListTagsOfResource");
                }
                if uses("sqs") {
                    needed.push("sqs:ListQueueTags");
                }
            } else if key.starts_with("s3:existingobjecttag/") {
                needed.push("s3:GetObjectTagging");
            } else if key == "dynamodb:leadingkeys" {
                needed.push("dynamodb:DescribeTable");
            }
        }
        for action in needed {
            let service = action.split(':').next().unwrap_or_default();
            // `*`, and ARNs of the look-up's service (or a service left to a wildcard).
            let scope: Vec<String> = if statement.not_resources {
                vec!["*".to_string()]
            } else {
                statement
                    .resources
                    .iter()
                    .map(|r| literal(&r.value))
                    .filter(|arn| {
                        arn == "*" || arn.split(':').nth(2).is_some_and(|s| s == service || s.contains(['*', '?']))
                    })
                    .collect()
            };
            let granted = lookups.entry(action).or_default();
            for resource in scope {
                if !granted.contains(&resource) {
                    granted.push(resource);
                }
            }
        }
    }
    lookups
        .into_iter()
        .filter(|(_, resources)| !resources.is_empty())
        .map(|(action, resources)| {
            let sid: String = action
                .split(':')
                .map(|part| {
                    let mut chars = part.chars();
                    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
                })
                .collect();
            json!({ "Sid": format!("AwsgateLookup{sid}"), "Effect": "Allow", "Action": action, "Resource": resources })
        })
        .collect()
}

/// A reference to a Terraform variable inside a policy's JSON, replaced after escaping.
fn variable_marker(name: &str) -> String {
    format!("@@awsgate-variable:{name}@@")
}

/// Text inside a Terraform heredoc or quoted string: `${` and `%{` start templates there, so
/// a policy's own `${aws:username}` is written `$${aws:username}`.
fn template_literal(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// A quoted HCL string.
fn hcl_string(text: &str) -> String {
    let escaped = template_literal(text).replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// A JSON document as a heredoc body, indented; markers become `${var.NAME}`.
fn heredoc(value: &Value, variables: &[&str]) -> String {
    let mut text = template_literal(&serde_json::to_string_pretty(value).unwrap_or_default());
    for name in variables {
        text = text.replace(&variable_marker(name), &format!("${{var.{name}}}"));
    }
    let body: Vec<String> = text.lines().map(|line| format!("    {line}")).collect();
    format!("<<-EOT\n{}\n  EOT", body.join("\n"))
}

/// A name IAM takes for a role or inline policy: `[A-Za-z0-9+=,.@_-]`, at most `max`.
fn iam_name(text: &str, max: usize) -> String {
    let name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) { c } else { '-' })
        .take(max)
        .collect();
    if name.is_empty() { "awsgate".into() } else { name }
}

/// `iam-policy --format terraform`: HCL for the role awsgate assumes (its trust policy)
/// with the least-privilege policy inline, variables for what the policy file does not
/// know (who assumes the role), and the role's ARN as an output. The JSON inside is
/// [`trust_policy_example`] and [`least_privilege`], byte for byte but for the variables.
pub fn terraform(
    document: &PolicyDocument,
    vocabulary: &Vocabulary,
    shadow: Option<&PolicyDocument>,
    source: &str,
) -> String {
    let credentials = document.credentials.clone().unwrap_or_default();
    let web_identity = credentials.web_identity_token_file.is_some();
    let mut trust = trust_policy_example(document);
    let variables: Vec<&str> = if web_identity {
        vec!["oidc_provider_arn", "oidc_provider_host", "workload_subject"]
    } else {
        vec!["assuming_principal_arn"]
    };
    if let Some(statement) = trust.pointer_mut("/Statement/0") {
        if web_identity {
            statement["Principal"] = json!({ "Federated": variable_marker("oidc_provider_arn") });
            let key = format!("{}:sub", variable_marker("oidc_provider_host"));
            statement["Condition"] = json!({ "StringEquals": { key: variable_marker("workload_subject") } });
        } else {
            statement["Principal"] = json!({ "AWS": variable_marker("assuming_principal_arn") });
        }
    }
    let permissions = least_privilege(document, vocabulary, shadow);
    let role_name = credentials
        .role_arn
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .map_or_else(|| iam_name(&format!("awsgate-{}", document.name), 64), |name| iam_name(name, 64));
    // `role/agents/web-role` lives at path `/agents/`: the role made must have the ARN the
    // policy names.
    let role_path = credentials
        .role_arn
        .as_deref()
        .and_then(|arn| arn.split_once(":role/"))
        .and_then(|(_, rest)| rest.rsplit_once('/'))
        .map(|(path, _)| format!("/{path}/"));
    let mut out = String::new();
    out.push_str(&format!(
        "# The role awsgate assumes for policy `{}`, with the least privilege it needs.\n\
         # Generated by: awsgate iam-policy --policy {} --format terraform\n\
         # The JSON inside is what `--format json` prints. Put the `role_arn` output in the\n\
         # policy's `credentials.role_arn`.\n\n",
        document.name.replace('\n', " "),
        source.replace('\n', " "),
    ));
    let described = [
        (
            "assuming_principal_arn",
            "The IAM principal awsgate runs as (a user or role ARN): the one principal that may assume the role",
        ),
        ("oidc_provider_arn", "The ARN of the IAM OIDC provider of the workload that runs awsgate"),
        (
            "oidc_provider_host",
            "That provider's host and path, as IAM names its condition keys (like `token.actions.githubusercontent.com`)",
        ),
        ("workload_subject", "The `sub` of the workload's tokens that may assume the role"),
    ];
    for (name, description) in described.iter().filter(|(name, _)| variables.contains(name)) {
        out.push_str(&format!(
            "variable \"{name}\" {{\n  description = {}\n  type        = string\n}}\n\n",
            hcl_string(description)
        ));
    }
    out.push_str(&format!(
        "variable \"role_name\" {{\n  description = \"The role's name\"\n  type        = string\n  default     = {}\n}}\n\n",
        hcl_string(&role_name)
    ));
    out.push_str("resource \"aws_iam_role\" \"awsgate\" {\n  name                 = var.role_name\n");
    if let Some(path) = &role_path {
        out.push_str(&format!("  path                 = {}\n", hcl_string(path)));
    }
    // IAM takes Latin-1 in a description.
    let description: String = format!("Assumed by awsgate for policy {}", document.name)
        .chars()
        .map(|c| if (' '..='~').contains(&c) || ('\u{a1}'..='\u{ff}').contains(&c) { c } else { '?' })
        .take(1000)
        .collect();
    out.push_str(&format!("  description          = {}\n", hcl_string(&description)));
    // A role session may last as long as the policy asks, within IAM's 12 hours.
    let longest = credentials.duration_seconds.max(3600);
    out.push_str(&format!("  max_session_duration = {longest}\n"));
    out.push_str(&format!("  assume_role_policy   = {}\n}}\n\n", heredoc(&trust, &variables)));
    out.push_str("resource \"aws_iam_role_policy\" \"awsgate\" {\n");
    out.push_str(&format!("  name   = {}\n", hcl_string(&iam_name(&format!("awsgate-{}", document.name), 128))));
    out.push_str("  role   = aws_iam_role.awsgate.id\n");
    out.push_str(&format!("  policy = {}\n}}\n\n", heredoc(&permissions, &[])));
    out.push_str(
        "output \"role_arn\" {\n  description = \"The role's ARN, for the policy's credentials.role_arn\"\n  value       = aws_iam_role.awsgate.arn\n}\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_text_is_never_a_terraform_template() {
        assert_eq!(template_literal("arn:aws:s3:::b/${aws:username}/%{x}"), "arn:aws:s3:::b/$${aws:username}/%%{x}");
        assert_eq!(hcl_string("a \"b\" ${c}"), "\"a \\\"b\\\" $${c}\"");
        let text = heredoc(&json!({"AWS": variable_marker("who"), "R": "${aws:username}"}), &["who"]);
        assert!(text.contains("\"${var.who}\"") && text.contains("$${aws:username}"), "{text}");
        assert_eq!(iam_name("reports team/ä", 64), "reports-team--");
    }
}
