//! `awsgate audit replay`: every decision an audit log records, judged again under a
//! candidate policy. A decision record carries what the gate read (the action, the
//! resources' ARNs and `context`, the condition keys and values it judged by), so the
//! candidate judges exactly what was asked. What is compared is what comes of the call (its
//! verdict: `deny`, `approval` or `allow`; a deny in audit mode runs, so it is `allow`). A
//! candidate that tests a key the record left out cannot be judged exactly: such a decision
//! is `undetermined`. Logs are read a line at a time; every line must be a record.

use std::borrow::Cow;
use std::io::{BufRead, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::policy::{Context, Policy, Request, verdict_rank};

/// How many changed decisions of each kind the text output lists (the count is exact).
pub const LISTED: usize = 10_000;

/// The events awsgate's audit records carry.
const EVENTS: &[&str] =
    &["decision", "result", "policy_reloaded", "agents_reloaded", "approval_decided", "approval_withdrawn"];

/// The longest line replay reads: far beyond any record awsgate writes, and a bound on
/// the memory an input without line breaks (`/dev/zero`, a binary file) can take.
const LONGEST_LINE: u64 = 64 << 20;

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
    resources: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    decision: Option<Cow<'a, str>>,
    #[serde(default)]
    enforced: Option<bool>,
    #[serde(borrow, default)]
    approval: Option<Cow<'a, str>>,
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
    /// The verdicts: `deny`, `approval` or `allow`; `to` is `undetermined` when the
    /// candidate tests a key the record left out.
    pub from: &'static str,
    pub to: &'static str,
    pub statement: Option<String>,
    pub new_statement: Option<String>,
    /// Why the candidate decides as it does (for `undetermined`, the keys left out).
    pub reason: String,
    /// The log the record is in.
    pub file: String,
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Decisions judged again.
    pub judged: u64,
    /// Changes to a less permissive verdict (allow → approval → deny).
    pub narrowed: u64,
    /// Changes to a more permissive one: a call would run that did not, or without the
    /// approval it needed.
    pub widened: u64,
    /// Decisions the candidate cannot judge exactly (it tests a key the record left out).
    pub undetermined: u64,
    /// Of those, the ones not already allowed: they might be widened.
    pub undetermined_not_allowed: u64,
    /// Calls awsgate refused before the gate (an operation the sidecar cannot map): no
    /// policy decides them, so no candidate changes them.
    pub refused: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("`{path}` line {line}: not an audit record ({why})")]
    Record { path: String, line: u64, why: String },
}

/// The verdict a decision record shows.
fn recorded_verdict(decision: &str, enforced: Option<bool>, approval: Option<&str>) -> &'static str {
    if decision == "deny" && enforced != Some(false) {
        "deny"
    } else if approval == Some("required") {
        "approval"
    } else {
        "allow"
    }
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
            let read = (&mut reader)
                .take(LONGEST_LINE + 1)
                .read_until(b'\n', &mut line)
                .map_err(|source| ReplayError::Read { path: shown.clone(), source })?;
            if read == 0 {
                break;
            }
            number += 1;
            if read as u64 > LONGEST_LINE {
                let why = format!("longer than {} MiB", LONGEST_LINE >> 20);
                return Err(ReplayError::Record { path: shown, line: number, why });
            }
            // Every line must be a record: a damaged one could hide a decision.
            let record: Logged<'_> = serde_json::from_slice(&line).map_err(|error| ReplayError::Record {
                path: shown.clone(),
                line: number,
                why: if line.iter().all(u8::is_ascii_whitespace) { "an empty line".into() } else { error.to_string() },
            })?;
            // A record of a kind awsgate does not write (`Decision`, say) is refused: an edited
            // decision must not pass as something replay skips.
            if !EVENTS.contains(&&*record.event) {
                let why = format!("an event `{}` awsgate does not write", record.event);
                return Err(ReplayError::Record { path: shown, line: number, why });
            }
            if record.event != "decision" || agent.is_some_and(|a| record.agent.as_deref() != Some(a)) {
                continue;
            }
            let damaged = |why: String| ReplayError::Record { path: shown.clone(), line: number, why };
            let Some(action) = &record.action else {
                return Err(damaged("a decision record without `action`".into()));
            };
            let Some(logged_resources) = &record.resources else {
                return Err(damaged("a decision record without `resources`".into()));
            };
            let decision = match record.decision.as_deref() {
                Some(decision @ ("allow" | "deny")) => decision,
                Some(other) => return Err(damaged(format!("a decision `{other}`, neither `allow` nor `deny`"))),
                None => return Err(damaged("a decision record without `decision`".into())),
            };
            let Some(context) = &record.context else {
                // A call refused before the gate is a deny by no statement, with nothing read.
                if decision == "deny" && record.statement.is_none() && record.enforced == Some(true) {
                    replayed.refused += 1;
                    continue;
                }
                return Err(damaged(
                    "a decision record without `context`, which only an awsgate older than replay or an edit leaves out: it cannot be judged again".into(),
                ));
            };
            replayed.judged += 1;
            let resources: Vec<&str> = logged_resources.iter().map(|r| &**r).collect();
            let region = match context.get("aws:requestedregion", 0) {
                crate::policy::Found::Values([region, ..]) => region.as_str(),
                _ => policy.document().region.as_deref().unwrap_or(""),
            };
            let request = Request {
                action,
                resources: &resources,
                region,
                account: account_of(policy, logged_resources),
                context,
            };
            let judged = policy.decide(&request);
            let from = recorded_verdict(decision, record.enforced, record.approval.as_deref());
            let undetermined = context.leaves_out()
                && policy.tested_keys(&request).iter().any(|(resource, key)| context.is_unrecorded(key, *resource));
            let to = if undetermined { "undetermined" } else { judged.verdict() };
            if to == from {
                continue;
            }
            if undetermined {
                replayed.undetermined += 1;
                if from != "allow" {
                    replayed.undetermined_not_allowed += 1;
                }
            } else if verdict_rank(to) > verdict_rank(from) {
                replayed.widened += 1;
            } else {
                replayed.narrowed += 1;
            }
            let entry = Changed {
                time: record.time.to_string(),
                call_id: record.call_id.to_string(),
                agent: record.agent.as_deref().map(str::to_string),
                action: action.to_string(),
                resources: logged_resources.iter().map(|r| r.to_string()).collect(),
                context: context.clone(),
                from,
                to,
                statement: record.statement.as_deref().map(str::to_string),
                new_statement: if undetermined { None } else { judged.statement.map(str::to_string) },
                reason: if undetermined {
                    let left_out: Vec<String> = policy
                        .tested_keys(&request)
                        .into_iter()
                        .filter(|(resource, key)| context.is_unrecorded(key, *resource))
                        .map(|(_, key)| format!("`{key}`"))
                        .collect();
                    format!(
                        "the candidate tests {}, which the record left out (no statement in force tested it), so it cannot be judged exactly",
                        left_out.join(", ")
                    )
                } else if judged.effect() == "deny" && !judged.enforced {
                    format!("the candidate is in audit mode, so the call would run: {}", judged.explain(&request))
                } else {
                    judged.explain(&request)
                },
                file: shown.clone(),
            };
            changed(entry).map_err(|source| ReplayError::Read { path: "the output".into(), source })?;
        }
    }
    Ok(replayed)
}
