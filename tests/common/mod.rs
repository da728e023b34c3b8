//! References written straight from AWS's documented rules, for the property and
//! differential tests to compare the gate against. Slow and obviously correct.

#![allow(dead_code)]

use regex::Regex;

/// The spec's ARN rule as a regex: `*` becomes `.*` when it ends a colon-separated
/// segment (it may run past colons) and `[^:]*` otherwise; `?` becomes `[^:]`; everything
/// else is literal.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    for (i, c) in chars.iter().enumerate() {
        match c {
            '*' if matches!(chars.get(i + 1), None | Some(':')) => re.push_str(".*"),
            '*' => re.push_str("[^:]*"),
            '?' => re.push_str("[^:]"),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    cached(&re).is_match(arn)
}

/// Regexes compiled once per thread: the generated tests reuse a few hundred patterns.
fn cached(source: &str) -> Regex {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Regex>> = Default::default();
    }
    CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(source.to_string())
            .or_insert_with(|| Regex::new(source).expect("reference regex"))
            .clone()
    })
}

/// IAM's action rule: case-insensitive, `*` any run, `?` one character.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let re = format!("(?is)^{}$", regex::escape(pattern).replace("\\*", ".*").replace("\\?", "."));
    cached(&re).is_match(action)
}

/// The resource a request on no resource (`*`) is judged as: the service's whole scope in
/// the call's region and account, none for S3 and IAM, in the region's partition.
pub fn judged(action: &str, resource: &str, region: &str, account: &str) -> String {
    if resource != "*" {
        return resource.to_string();
    }
    let service = action.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    if service == "s3" || service == "iam" {
        format!("arn:{partition}:{service}:::*")
    } else {
        format!("arn:{partition}:{service}:{region}:{account}:*")
    }
}

/// One statement, as the reference reads it.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub not_actions: bool,
    pub resources: Vec<String>,
    pub not_resources: bool,
    pub approval: bool,
}

impl Statement {
    fn applies(&self, action: &str, arn: &str) -> bool {
        let action_hit = self.actions.iter().any(|p| action_matches(p, action)) != self.not_actions;
        let resource_hit = self.resources.iter().any(|p| arn_matches(p, arn)) != self.not_resources;
        action_hit && resource_hit
    }
}

/// What the reference decides: allowed, the deciding statement, approval required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub statement: Option<String>,
    pub approval: bool,
}

/// IAM's evaluation: an explicit deny of any (action, resource) pair denies, naming the
/// first deny statement of the first denied resource; else every resource needs an allow,
/// or the first one without is an implicit deny; else allowed, naming the first statement
/// that asks for approval (of the first resource that has one) or the first allow of the
/// first resource.
pub fn decide(statements: &[Statement], action: &str, resources: &[&str], region: &str, account: &str) -> Verdict {
    let judged: Vec<String> = resources.iter().map(|r| judged(action, r, region, account)).collect();
    for arn in &judged {
        if let Some(deny) = statements.iter().find(|s| !s.allow && s.applies(action, arn)) {
            return Verdict { allowed: false, statement: Some(deny.sid.clone()), approval: false };
        }
    }
    let mut first_allow = None;
    let mut approval = None;
    for arn in &judged {
        let allows: Vec<&Statement> = statements.iter().filter(|s| s.allow && s.applies(action, arn)).collect();
        let Some(first) = allows.first() else {
            return Verdict { allowed: false, statement: None, approval: false };
        };
        first_allow.get_or_insert(first.sid.clone());
        if approval.is_none() {
            approval = allows.iter().find(|s| s.approval).map(|s| s.sid.clone());
        }
    }
    Verdict { allowed: true, approval: approval.is_some(), statement: approval.or(first_allow) }
}
