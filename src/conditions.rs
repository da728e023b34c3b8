//! The request context of a call: the global condition keys awsgate knows, the service
//! keys its arguments determine, and the keys looked up in AWS (tags, a table's key
//! schema) when, and only when, a statement that could decide the call tests them.
//!
//! Look-ups go through a small cache with a time to live (`limits.tag_cache_seconds`). A
//! failed look-up is not cached and leaves its keys unknown: an allow that tests them does
//! not apply, a deny does (SPEC 3: failures never widen access).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::aws::Aws;
use crate::catalog::{Facts, Lookup, Prepared};
use crate::policy::{Context, Policy, Request};

/// At most this many look-up results are kept.
pub const CACHE_ENTRIES: usize = 4096;

/// What awsgate knows about the caller and the call, for the global keys.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The agent's address, for HTTP clients (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// The role awsgate's calls run as (`aws:PrincipalArn`); unknown without one.
    pub principal_arn: Option<String>,
    /// Whether awsgate reaches AWS over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The agent's tags (`aws:PrincipalTag/<key>`), from the agents file.
    pub principal_tags: Vec<(String, String)>,
}

/// Results of look-ups, by what they asked, for a while.
#[derive(Debug)]
pub struct FactCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<Facts>)>>,
}

impl FactCache {
    pub fn new(ttl: Duration) -> FactCache {
        FactCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &str) -> Option<Arc<Facts>> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, facts)| Arc::clone(facts))
    }

    fn put(&self, key: String, facts: Arc<Facts>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_ENTRIES && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CACHE_ENTRIES
                && let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (Instant::now(), facts));
    }
}

/// The keys every call has: time, region, transport, caller.
pub fn global_context(caller: &Caller, region: &str) -> Context {
    let mut context = Context::new();
    let now = time::OffsetDateTime::now_utc();
    let iso = now
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    context.set("aws:CurrentTime", vec![iso]);
    context.set("aws:EpochTime", vec![now.unix_timestamp().to_string()]);
    context.set("aws:RequestedRegion", vec![region.to_string()]);
    context.set("aws:SecureTransport", vec![caller.secure_transport.to_string()]);
    if let Some(ip) = caller.source_ip {
        context.set("aws:SourceIp", vec![ip.to_string()]);
    }
    match &caller.principal_arn {
        Some(arn) => context.set("aws:PrincipalArn", vec![arn.clone()]),
        // AWS would supply it; awsgate does not know it without a role.
        None => context.set_unknown(None, "aws:principalarn"),
    }
    // The agent's tags are all it has: a key it lacks is missing, as in AWS.
    for (key, value) in &caller.principal_tags {
        context.set(&format!("aws:PrincipalTag/{key}"), vec![value.clone()]);
    }
    context
}

/// The condition keys of a prepared call (its run function stays behind: it is not `Sync`).
#[derive(Debug, Clone, Copy)]
pub struct PreparedKeys<'a> {
    pub context: &'a [(String, Vec<String>)],
    pub unknown: &'a [&'static str],
    pub lookups: &'a [Lookup],
}

impl<'a> PreparedKeys<'a> {
    pub fn of(prepared: &'a Prepared) -> PreparedKeys<'a> {
        PreparedKeys { context: &prepared.context, unknown: &prepared.unknown, lookups: &prepared.lookups }
    }
}

/// Looks up the ARNs of the resources a call names by name or alias, and puts them in
/// `resources` (and in each resolution's slot, for the call). A failed look-up, a name AWS
/// does not know included, is an error: the gate cannot judge what it cannot name, so the
/// call is refused. Only answers that name an ARN are cached: a name that does not exist
/// now may exist in a moment, with an ARN a policy would judge differently.
pub async fn resolve_resources(
    resources: &mut [String],
    resolve: &[crate::catalog::Resolve],
    aws: &Aws,
    cache: &FactCache,
    timeout: Duration,
) -> Result<(), crate::catalog::AwsFailure> {
    for item in resolve {
        let facts = match cache.get(&item.cache_key) {
            Some(facts) => facts,
            None => {
                let fetched = tokio::time::timeout(timeout, (item.fetch)(aws.clone(), item.given.clone()))
                    .await
                    .map_err(|_| crate::catalog::AwsFailure {
                        code: "Timeout".into(),
                        message: "the look-up did not finish in time".into(),
                        request_id: None,
                    })??;
                let facts = Arc::new(fetched);
                if facts.iter().any(|(k, _)| k == "arn") {
                    cache.put(item.cache_key.clone(), Arc::clone(&facts));
                }
                facts
            }
        };
        let Some((_, arn)) = facts.iter().find(|(k, _)| k == "arn") else {
            return Err(crate::catalog::AwsFailure {
                code: "InvalidResponse".into(),
                message: format!("AWS named no ARN for `{}`", item.given),
                request_id: None,
            });
        };
        if let Some(slot) = resources.get_mut(item.resource) {
            slot.clone_from(arn);
        }
        let _ = item.slot.set(arn.clone());
    }
    Ok(())
}

/// A look-up that failed, for the log.
#[derive(Debug, Clone)]
pub struct LookupFailure {
    pub key: &'static str,
    pub code: String,
}

/// Builds the call's context: globals, the arguments' keys, and the look-ups that a
/// statement which could decide the request tests, in any of `policies` (the one in force
/// and its shadow). Look-ups run one after another (a call touches one or two resources),
/// each within `timeout`. A look-up no statement needed is not made: its keys are marked
/// unrecorded (or taken from the cache), so that a replay under another policy never takes
/// them for missing.
pub async fn request_context(
    policies: &[&Policy],
    request: &Request<'_>,
    prepared: PreparedKeys<'_>,
    mut context: Context,
    aws: &Aws,
    cache: &FactCache,
    timeout: Duration,
) -> (Context, Vec<LookupFailure>) {
    for (key, values) in prepared.context {
        context.set(key, values.clone());
    }
    for key in prepared.unknown {
        context.set_unknown(None, key);
    }
    let mut failures = Vec::new();
    if prepared.lookups.is_empty() {
        return (context, failures);
    }
    let tested: Vec<(usize, String)> = policies.iter().flat_map(|policy| policy.tested_keys(request)).collect();
    for lookup in prepared.lookups {
        let wanted = tested.iter().any(|(resource, key)| *resource == lookup.resource && lookup.supplies(key));
        if !wanted {
            match cache.get(&lookup.cache_key) {
                Some(facts) => {
                    for (key, values) in (lookup.finish)(&facts) {
                        context.set_for(lookup.resource, &key, values);
                    }
                }
                None => context.set_unrecorded(Some(lookup.resource), lookup.key),
            }
            continue;
        }
        let facts = match cache.get(&lookup.cache_key) {
            Some(facts) => Ok(facts),
            None => match tokio::time::timeout(timeout, (lookup.fetch)(aws.clone(), lookup.arn.clone())).await {
                Ok(fetched) => fetched.map(|facts| {
                    let facts = Arc::new(facts);
                    cache.put(lookup.cache_key.clone(), Arc::clone(&facts));
                    facts
                }),
                Err(_) => Err(crate::catalog::AwsFailure {
                    code: "Timeout".into(),
                    message: "the look-up did not finish in time".into(),
                    request_id: None,
                }),
            },
        };
        match facts {
            Ok(facts) => {
                for (key, values) in (lookup.finish)(&facts) {
                    context.set_for(lookup.resource, &key, values);
                }
            }
            Err(failure) => {
                context.set_unknown(Some(lookup.resource), lookup.key);
                failures.push(LookupFailure { key: lookup.key, code: failure.code });
            }
        }
    }
    (context, failures)
}
