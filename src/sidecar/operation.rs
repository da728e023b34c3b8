//! Which AWS operation a wire request is, and what the gate judges it as. S3 is read from
//! its REST path (path or virtual-host style) and query; the JSON protocols from
//! `X-Amz-Target`; the query protocols from `Action=`; Lambda from its REST path. An
//! operation that a catalog tool calls is judged by that tool's own code (its ARNs, its
//! condition keys, its name look-ups); the S3 operations SDKs send around the tools
//! (multipart parts, copies, tagging) are mapped here.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::verify::form_urlencoded_pairs;
use crate::aws::Scope;
use crate::catalog::{self, Prepared};

/// How the service's protocol writes errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// S3: `<Error><Code>...</Code>...</Error>`.
    RestXml,
    /// `X-Amz-Target` services and Lambda: `{"__type": ..., "message": ...}`.
    Json,
    /// `Action=` services: `<ErrorResponse><Error>...</Error></ErrorResponse>`.
    Query,
}

/// One request, recognized.
#[derive(Debug)]
pub struct Operation {
    /// The IAM service prefix (`cloudwatch` for the `monitoring` signing name), or the
    /// signing name of a service awsgate does not know.
    pub service: String,
    /// The API operation, e.g. `GetObject`, `UploadPart`, `SendMessage`.
    pub name: String,
    pub protocol: Protocol,
    /// Whether it changes AWS (sent once, never retried).
    pub writes: bool,
    /// The S3 bucket, to forward virtual-host requests path-style.
    pub bucket: Option<String>,
    pub virtual_host: bool,
    /// What the gate judges, or why it cannot judge the request.
    pub judged: Result<Vec<Judged>, Unjudged>,
}

/// Why a request cannot be judged.
#[derive(Debug, Clone)]
pub enum Unjudged {
    /// awsgate has no mapping for the operation: `sidecar.unknown_operations` decides.
    Unmapped(String),
    /// The operation is known, but the request cannot be read as the gate must read it (a
    /// body that is not JSON, a name that is not valid, a DynamoDB legacy parameter):
    /// refused, whatever the policy.
    Invalid(String),
}

/// One action the gate judges for the operation (CopyObject has two).
#[derive(Debug)]
pub struct Judged {
    /// `service:Action`.
    pub action: String,
    pub prepared: Prepared,
}

impl Operation {
    /// `service:Operation`, for unmapped requests.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }
}

/// The IAM prefix of a SigV4 signing name; `None` for services awsgate has no mapping for.
pub fn iam_service(signing_name: &str) -> Option<&'static str> {
    Some(match signing_name {
        "s3" => "s3",
        "dynamodb" => "dynamodb",
        "sqs" => "sqs",
        "sns" => "sns",
        "lambda" => "lambda",
        "secretsmanager" => "secretsmanager",
        "kms" => "kms",
        "logs" => "logs",
        "monitoring" => "cloudwatch",
        "ssm" => "ssm",
        "ec2" => "ec2",
        "iam" => "iam",
        "rds" => "rds",
        "sts" => "sts",
        _ => return None,
    })
}

/// Recognizes the request. `body` is the buffered body of non-S3 requests.
pub fn recognize(parts: &http::request::Parts, signing_name: &str, body: &[u8], scope: &Scope) -> Operation {
    let Some(service) = iam_service(signing_name) else {
        let name = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .map_or_else(|| query_action(parts, body).unwrap_or_else(|| "unknown".into()), str::to_string);
        return unmapped(
            signing_name,
            name,
            Protocol::Json,
            format!("awsgate has no mapping for the service `{signing_name}`"),
        );
    };
    if service == "s3" {
        return s3(parts, scope);
    }
    if service == "lambda" {
        return lambda(parts, body, scope);
    }
    if let Some(target) = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let name = target.rsplit('.').next().unwrap_or(target).to_string();
        let input = match serde_json::from_slice::<Value>(if body.is_empty() { b"{}" } else { body }) {
            Ok(Value::Object(map)) => map,
            _ => return invalid(service, name, Protocol::Json, "the request body is not a JSON object".into()),
        };
        let legacy = DYNAMODB_LEGACY.iter().find(|p| service == "dynamodb" && input.contains_key(**p));
        if let Some(legacy) = legacy {
            let why = format!(
                "awsgate judges DynamoDB requests by their expressions; the legacy parameter `{legacy}` is not accepted (use the expression parameters)"
            );
            return invalid(service, name, Protocol::Json, why);
        }
        let mut operation = by_tool(service, name, Protocol::Json, json_arguments(service, &input), scope);
        if let Ok(judged) = &mut operation.judged {
            for one in judged {
                request_parameter_keys(service, &input, &mut one.prepared);
            }
        }
        return operation;
    }
    match query_action(parts, body) {
        Some(name) => {
            let input = query_arguments(service, parts, body);
            by_tool(service, name, Protocol::Query, input, scope)
        }
        None => unmapped(
            service,
            "unknown".into(),
            Protocol::Query,
            "the request names no operation (no X-Amz-Target or Action)".into(),
        ),
    }
}

fn unmapped(service: &str, name: String, protocol: Protocol, why: String) -> Operation {
    Operation {
        service: service.to_string(),
        name,
        protocol,
        writes: true,
        bucket: None,
        virtual_host: false,
        judged: Err(Unjudged::Unmapped(why)),
    }
}

fn invalid(service: &str, name: String, protocol: Protocol, why: String) -> Operation {
    Operation { judged: Err(Unjudged::Invalid(why)), ..unmapped(service, name, protocol, String::new()) }
}

/// DynamoDB's legacy parameters. They name keys and attributes outside the expressions
/// the tools read, so `dynamodb:LeadingKeys` and `dynamodb:Attributes` could not be
/// derived from them: such a request is refused rather than judged without them.
const DYNAMODB_LEGACY: &[&str] = &[
    "KeyConditions",
    "AttributesToGet",
    "QueryFilter",
    "ScanFilter",
    "Expected",
    "AttributeUpdates",
    "ConditionalOperator",
];

/// Condition keys that are request parameters: the wire's value is what AWS evaluates, not
/// the one the tool would send. `ReturnValues` absent is `NONE`; `Select` absent keeps the
/// tool's inference from the projection.
fn request_parameter_keys(service: &str, input: &Map<String, Value>, prepared: &mut Prepared) {
    if service != "dynamodb" {
        return;
    }
    fn set(prepared: &mut Prepared, key: &str, value: &str) {
        prepared.context.retain(|(k, _)| k != key);
        prepared.context.push((key.to_string(), vec![value.to_string()]));
    }
    if prepared.context.iter().any(|(k, _)| k == "dynamodb:returnvalues") || input.contains_key("ReturnValues") {
        let value = input.get("ReturnValues").and_then(Value::as_str).unwrap_or("NONE");
        set(prepared, "dynamodb:returnvalues", value);
    }
    if let Some(select) = input.get("Select").and_then(Value::as_str) {
        set(prepared, "dynamodb:select", select);
    }
}

/// An operation a catalog tool calls, judged by the tool's code.
fn by_tool(service: &str, name: String, protocol: Protocol, input: Map<String, Value>, scope: &Scope) -> Operation {
    let Some(tool) = catalog::find_operation(service, &name) else {
        let why = format!("awsgate has no mapping for `{service}:{name}` (no tool calls it)");
        return unmapped(service, name, protocol, why);
    };
    let judged = tool
        .judge_wire(input, scope)
        .map(|prepared| vec![Judged { action: tool.iam_action(), prepared }])
        .map_err(|error| Unjudged::Invalid(format!("awsgate cannot judge this `{name}` request: {}", error.0)));
    Operation {
        service: service.to_string(),
        name,
        protocol,
        writes: tool.access == catalog::Access::Write,
        bucket: None,
        virtual_host: false,
        judged,
    }
}

/// `Action=` from the form body or the query string.
fn query_action(parts: &http::request::Parts, body: &[u8]) -> Option<String> {
    let from =
        |text: &str| form_urlencoded_pairs(text).into_iter().find(|(k, _)| k == "Action").map(|(_, v)| v.into_owned());
    std::str::from_utf8(body).ok().and_then(from).or_else(|| parts.uri.query().and_then(from))
}

/// `TableName` -> `table_name`; `DBInstanceIdentifier` -> `db_instance_identifier`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The tool's arguments from a JSON protocol body: names in snake case, DynamoDB's typed
/// values as plain JSON.
fn json_arguments(service: &str, input: &Map<String, Value>) -> Map<String, Value> {
    input
        .iter()
        .map(|(name, value)| {
            let arg = argument_name(service, name);
            let value = match (service, arg.as_str()) {
                ("dynamodb", "key" | "item" | "exclusive_start_key" | "expression_attribute_values") => {
                    plain_item(value)
                }
                _ => value.clone(),
            };
            (arg, value)
        })
        .collect()
}

/// The tool's argument for a wire parameter (or a numbered list's name): its name in snake
/// case, but for the few tools that name it otherwise.
fn argument_name(service: &str, wire: &str) -> String {
    match (service, wire) {
        ("dynamodb", "TableName") => "table".into(),
        ("sqs", "MaxNumberOfMessages") => "max_messages".into(),
        ("rds", "DBInstanceIdentifier") => "db_instance_identifier".into(),
        ("ec2", "InstanceId") => "instance_ids".into(),
        ("ec2", "VolumeId") => "volume_ids".into(),
        ("ec2", "ResourceId") => "resources".into(),
        _ => snake_case(wire),
    }
}

/// DynamoDB's `{"pk": {"S": "a"}}` as `{"pk": "a"}`. Sets and binaries, which plain JSON
/// cannot write, become lists and base64 strings: no key condition tests them.
fn plain_item(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), plain_value(v))).collect()),
        other => other.clone(),
    }
}

fn plain_value(value: &Value) -> Value {
    let Value::Object(typed) = value else { return value.clone() };
    let Some((kind, inner)) = typed.iter().next() else { return Value::Null };
    match (kind.as_str(), inner) {
        ("S" | "B", Value::String(s)) => json!(s),
        ("N", Value::String(n)) => {
            serde_json::from_str::<serde_json::Number>(n).map_or_else(|_| json!(n), Value::Number)
        }
        ("BOOL", b) => b.clone(),
        ("NULL", _) => Value::Null,
        ("L", Value::Array(items)) => Value::Array(items.iter().map(plain_value).collect()),
        ("M", m) => plain_item(m),
        (_, other) => other.clone(),
    }
}

/// The tool's arguments from a query-protocol form: `Name=...` as `name`, and the
/// numbered lists EC2 and IAM write (`InstanceId.1`, `Tag.1.Key`) as lists and maps.
fn query_arguments(service: &str, parts: &http::request::Parts, body: &[u8]) -> Map<String, Value> {
    let mut pairs = form_urlencoded_pairs(std::str::from_utf8(body).unwrap_or_default());
    if pairs.is_empty() {
        pairs = form_urlencoded_pairs(parts.uri.query().unwrap_or_default());
    }
    let mut out = Map::new();
    let mut lists: Vec<(String, usize, String)> = Vec::new();
    let mut tags: Vec<(usize, &'static str, String)> = Vec::new();
    for (name, value) in &pairs {
        let segments: Vec<&str> = name.split('.').collect();
        match segments.as_slice() {
            [one] => {
                out.insert(argument_name(service, one), json!(value));
            }
            ["Tag", n, field @ ("Key" | "Value")] => {
                if let Ok(n) = n.parse() {
                    tags.push((n, if *field == "Key" { "key" } else { "value" }, value.to_string()));
                }
            }
            [list, n] | [list, "member", n] => {
                if let Ok(n) = n.parse() {
                    lists.push((list.to_string(), n, value.to_string()));
                }
            }
            _ => {}
        }
    }
    lists.sort_by_key(|(_, n, _)| *n);
    for (list, _, value) in lists {
        if let Some(items) = out.entry(argument_name(service, &list)).or_insert_with(|| json!([])).as_array_mut() {
            items.push(json!(value));
        }
    }
    if !tags.is_empty() {
        let mut keys: Vec<(usize, String)> = tags.iter().filter(|t| t.1 == "key").map(|t| (t.0, t.2.clone())).collect();
        keys.sort();
        let map: Map<String, Value> = keys
            .into_iter()
            .map(|(n, key)| {
                let value = tags.iter().find(|t| t.0 == n && t.1 == "value").map_or(String::new(), |t| t.2.clone());
                (key, json!(value))
            })
            .collect();
        out.insert("tags".into(), Value::Object(map));
    }
    out
}

/// Lambda's REST paths: `/2015-03-31/functions/`, `/2015-03-31/functions/NAME`,
/// `/2015-03-31/functions/NAME/invocations`.
fn lambda(parts: &http::request::Parts, _body: &[u8], scope: &Scope) -> Operation {
    let path = parts.uri.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let qualifier = form_urlencoded_pairs(parts.uri.query().unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v.into_owned());
    let mut input = Map::new();
    let name = match (parts.method.as_str(), segments.as_slice()) {
        ("GET", [_, "functions"]) => "ListFunctions",
        ("GET", [_, "functions", function]) => {
            input.insert("function_name".into(), json!(decode(function)));
            "GetFunction"
        }
        ("POST", [_, "functions", function, "invocations"]) => {
            input.insert("function_name".into(), json!(decode(function)));
            "Invoke"
        }
        _ => {
            let why = format!("awsgate has no mapping for the Lambda request `{} {path}`", parts.method);
            return unmapped("lambda", "unknown".into(), Protocol::Json, why);
        }
    };
    if let Some(qualifier) = qualifier {
        input.insert("qualifier".into(), json!(qualifier));
    }
    by_tool("lambda", name.to_string(), Protocol::Json, input, scope)
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// S3's REST API: the bucket from the host (virtual-host style) or the path's first
/// segment, the key from the rest of the path, the operation from the method, the
/// sub-resources in the query and the copy-source header.
fn s3(parts: &http::request::Parts, scope: &Scope) -> Operation {
    let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let host_name =
        host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    let path = parts.uri.path();
    let virtual_bucket = virtual_host_bucket(host_name);
    let (bucket, key) = match &virtual_bucket {
        Some(bucket) => (Some(bucket.clone()), path.strip_prefix('/').filter(|k| !k.is_empty()).map(decode)),
        None => {
            let trimmed = path.strip_prefix('/').unwrap_or(path);
            match trimmed.split_once('/') {
                Some((bucket, key)) => (Some(decode(bucket)), (!key.is_empty()).then(|| decode(key))),
                None if trimmed.is_empty() => (None, None),
                None => (Some(decode(trimmed)), None),
            }
        }
    };
    // A presigned request's signature is not a sub-resource.
    let query: Vec<(String, String)> = form_urlencoded_pairs(parts.uri.query().unwrap_or_default())
        .into_iter()
        .filter(|(k, _)| !k.starts_with("X-Amz-"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let copy_source = parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()).map(decode);
    let method = parts.method.as_str();
    let object = |b: &str, k: &str| catalog::object_arn(scope, b, k);
    let bucket_arn = |b: &str| catalog::bucket_arn(scope, b);
    // (operation, writes, judged actions on resources), or the tool that calls it.
    enum Plan {
        Tool(&'static str, Map<String, Value>),
        Direct(&'static str, bool, Vec<(&'static str, String)>),
        None,
    }
    let plan = match (method, bucket.as_deref(), key.as_deref()) {
        ("GET", None, None) => Plan::Tool("ListAllMyBuckets", Map::new()),
        ("GET", Some(b), None) if has("location") => Plan::Tool("GetBucketLocation", args(&[("bucket", b)])),
        ("GET", Some(b), None) if has("versions") => {
            Plan::Direct("ListObjectVersions", false, vec![("ListBucketVersions", bucket_arn(b))])
        }
        ("GET", Some(b), None) if has("uploads") => {
            Plan::Direct("ListMultipartUploads", false, vec![("ListBucketMultipartUploads", bucket_arn(b))])
        }
        ("GET", Some(b), None) if query.iter().all(|(k, _)| LIST_PARAMS.contains(&k.as_str())) => {
            let mut input = args(&[("bucket", b)]);
            for (name, arg) in [("prefix", "prefix"), ("delimiter", "delimiter"), ("max-keys", "max_keys")] {
                if let Some(v) = value(name) {
                    let v = if arg == "max_keys" { v.parse::<i64>().map_or(json!(v), |n| json!(n)) } else { json!(v) };
                    input.insert(arg.into(), v);
                }
            }
            let name = if value("list-type").as_deref() == Some("2") { "ListObjectsV2" } else { "ListObjects" };
            return s3_tool(name, "ListBucket", input, scope, virtual_bucket.is_some(), bucket);
        }
        ("HEAD", Some(b), None) => Plan::Direct("HeadBucket", false, vec![("ListBucket", bucket_arn(b))]),
        ("PUT", Some(b), None) if query.is_empty() => {
            Plan::Direct("CreateBucket", true, vec![("CreateBucket", bucket_arn(b))])
        }
        ("DELETE", Some(b), None) if query.is_empty() => {
            Plan::Direct("DeleteBucket", true, vec![("DeleteBucket", bucket_arn(b))])
        }
        ("GET", Some(b), Some(k)) if has("tagging") => {
            Plan::Direct("GetObjectTagging", false, vec![("GetObjectTagging", object(b, k))])
        }
        ("GET", Some(b), Some(k)) if has("uploadId") => {
            Plan::Direct("ListParts", false, vec![("ListMultipartUploadParts", object(b, k))])
        }
        ("GET", Some(b), Some(k)) if query.iter().all(|(k, _)| GET_PARAMS.contains(&k.as_str())) => {
            Plan::Tool("GetObject", args(&[("bucket", b), ("key", k)]))
        }
        ("HEAD", Some(b), Some(k)) if query.iter().all(|(k, _)| GET_PARAMS.contains(&k.as_str())) => {
            Plan::Tool("HeadObject", args(&[("bucket", b), ("key", k)]))
        }
        ("PUT", Some(b), Some(k)) if has("tagging") => {
            Plan::Direct("PutObjectTagging", true, vec![("PutObjectTagging", object(b, k))])
        }
        ("PUT", Some(b), Some(k)) if has("partNumber") && has("uploadId") => match &copy_source {
            Some(source) => match copy_source_arn(scope, source) {
                Some(source) => {
                    Plan::Direct("UploadPartCopy", true, vec![("GetObject", source), ("PutObject", object(b, k))])
                }
                None => Plan::None,
            },
            None => Plan::Direct("UploadPart", true, vec![("PutObject", object(b, k))]),
        },
        ("PUT", Some(b), Some(k)) if query.is_empty() => match &copy_source {
            Some(source) => match copy_source_arn(scope, source) {
                Some(source) => {
                    Plan::Direct("CopyObject", true, vec![("GetObject", source), ("PutObject", object(b, k))])
                }
                None => Plan::None,
            },
            None => Plan::Direct("PutObject", true, vec![("PutObject", object(b, k))]),
        },
        ("POST", Some(b), Some(k)) if has("uploads") => {
            Plan::Direct("CreateMultipartUpload", true, vec![("PutObject", object(b, k))])
        }
        ("POST", Some(b), Some(k)) if has("uploadId") => {
            Plan::Direct("CompleteMultipartUpload", true, vec![("PutObject", object(b, k))])
        }
        ("DELETE", Some(b), Some(k)) if has("uploadId") => {
            Plan::Direct("AbortMultipartUpload", true, vec![("AbortMultipartUpload", object(b, k))])
        }
        ("DELETE", Some(b), Some(k)) if has("tagging") => {
            Plan::Direct("DeleteObjectTagging", true, vec![("DeleteObjectTagging", object(b, k))])
        }
        ("DELETE", Some(b), Some(k)) if query.iter().all(|(k, _)| k == "versionId") => {
            Plan::Tool("DeleteObject", args(&[("bucket", b), ("key", k)]))
        }
        _ => Plan::None,
    };
    let virtual_host = virtual_bucket.is_some();
    match plan {
        Plan::Tool(operation, input) => s3_tool(operation, operation, input, scope, virtual_host, bucket),
        Plan::Direct(name, writes, judged) => {
            let judged = judged
                .into_iter()
                .map(|(action, arn)| {
                    let mut prepared = Prepared::judged_only(vec![arn]);
                    catalog::conditions::add_tag_lookups("s3", action, &mut prepared);
                    Judged { action: format!("s3:{action}"), prepared }
                })
                .collect();
            Operation {
                service: "s3".into(),
                name: name.into(),
                protocol: Protocol::RestXml,
                writes,
                bucket,
                virtual_host,
                judged: Ok(judged),
            }
        }
        Plan::None => {
            let sub: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
            let what = format!(
                "{method} {}{}",
                if key.is_some() {
                    "object"
                } else if bucket.is_some() {
                    "bucket"
                } else {
                    "service"
                },
                if sub.is_empty() { String::new() } else { format!(" ?{}", sub.join("&")) }
            );
            let mut operation = unmapped(
                "s3",
                what.clone(),
                Protocol::RestXml,
                format!("awsgate has no mapping for the S3 request `{what}`"),
            );
            operation.bucket = bucket;
            operation.virtual_host = virtual_host;
            operation
        }
    }
}

/// Query parameters of a `ListObjects(V2)` request.
const LIST_PARAMS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "marker",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
];

/// Query parameters a `GetObject`/`HeadObject` may carry without becoming another operation.
const GET_PARAMS: &[&str] = &[
    "versionId",
    "partNumber",
    "response-content-type",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-cache-control",
    "response-expires",
    "x-id",
];

fn args(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect()
}

/// An S3 operation judged by the catalog tool for `tool_operation`.
fn s3_tool(
    name: &str,
    tool_operation: &str,
    input: Map<String, Value>,
    scope: &Scope,
    virtual_host: bool,
    bucket: Option<String>,
) -> Operation {
    let mut operation = by_tool("s3", tool_operation.to_string(), Protocol::RestXml, input, scope);
    operation.name = name.to_string();
    operation.bucket = bucket;
    operation.virtual_host = virtual_host;
    operation
}

/// `bucket/key` or `/bucket/key` (with `?versionId=`) as the source object's ARN.
fn copy_source_arn(scope: &Scope, source: &str) -> Option<String> {
    let source = source.split('?').next().unwrap_or(source);
    let (bucket, key) = source.trim_start_matches('/').split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| catalog::object_arn(scope, bucket, key))
}

/// The bucket of a virtual-host-style request: `BUCKET.localhost`, or
/// `BUCKET.s3.REGION.amazonaws.com`.
fn virtual_host_bucket(host: &str) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let (first, rest) = host.split_once('.')?;
    let known = rest == "localhost" || rest.starts_with("s3.") || rest.starts_with("s3-");
    (known && !first.is_empty()).then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_argument_names() {
        assert_eq!(snake_case("TableName"), "table_name");
        assert_eq!(snake_case("DBInstanceIdentifier"), "db_instance_identifier");
        assert_eq!(snake_case("logGroupName"), "log_group_name");
        assert_eq!(snake_case("QueueUrl"), "queue_url");
    }

    #[test]
    fn typed_values_become_plain() {
        let item = json!({"pk": {"S": "a"}, "n": {"N": "2"}, "m": {"M": {"x": {"BOOL": true}}}});
        assert_eq!(plain_item(&item), json!({"pk": "a", "n": 2, "m": {"x": true}}));
    }
}
