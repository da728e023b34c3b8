//! A call ready to run: the resources the gate judges, and the function that makes the
//! AWS request. Also the limit on output size.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_sts::operation::RequestId;
use serde_json::{Value, json};

use crate::aws::Aws;
pub use crate::aws::{AwsFailure, describe_sdk_error};

/// What a finished call returns: its JSON and AWS's request id.
#[derive(Debug, Clone)]
pub struct CallOutput {
    pub value: Value,
    pub request_id: Option<String>,
}

/// Per-call settings from the policy's limits.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    pub max_output_bytes: usize,
}

pub type CallFuture = Pin<Box<dyn Future<Output = Result<CallOutput, AwsFailure>> + Send>>;

/// Facts about a resource learnt from AWS for condition keys: (name, value) pairs, such
/// as a resource's tags or a table's partition key name.
pub type Facts = Vec<(String, String)>;

/// Context entries (lowercase key, values) made from facts.
pub type FactsToKeys = Box<dyn Fn(&Facts) -> Vec<(String, Vec<String>)> + Send + Sync>;

pub type FactsFuture = Pin<Box<dyn Future<Output = Result<Facts, AwsFailure>> + Send>>;

/// A condition key awsgate learns from AWS, only when a statement that could decide the
/// call tests it: a resource's tags, or what needs a table's key schema.
pub struct Lookup {
    /// The request's resource (index) the key belongs to.
    pub resource: usize,
    /// The key it supplies (lowercase), or a family of keys: a prefix ending in `/`.
    pub key: &'static str,
    /// The resource asked about, passed to `fetch`.
    pub arn: String,
    /// What the facts are cached under (several lookups may share them).
    pub cache_key: String,
    pub fetch: fn(Aws, String) -> FactsFuture,
    /// Turns the facts into context entries (lowercase key, values).
    pub finish: FactsToKeys,
}

impl Lookup {
    /// Does this lookup supply `key` (lowercase)?
    pub fn supplies(&self, key: &str) -> bool {
        if self.key.ends_with('/') { key.starts_with(self.key) } else { key == self.key }
    }
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup").field("key", &self.key).field("cache_key", &self.cache_key).finish_non_exhaustive()
    }
}

/// A resource the call names by something other than the ARN IAM judges (a secret's name
/// without its random suffix, a KMS alias): awsgate asks AWS for the ARN before the gate
/// decides, and the call then acts on exactly that ARN.
pub struct Resolve {
    /// The request's resource (index) the ARN replaces.
    pub resource: usize,
    /// What the agent gave (a name, an alias, an ARN), passed to `fetch`.
    pub given: String,
    pub cache_key: String,
    /// Answers `[("arn", ARN)]`; AWS's error when it knows no such resource.
    pub fetch: fn(Aws, String) -> FactsFuture,
    /// Where the call finds the ARN once resolved.
    pub slot: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Resolve {
    /// A resolution of `given` for the request's resource `resource`, and the handle the
    /// call reads the ARN from.
    pub fn new(
        resource: usize,
        given: String,
        cache_key: String,
        fetch: fn(Aws, String) -> FactsFuture,
    ) -> (Resolve, ResolvedArn) {
        let slot = std::sync::Arc::new(std::sync::OnceLock::new());
        (Resolve { resource, given, cache_key, fetch, slot: std::sync::Arc::clone(&slot) }, ResolvedArn(slot))
    }
}

/// The ARN a resolution found, as the call reads it.
#[derive(Debug, Clone)]
pub struct ResolvedArn(std::sync::Arc<std::sync::OnceLock<String>>);

impl ResolvedArn {
    /// The resolved ARN; `given` if the call runs without one (the gate only lets a call
    /// run after its resolution succeeded, so this is a fallback, not a path).
    pub fn or(&self, given: String) -> String {
        self.0.get().cloned().unwrap_or(given)
    }
}

impl std::fmt::Debug for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolve").field("resource", &self.resource).field("given", &self.given).finish_non_exhaustive()
    }
}

/// A validated call: the resources it touches (ARNs, or `*`), the condition keys its
/// arguments determine, and how to run it.
pub struct Prepared {
    pub resources: Vec<String>,
    /// Condition keys (lowercase) and their values, for every resource of the call.
    pub context: Vec<(String, Vec<String>)>,
    /// Condition keys that need a look-up in AWS.
    pub lookups: Vec<Lookup>,
    /// Condition keys AWS documents for the call that awsgate cannot read from it: a
    /// statement that tests them fails closed.
    pub unknown: Vec<&'static str>,
    /// Resources to look up before the gate decides.
    pub resolve: Vec<Resolve>,
    run: Box<dyn FnOnce(Aws, CallOptions) -> CallFuture + Send>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("resources", &self.resources)
            .field("context", &self.context)
            .field("lookups", &self.lookups)
            .field("unknown", &self.unknown)
            .field("resolve", &self.resolve)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    pub fn new<F, Fut>(resources: Vec<String>, run: F) -> Prepared
    where
        F: FnOnce(Aws, CallOptions) -> Fut + Send + 'static,
        Fut: Future<Output = Result<CallOutput, AwsFailure>> + Send + 'static,
    {
        Prepared {
            resources,
            context: Vec::new(),
            lookups: Vec::new(),
            unknown: Vec::new(),
            resolve: Vec::new(),
            run: Box::new(move |aws, options| Box::pin(run(aws, options))),
        }
    }

    /// A call that is only judged, never run by awsgate's own clients: the sidecar
    /// forwards the agent's request instead.
    pub fn judged_only(resources: Vec<String>) -> Prepared {
        Prepared::new(resources, |_, _| async {
            Err(AwsFailure {
                code: "InternalError".into(),
                message: "this call is forwarded, not run".into(),
                request_id: None,
            })
        })
    }

    /// Adds a condition key the arguments determine; `None` leaves it out of the request.
    pub fn with_key(mut self, key: impl Into<String>, values: Option<Vec<String>>) -> Prepared {
        if let Some(values) = values {
            self.context.push((key.into(), values));
        }
        self
    }

    pub fn with_unknown(mut self, key: &'static str) -> Prepared {
        self.unknown.push(key);
        self
    }

    pub fn with_resolve(mut self, resolve: Resolve) -> Prepared {
        self.resolve.push(resolve);
        self
    }

    pub fn with_lookup(mut self, lookup: Lookup) -> Prepared {
        self.lookups.push(lookup);
        self
    }

    /// Makes the AWS request. Only called after the gate allowed it and the decision was
    /// audited.
    pub fn run(self, aws: Aws, options: CallOptions) -> CallFuture {
        (self.run)(aws, options)
    }
}

/// A successful call's output with its request id.
pub fn output(value: Value, response: &impl RequestId) -> CallOutput {
    CallOutput { value, request_id: response.request_id().map(str::to_string) }
}

/// The safety net for every result: if its JSON is larger than `max` bytes, drop items
/// from the end of its largest list until it fits, and say so.
pub fn fit_output(value: Value, max: usize) -> Value {
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if size(&value) <= max {
        return value;
    }
    let Value::Object(mut object) = value else {
        return json!({ "output_truncated": true, "note": format!("the result was larger than max_output_bytes ({max}) and was left out") });
    };
    let largest = object
        .iter()
        .filter_map(|(k, v)| v.as_array().map(|a| (k.clone(), serde_json::to_vec(a).map_or(0, |b| b.len()))))
        .max_by_key(|(_, len)| *len)
        .map(|(k, _)| k);
    let Some(field) = largest else {
        return json!({ "output_truncated": true, "note": format!("the result was larger than max_output_bytes ({max}) and was left out") });
    };
    let items = match object.remove(&field) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let total = items.len();
    let build = |kept: usize| {
        let mut trial = object.clone();
        trial.insert(field.clone(), Value::Array(items.iter().take(kept).cloned().collect()));
        trial.insert("output_truncated".into(), json!(true));
        trial.insert(
            "note".into(),
            json!(format!(
                "output limited to max_output_bytes ({max}): `{field}` was cut; ask for fewer items or continue with the pagination token"
            )),
        );
        trial.insert("items_returned".into(), json!(kept));
        trial.insert("items_available".into(), json!(total));
        Value::Object(trial)
    };
    // The most items that fit, by bisection: few serializations even for long lists.
    let (mut low, mut high) = (0usize, total);
    while low < high {
        let mid = (low + high).div_ceil(2);
        if size(&build(mid)) <= max {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    let fitted = build(low);
    if size(&fitted) <= max {
        fitted
    } else {
        json!({ "output_truncated": true, "note": format!("the result was larger than max_output_bytes ({max}) and was left out") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_outputs_pass_unchanged() {
        let value = json!({"items": [1, 2, 3]});
        assert_eq!(fit_output(value.clone(), 1000), value);
    }

    #[test]
    fn large_lists_are_cut_to_fit_and_say_so() {
        let items: Vec<String> = (0..1000).map(|i| format!("item-{i:04}")).collect();
        let fitted = fit_output(json!({"bucket": "b", "objects": items, "next_token": "t"}), 2048);
        assert!(serde_json::to_vec(&fitted).unwrap().len() <= 2048);
        assert_eq!(fitted["output_truncated"], true);
        assert_eq!(fitted["items_available"], 1000);
        let kept = fitted["objects"].as_array().unwrap().len();
        assert!(kept > 50 && kept < 1000, "{kept}");
        assert_eq!(fitted["next_token"], "t");
    }
}
