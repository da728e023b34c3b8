//! `awsgate audit replay`: every decision an audit log records, judged again under a
//! candidate policy. A decision record carries what the gate read (the action, the
//! resources' ARNs and `context`, the condition keys and values it judged by), so the
//! candidate judges exactly what was asked. Logs are read a line at a time.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::policy::{Context, Policy, Request};

/// How many changed decisions of each kind the text output lists (the count is exact).
pub const LISTED: usize = 10_000;

/// What replay reads of a record; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Logged<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    time: Cow<'a, str>,
    #[serde(borrow, default)]
    call_id: Cow<'a, str>,
    #[serde(borrow, default)]
    agent: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    resources: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    statement: Option<Cow<'a, str>>,
    #[serde(default)]
    context: Option<Context>,
}

/// One decision that changes under the candidate.
#[derive(Debug, Serialize)]
pub struct Changed {
    pub time: String,
    pub call_id: String,
    pub agent: Option<String>,
    pub action: String,
    pub resources: Vec<String>,
    pub context: Context,
    pub from: &'static str,
    pub to: &'static str,
    pub statement: Option<String>,
    pub new_statement: Option<String>,
    /// Why the candidate decides as it does.
    #[serde(skip)]
    pub reason: String,
    #[serde(skip)]
    pub file: String,
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Decisions judged again.
    pub judged: u64,
    pub allow_to_deny: u64,
    pub deny_to_allow: u64,
    /// Decision records that could not be judged again: written before awsgate recorded
    /// the context, or refused before the gate (an operation the sidecar cannot map).
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("`{path}` line {line}: not an audit record ({why})")]
    Record { path: String, line: u64, why: String },
}

/// Where a decision record's key text appears: a line that lacks it is no decision (JSON
/// escapes every quote inside a string, so it cannot appear inside a value).
const DECISION: &[u8] = br#""event":"decision""#;

fn has(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The account a call was judged in: the candidate's `account`, else the first resource
/// ARN's.
fn account_of<'a>(policy: &'a Policy, resources: &'a [Cow<'a, str>]) -> &'a str {
    if let Some(account) = policy.document().account.as_deref() {
        return account;
    }
    resources.iter().filter_map(|arn| arn.split(':').nth(4)).find(|a| !a.is_empty()).unwrap_or("")
}

/// Judges again every decision of `files` (of `agent` only, when given) under `policy`,
/// handing each changed one to `changed` as it is found.
pub fn replay(
    files: &[&Path],
    policy: &Policy,
    agent: Option<&str>,
    mut changed: impl FnMut(Changed) -> std::io::Result<()>,
) -> Result<Replayed, ReplayError> {
    let mut replayed = Replayed::default();
    let mut line = Vec::with_capacity(4096);
    for path in files {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| ReplayError::Read { path: shown.clone(), source })?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut number = 0u64;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|source| ReplayError::Read { path: shown.clone(), source })?;
            if read == 0 {
                break;
            }
            number += 1;
            if !has(&line, DECISION) {
                continue;
            }
            let record: Logged<'_> = serde_json::from_slice(&line).map_err(|error| ReplayError::Record {
                path: shown.clone(),
                line: number,
                why: error.to_string(),
            })?;
            if record.event != "decision" || agent.is_some_and(|a| record.agent.as_deref() != Some(a)) {
                continue;
            }
            let (Some(action), Some(decision), Some(context)) = (&record.action, &record.decision, &record.context)
            else {
                replayed.skipped += 1;
                continue;
            };
            replayed.judged += 1;
            let resources: Vec<&str> = record.resources.iter().map(|r| &**r).collect();
            let region = match context.get("aws:requestedregion", 0) {
                crate::policy::Found::Values([region, ..]) => region.as_str(),
                _ => policy.document().region.as_deref().unwrap_or(""),
            };
            let request = Request {
                action,
                resources: &resources,
                region,
                account: account_of(policy, &record.resources),
                context,
            };
            let judged = policy.decide(&request);
            let to = judged.effect();
            if to == decision.as_ref() {
                continue;
            }
            let from: &'static str = if decision == "allow" { "allow" } else { "deny" };
            if to == "deny" {
                replayed.allow_to_deny += 1;
            } else {
                replayed.deny_to_allow += 1;
            }
            let entry = Changed {
                time: record.time.to_string(),
                call_id: record.call_id.to_string(),
                agent: record.agent.as_deref().map(str::to_string),
                action: action.to_string(),
                resources: record.resources.iter().map(|r| r.to_string()).collect(),
                context: context.clone(),
                from,
                to,
                statement: record.statement.as_deref().map(str::to_string),
                new_statement: judged.statement.map(str::to_string),
                reason: judged.explain(&request),
                file: shown.clone(),
            };
            changed(entry).map_err(|source| ReplayError::Read { path: "the output".into(), source })?;
        }
    }
    Ok(replayed)
}
