//! Tool arguments: one declaration per argument gives both the JSON Schema the agent sees
//! and the validation its call goes through, so the two cannot drift apart. Checks on
//! names (buckets, tables, queues) are strict on purpose: a name that is not what AWS
//! accepts could make the ARN the gate judges differ from the request AWS receives.

use serde_json::{Map, Value, json};

/// What an argument holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string of at most `max` bytes.
    Text {
        max: usize,
    },
    Integer {
        min: i64,
        max: i64,
    },
    Boolean,
    /// Any JSON value (DynamoDB attribute values).
    Json,
    /// A JSON object (DynamoDB keys, items, value maps).
    Object,
    /// An object of strings (`expression_attribute_names`).
    TextMap,
    /// A JSON list of at most `max` items (log events, metric data).
    List {
        max: usize,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

pub const fn required(name: &'static str, kind: Kind, description: &'static str) -> Arg {
    Arg { name, kind, required: true, description }
}

pub const fn optional(name: &'static str, kind: Kind, description: &'static str) -> Arg {
    Arg { name, kind, required: false, description }
}

/// A short string: names, tokens, expressions.
pub const SHORT: Kind = Kind::Text { max: 4096 };

/// A bad argument: what is wrong and where. No AWS request is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgumentError(pub String);

fn invalid(message: impl Into<String>) -> ArgumentError {
    ArgumentError(message.into())
}

/// The JSON Schema of a tool's input.
pub fn schema(args: &[Arg]) -> Map<String, Value> {
    let mut properties = Map::new();
    for arg in args {
        let mut property = match arg.kind {
            Kind::Text { max } => json!({ "type": "string", "maxLength": max }),
            Kind::Integer { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
            Kind::Boolean => json!({ "type": "boolean" }),
            Kind::Json => json!({}),
            Kind::Object => json!({ "type": "object" }),
            Kind::TextMap => json!({ "type": "object", "additionalProperties": { "type": "string" } }),
            Kind::List { max } => json!({ "type": "array", "maxItems": max }),
        };
        if let Value::Object(p) = &mut property {
            p.insert("description".into(), Value::String(arg.description.into()));
        }
        properties.insert(arg.name.into(), property);
    }
    let required: Vec<&str> = args.iter().filter(|a| a.required).map(|a| a.name).collect();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), json!(required));
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// Arguments that passed their declarations.
#[derive(Debug, Clone, Default)]
pub struct Arguments {
    map: Map<String, Value>,
}

impl Arguments {
    /// Checks names, presence, types and ranges; every problem is named in the message.
    pub fn validate(args: &[Arg], input: Option<Map<String, Value>>) -> Result<Arguments, ArgumentError> {
        let map = input.unwrap_or_default();
        let mut problems = Vec::new();
        for name in map.keys() {
            if !args.iter().any(|a| a.name == name) {
                let known: Vec<&str> = args.iter().map(|a| a.name).collect();
                problems.push(format!(
                    "unknown argument `{}` (this tool takes: {})",
                    printable(name),
                    if known.is_empty() { "nothing".to_string() } else { known.join(", ") }
                ));
            }
        }
        for arg in args {
            match map.get(arg.name) {
                None | Some(Value::Null) if arg.required => problems.push(format!("missing argument `{}`", arg.name)),
                None | Some(Value::Null) => {}
                Some(value) => {
                    if let Err(problem) = check_kind(arg, value) {
                        problems.push(problem);
                    }
                }
            }
        }
        if problems.is_empty() { Ok(Arguments { map }) } else { Err(invalid(problems.join("; "))) }
    }

    /// Arguments taken as they are, for a request AWS itself will validate (the sidecar's):
    /// only what builds the ARNs and condition keys is read.
    pub(crate) fn unchecked(map: Map<String, Value>) -> Arguments {
        Arguments { map }
    }

    pub fn text(&self, name: &str) -> Result<&str, ArgumentError> {
        self.opt_text(name).ok_or_else(|| invalid(format!("missing argument `{name}`")))
    }

    pub fn opt_text(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    pub fn opt_int(&self, name: &str) -> Option<i64> {
        self.map.get(name).and_then(Value::as_i64)
    }

    pub fn opt_i32(&self, name: &str) -> Option<i32> {
        self.opt_int(name).and_then(|n| i32::try_from(n).ok())
    }

    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.map.get(name).and_then(Value::as_bool)
    }

    pub fn object(&self, name: &str) -> Result<&Map<String, Value>, ArgumentError> {
        self.opt_object(name).ok_or_else(|| invalid(format!("missing argument `{name}`")))
    }

    pub fn opt_json(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn list(&self, name: &str) -> Result<&[Value], ArgumentError> {
        self.map
            .get(name)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| invalid(format!("missing argument `{name}`")))
    }

    pub fn opt_object(&self, name: &str) -> Option<&Map<String, Value>> {
        self.map.get(name).and_then(Value::as_object)
    }

    /// An S3 bucket name, as S3 accepts them: 3 to 63 lowercase letters, digits, dots and
    /// hyphens, starting and ending with a letter or digit.
    pub fn bucket(&self) -> Result<String, ArgumentError> {
        let name = self.text("bucket")?;
        let edges_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid = (3..=63).contains(&name.len())
            && edges_ok
            && !name.contains("..")
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if valid {
            Ok(name.to_string())
        } else {
            Err(invalid(format!(
                "`bucket` `{}` is not a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens",
                printable(name)
            )))
        }
    }

    /// An S3 object key: 1 to 1024 bytes of UTF-8, taken literally.
    pub fn key(&self) -> Result<String, ArgumentError> {
        let key = self.text("key")?;
        if key.is_empty() || key.len() > 1024 {
            return Err(invalid(format!("`key` must be 1 to 1024 bytes; it has {}", key.len())));
        }
        Ok(key.to_string())
    }

    /// A DynamoDB table or index name: 3 to 255 letters, digits, `_`, `-` and `.`.
    pub fn table_name(&self, name: &str) -> Result<String, ArgumentError> {
        let value = self.text(name)?;
        let valid =
            (3..=255).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if valid {
            Ok(value.to_string())
        } else {
            Err(invalid(format!(
                "`{name}` `{}` is not a table name: 3 to 255 letters, digits, `_`, `-` and `.`",
                printable(value)
            )))
        }
    }

    /// An SQS queue URL: `https://HOST/ACCOUNT/NAME`. Returns the URL, the account and the
    /// name, from which the queue's ARN is built.
    pub fn queue_url(&self) -> Result<QueueUrl, ArgumentError> {
        let url = self.text("queue_url")?;
        let bad = || {
            invalid(format!(
                "`queue_url` `{}` is not a queue URL like `https://sqs.us-east-1.amazonaws.com/123456789012/jobs`",
                printable(url)
            ))
        };
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let host = parts.next().unwrap_or_default();
        let account = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
        if parts.next().is_some() || !host_ok || !account_ok || !is_queue_name(name) {
            return Err(bad());
        }
        let region = queue_host_region(host).map_err(|()| {
            invalid(format!("`queue_url` host `{}` is an AWS host that names no region", printable(host)))
        })?;
        Ok(QueueUrl { url: url.to_string(), account: account.to_string(), name: name.to_string(), region })
    }

    pub fn queue_name(&self) -> Result<String, ArgumentError> {
        let name = self.text("queue_name")?;
        if is_queue_name(name) {
            Ok(name.to_string())
        } else {
            Err(invalid(format!(
                "`queue_name` `{}` is not a queue name: 1 to 80 letters, digits, `-` and `_`, with an optional `.fifo`",
                printable(name)
            )))
        }
    }
}

/// A parsed queue URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrl {
    pub url: String,
    pub account: String,
    pub name: String,
    /// The region an AWS queue host names (`sqs.eu-west-1.amazonaws.com`), if it is one.
    pub region: Option<String>,
}

/// The region an AWS queue host names, in every form AWS uses: `sqs.eu-west-1.amazonaws.com`
/// (with or without a trailing dot), `sqs-fips.us-east-1.amazonaws.com`,
/// `eu-west-1.queue.amazonaws.com`, dual-stack `sqs.eu-west-1.api.aws`, VPC endpoints
/// `vpce-0a1b-2c3d.sqs.eu-west-1.vpce.amazonaws.com`, China's `.amazonaws.com.cn`;
/// `queue.amazonaws.com` is us-east-1. `Ok(None)` for a host outside AWS's domains (a local
/// emulator). `Err` for an AWS host that names no region awsgate can read: refused, since
/// the ARN judged must be the queue acted on.
fn queue_host_region(host: &str) -> Result<Option<String>, ()> {
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    const AWS_DOMAINS: &[&str] = &[".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".api.amazonwebservices.com.cn"];
    let Some(rest) = AWS_DOMAINS.iter().find_map(|domain| host.strip_suffix(domain)) else {
        return Ok(None);
    };
    if rest == "queue" {
        return Ok(Some("us-east-1".into()));
    }
    match rest.split('.').find(|label| crate::policy::is_region(label)) {
        Some(region) => Ok(Some(region.to_string())),
        None => Err(()),
    }
}

fn is_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&base.len()) && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_kind(arg: &Arg, value: &Value) -> Result<(), String> {
    let name = arg.name;
    match (arg.kind, value) {
        (Kind::Text { max }, Value::String(s)) if s.len() > max => {
            Err(format!("`{name}` is too long: {} bytes, at most {max}", s.len()))
        }
        (Kind::Text { .. }, Value::String(_)) => Ok(()),
        (Kind::Integer { min, max }, Value::Number(n)) => match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => Ok(()),
            _ => Err(format!("`{name}` must be a whole number from {min} to {max}; got {n}")),
        },
        (Kind::Boolean, Value::Bool(_)) | (Kind::Json, _) | (Kind::Object, Value::Object(_)) => Ok(()),
        (Kind::TextMap, Value::Object(map)) if map.values().all(Value::is_string) => Ok(()),
        (Kind::List { max }, Value::Array(items)) if items.len() > max => {
            Err(format!("`{name}` has {} items; at most {max}", items.len()))
        }
        (Kind::List { .. }, Value::Array(_)) => Ok(()),
        (kind, value) => Err(format!("`{name}` must be {}; got {}", expected(kind), json_type(value))),
    }
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Text { .. } => "a string",
        Kind::Integer { .. } => "a whole number",
        Kind::Boolean => "true or false",
        Kind::Json => "a JSON value",
        Kind::Object => "an object",
        Kind::TextMap => "an object of strings",
        Kind::List { .. } => "a list",
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Shows user input in a message without letting control characters or a huge value
/// through: escaped like a Rust string and cut at 200 characters.
pub fn printable(text: &str) -> String {
    let escaped: String = text.escape_debug().collect();
    match escaped.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", escaped.get(..cut).unwrap_or_default()),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGS: &[Arg] = &[
        required("bucket", SHORT, "b"),
        optional("max_keys", Kind::Integer { min: 1, max: 1000 }, "n"),
        optional("flag", Kind::Boolean, "f"),
    ];

    fn args(value: Value) -> Result<Arguments, ArgumentError> {
        Arguments::validate(ARGS, value.as_object().cloned())
    }

    #[test]
    fn every_problem_is_named() {
        let error = args(json!({"max_keys": 0, "flag": "yes", "bukket": "x"})).unwrap_err();
        assert!(error.0.contains("unknown argument `bukket` (this tool takes: bucket, max_keys, flag)"), "{error}");
        assert!(error.0.contains("missing argument `bucket`"), "{error}");
        assert!(error.0.contains("`max_keys` must be a whole number from 1 to 1000; got 0"), "{error}");
        assert!(error.0.contains("`flag` must be true or false; got a string"), "{error}");
    }

    #[test]
    fn bucket_names_are_strict() {
        for good in ["reports", "my.bucket-1", "abc"] {
            assert!(args(json!({ "bucket": good })).unwrap().bucket().is_ok(), "{good}");
        }
        for bad in ["ab", "Reports", "a/b", "a..b", "-ab", "reports/../secret", "a b c", "bucket?"] {
            assert!(args(json!({ "bucket": bad })).unwrap().bucket().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_aws_queue_host_form_names_its_region() {
        for (host, region) in [
            ("sqs.eu-west-1.amazonaws.com", Some("eu-west-1")),
            ("sqs.eu-west-1.amazonaws.com.", Some("eu-west-1")),
            ("SQS.EU-WEST-1.AMAZONAWS.COM:443", Some("eu-west-1")),
            ("sqs-fips.us-gov-west-1.amazonaws.com", Some("us-gov-west-1")),
            ("eu-west-1.queue.amazonaws.com", Some("eu-west-1")),
            ("sqs.eu-west-1.api.aws", Some("eu-west-1")),
            ("vpce-0a1b2c3d-4e5f.sqs.eu-west-1.vpce.amazonaws.com", Some("eu-west-1")),
            ("sqs.cn-north-1.amazonaws.com.cn", Some("cn-north-1")),
            ("queue.amazonaws.com", Some("us-east-1")),
            ("127.0.0.1:4566", None),
            ("localhost", None),
        ] {
            assert_eq!(queue_host_region(host), Ok(region.map(str::to_string)), "{host}");
        }
        assert_eq!(queue_host_region("sqs.amazonaws.com"), Err(()));
        assert_eq!(queue_host_region("evil.sqs.amazonaws.com."), Err(()));
    }

    #[test]
    fn queue_urls_parse_into_account_and_name() {
        let parsed = Arguments::validate(
            &[required("queue_url", SHORT, "")],
            json!({"queue_url": "http://127.0.0.1:5000/123456789012/jobs.fifo"}).as_object().cloned(),
        )
        .unwrap()
        .queue_url()
        .unwrap();
        assert_eq!((parsed.account.as_str(), parsed.name.as_str()), ("123456789012", "jobs.fifo"));
        for bad in [
            "jobs",
            "https://h/123/jobs",
            "https://h/123456789012/jobs/x",
            "https://h/123456789012/j*bs",
            "ftp://h/123456789012/jobs",
        ] {
            let a = Arguments::validate(
                &[required("queue_url", SHORT, "")],
                json!({ "queue_url": bad }).as_object().cloned(),
            )
            .unwrap();
            assert!(a.queue_url().is_err(), "{bad}");
        }
    }

    #[test]
    fn printable_escapes_and_cuts() {
        assert_eq!(printable("a\nb\"c"), "a\\nb\\\"c");
        assert_eq!(printable(&"x".repeat(300)).len(), 203);
    }

    #[test]
    fn schema_lists_required_arguments_and_forbids_others() {
        let schema = schema(ARGS);
        assert_eq!(schema["required"], json!(["bucket"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["properties"]["max_keys"]["maximum"], json!(1000));
    }
}
