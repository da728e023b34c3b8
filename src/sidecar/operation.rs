//! What a wire request is: one operation of the AWS service models and its input, read
//! once and strictly ([`recognize`]), or refused with the reason. The reading yields both
//! what the gate judges ([`Judged`]: the IAM actions AWS requires and their resources) and
//! what is sent on ([`Forward`]): the request rebuilt from that same reading, so nothing
//! the gate did not see reaches AWS. S3 is read in [`super::s3`]; Lambda's REST paths,
//! the JSON protocols (`X-Amz-Target`), Smithy RPC v2 CBOR and the query protocols
//! (`Action=`) here. An operation that a catalog tool calls is judged by that tool's own
//! code (its ARNs, its condition keys, its name look-ups).

use serde_json::{Map, Value, json};

use super::model::{self, Location, OperationModel, ServiceModel};
use super::rest::{self, Offer};
use super::wire::{self, Pairs, Plus};
use crate::aws::Scope;
use crate::catalog::{self, Prepared};

/// How the service's protocol writes errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// S3: `<Error><Code>...</Code>...</Error>`.
    RestXml,
    /// `X-Amz-Target` services and Lambda: `{"__type": ..., "message": ...}`.
    Json,
    /// Smithy RPC v2 CBOR: the same map as JSON's, in CBOR.
    Cbor,
    /// `Action=` services: `<ErrorResponse><Error>...</Error></ErrorResponse>`.
    Query,
}

/// One request, read.
#[derive(Debug)]
pub struct Operation {
    /// The IAM service prefix (`cloudwatch` for the `monitoring` signing name).
    pub service: String,
    /// The API operation, e.g. `GetObject`, `UploadPart`, `SendMessage`.
    pub name: String,
    pub protocol: Protocol,
    /// Whether it changes AWS (sent once, never retried).
    pub writes: bool,
    /// What is sent to AWS, rebuilt from what was read.
    pub forward: Forward,
    /// What the gate judges, or why it cannot judge the request.
    pub judged: Result<Vec<Judged>, Unjudged>,
    /// A multipart upload this request continues.
    pub upload: Option<Upload>,
    /// Whether this request starts a multipart upload (`CreateMultipartUpload`).
    pub creates_upload: bool,
    /// The judged input as an operator reads it: names in full, content by its size.
    pub parameters: Vec<(String, String)>,
}

/// A multipart upload, by its bucket, key and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
}

/// The request as it goes on: method, canonical path, the query members the operation
/// takes, the headers it takes (plus the body's framing). The body goes as verified.
#[derive(Debug, Clone)]
pub struct Forward {
    pub method: http::Method,
    /// Percent-encoded.
    pub path: String,
    pub query: Pairs,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The body's SHA-256 when it is known before it is sent (buffered or signed).
    pub body_sha256: Option<String>,
    /// The body rebuilt from what was read (a query-protocol form); `None`: the verified
    /// body goes as it came.
    pub body: Option<bytes::Bytes>,
}

impl Forward {
    /// `path?query`, canonically encoded.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, self.query.encode()) }
    }

    /// The hash of the whole request as it will be sent: what an approval binds.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.method.as_str());
        hasher.update(b"\n");
        hasher.update(self.path_and_query());
        let mut headers: Vec<(&str, &[u8])> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        headers.sort();
        for (name, value) in headers {
            hasher.update(b"\n");
            hasher.update(name);
            hasher.update(b":");
            hasher.update(value);
        }
        hasher.update(b"\n");
        hasher.update(self.body_sha256.as_deref().unwrap_or("unsigned"));
        super::forward::hex(&hasher.finalize())
    }
}

/// Why a request that was read cannot be judged.
#[derive(Debug, Clone)]
pub enum Unjudged {
    /// awsgate does not know the operation's resources: `sidecar.unknown_operations` decides.
    Unmapped(String),
    /// The operation is known, but its input cannot be judged as the gate must judge it
    /// (a name that is not valid, a DynamoDB legacy parameter): refused, whatever the policy.
    Invalid(String),
}

/// One action the gate judges for the operation (CopyObject has two, a batch one per item).
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

    /// The operation and its judged input, as the console and the webhook show it.
    pub fn summary(&self) -> String {
        let mut out = self.name.clone();
        for (name, value) in &self.parameters {
            out.push_str(&format!("\n{name} = {value}"));
        }
        out
    }
}

/// The top-level members of a body as an operator reads them: names (of tables, queues,
/// functions, keys...) in full, everything else by its size.
pub fn parameters(input: &Map<String, Value>) -> Vec<(String, String)> {
    input
        .iter()
        .map(|(name, value)| {
            let shown = match value {
                Value::String(text) if is_name(name) && text.len() <= 256 => format!("{text:?}"),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                other => format!("({} bytes)", other.to_string().len()),
            };
            (name.clone(), shown)
        })
        .collect()
}

fn is_name(member: &str) -> bool {
    ["Name", "Url", "Arn", "Id", "Identifier", "Prefix", "Stage", "Qualifier", "Select", "ReturnValues"]
        .iter()
        .any(|suffix| member.ends_with(suffix))
}

/// Most items a batch or transaction may carry (AWS's own limit for transactions).
const MAX_ITEMS: usize = 100;

/// Headers a non-S3 request may carry that are not members: the signature's (not
/// forwarded) and the protocols' own.
const PROTOCOL_HEADERS: &[&str] = &[
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-user-agent",
    "x-amz-target",
    "x-amzn-query-mode",
    // botocore's endpoint discovery (DynamoDB `DescribeEndpoints`); not forwarded.
    "x-amz-api-version",
];

/// Reads the request by the model of the service it was signed for. `query` is the URL's
/// query without a presigned signature; `body` the verified body (S3's streams, so it is
/// empty unless [`super::s3::buffers_body`]); `scope` has the region the request was
/// signed for. An error is why the request cannot be read one way only.
pub fn recognize(
    parts: &http::request::Parts,
    query: &Pairs,
    signing_name: &str,
    body: &[u8],
    scope: &Scope,
) -> Result<Operation, String> {
    let model = model::by_signing_name(signing_name).ok_or_else(|| {
        format!("awsgate's sidecar serves 14 services; `{}` is not one of them", wire::printable(signing_name))
    })?;
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("x-amz") {
            wire::header_text(name.as_str(), value)?;
        }
    }
    match model.service.as_str() {
        "s3" => super::s3::read(parts, query, body, scope),
        "lambda" => lambda(model, parts, query, body, scope),
        _ if parts.headers.contains_key("x-amz-target") => json_protocol(model, parts, query, body, scope),
        _ if parts.headers.contains_key("smithy-protocol") => cbor_protocol(model, parts, query, body, scope),
        _ => query_protocol(model, parts, query, body, scope),
    }
}

/// The headers a buffered-body request keeps: `keep` names them (lower case). Each is
/// given once, or the request reads two ways.
fn kept_headers(
    parts: &http::request::Parts,
    keep: &[&str],
) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, String> {
    let mut kept = Vec::new();
    for (name, value) in parts.headers.iter().filter(|(n, _)| keep.contains(&n.as_str())) {
        wire::one_header(&parts.headers, name.as_str())?;
        kept.push((name.clone(), value.clone()));
    }
    Ok(kept)
}

/// `x-amz-*` headers a non-S3 request may not carry: none but the protocol's.
fn no_other_amz_headers(parts: &http::request::Parts, operation: &str) -> Result<(), String> {
    match parts
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|n| n.starts_with("x-amz") && !PROTOCOL_HEADERS.contains(n))
    {
        Some(name) => Err(format!("`{operation}` takes no header `{name}`")),
        None => Ok(()),
    }
}

/// Refuses a body member the operation does not take.
fn only_members(op: &OperationModel, name: &str, input: &Map<String, Value>) -> Result<(), String> {
    match input.keys().find(|member| op.member(Location::Body, member).is_none()) {
        Some(member) => Err(format!("`{name}` takes no member `{}`", wire::printable(member))),
        None => Ok(()),
    }
}

/// A `POST` to `path` whose verified body goes on as it came.
fn verbatim(path: String, headers: Vec<(http::HeaderName, http::HeaderValue)>, body: &[u8]) -> Forward {
    Forward {
        method: http::Method::POST,
        path,
        query: Pairs::default(),
        headers,
        body_sha256: Some(sha256(body)),
        body: None,
    }
}

fn sha256(body: &[u8]) -> String {
    use sha2::Digest;
    super::forward::hex(&sha2::Sha256::digest(body))
}

/// The JSON protocols: `POST /` with `X-Amz-Target: Prefix.Operation`, a JSON object body,
/// and no query string.
fn json_protocol(
    model: &'static ServiceModel,
    parts: &http::request::Parts,
    query: &Pairs,
    body: &[u8],
    scope: &Scope,
) -> Result<Operation, String> {
    let target = wire::one_header(&parts.headers, "x-amz-target")?.unwrap_or_default();
    let (prefix, name) = target
        .rsplit_once('.')
        .ok_or_else(|| format!("X-Amz-Target `{}` is not Prefix.Operation", wire::printable(target)))?;
    let expected = model.target_prefix.as_deref().unwrap_or_default();
    if prefix != expected {
        return Err(format!(
            "X-Amz-Target `{}` names another service than the one the request was signed for (`{}` expects `{expected}.Operation`)",
            wire::printable(target),
            model.signing_name
        ));
    }
    if !model.protocols.iter().any(|p| p == "json") {
        return Err(format!("`{}` does not take the JSON protocol", model.service));
    }
    let op = model
        .operations
        .get(name)
        .ok_or_else(|| format!("`{}` has no operation `{}`", model.service, wire::printable(name)))?;
    if parts.method != http::Method::POST || parts.uri.path() != "/" {
        return Err(format!(
            "a JSON-protocol request is `POST /`, not `{} {}`",
            parts.method,
            wire::printable(parts.uri.path())
        ));
    }
    if !query.is_empty() || parts.uri.query().is_some_and(|q| !q.is_empty()) {
        return Err("a JSON-protocol request takes no query string".into());
    }
    let content_type = wire::one_header(&parts.headers, "content-type")?.unwrap_or_default();
    let wanted = format!("application/x-amz-json-{}", model.json_version.as_deref().unwrap_or("1.1"));
    if !content_type.eq_ignore_ascii_case(&wanted) {
        return Err(format!("the Content-Type must be `{wanted}`, not `{}`", wire::printable(content_type)));
    }
    no_other_amz_headers(parts, name)?;
    let input = match wire::strict_json(if body.is_empty() { b"{}" } else { body })? {
        Value::Object(map) => map,
        _ => return Err("the body is not a JSON object".into()),
    };
    only_members(op, name, &input)?;
    let headers = kept_headers(parts, &["content-type", "x-amz-target", "x-amzn-query-mode"])?;
    judged_input(model, name, Protocol::Json, input, verbatim("/".into(), headers, body), scope)
}

/// Smithy RPC v2 CBOR: `POST /service/Prefix/operation/Operation`, a CBOR map body.
fn cbor_protocol(
    model: &'static ServiceModel,
    parts: &http::request::Parts,
    query: &Pairs,
    body: &[u8],
    scope: &Scope,
) -> Result<Operation, String> {
    if wire::one_header(&parts.headers, "smithy-protocol")? != Some("rpc-v2-cbor") {
        return Err("the `smithy-protocol` header must be `rpc-v2-cbor`".into());
    }
    if !model.protocols.iter().any(|p| p == "smithy-rpc-v2-cbor") {
        return Err(format!("`{}` does not take Smithy RPC v2 CBOR", model.service));
    }
    let prefix = model.target_prefix.as_deref().unwrap_or_default();
    let path = parts.uri.path();
    let name = path
        .strip_prefix("/service/")
        .and_then(|rest| rest.split_once("/operation/"))
        .filter(|(service, _)| *service == prefix)
        .map(|(_, operation)| operation)
        .ok_or_else(|| {
            format!("a CBOR request's path is `/service/{prefix}/operation/NAME`, not `{}`", wire::printable(path))
        })?;
    let op = model
        .operations
        .get(name)
        .ok_or_else(|| format!("`{}` has no operation `{}`", model.service, wire::printable(name)))?;
    if parts.method != http::Method::POST {
        return Err("a CBOR request is a POST".into());
    }
    if !query.is_empty() || parts.uri.query().is_some_and(|q| !q.is_empty()) {
        return Err("a CBOR request takes no query string".into());
    }
    if wire::one_header(&parts.headers, "content-encoding")?.is_some() {
        return Err("awsgate reads CBOR bodies uncompressed; turn request compression off (botocore: disable_request_compression=True)".into());
    }
    let content_type = wire::one_header(&parts.headers, "content-type")?;
    if !body.is_empty() && content_type != Some("application/cbor") {
        return Err("a CBOR request's Content-Type must be `application/cbor`".into());
    }
    no_other_amz_headers(parts, name)?;
    let input = if body.is_empty() { Map::new() } else { super::cbor::read_map(body)? };
    only_members(op, name, &input)?;
    let headers = kept_headers(parts, &["content-type", "smithy-protocol", "accept"])?;
    judged_input(model, name, Protocol::Cbor, input, verbatim(path.to_string(), headers, body), scope)
}

/// The query protocols: `Action=...&Version=...` as a form body (POST) or as the URL's
/// query (GET), never both.
fn query_protocol(
    model: &'static ServiceModel,
    parts: &http::request::Parts,
    query: &Pairs,
    body: &[u8],
    scope: &Scope,
) -> Result<Operation, String> {
    let form = match parts.method.as_str() {
        "POST" => {
            if !query.is_empty() || parts.uri.query().is_some_and(|q| !q.is_empty()) {
                return Err("a query-protocol POST carries its parameters in the body; it takes no URL query".into());
            }
            let content_type = wire::one_header(&parts.headers, "content-type")?.unwrap_or_default();
            let media = content_type.split(';').next().unwrap_or_default().trim();
            if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
                return Err(format!(
                    "a query-protocol POST's Content-Type must be `application/x-www-form-urlencoded`, not `{}`",
                    wire::printable(content_type)
                ));
            }
            let text = std::str::from_utf8(body).map_err(|_| "the form body is not UTF-8".to_string())?;
            Pairs::parse(text, Plus::Space, "the form body")?
        }
        "GET" if body.is_empty() => query.clone(),
        other => return Err(format!("a query-protocol request is a POST (or a GET), not a {other}")),
    };
    if parts.uri.path() != "/" {
        return Err(format!("a query-protocol request's path is `/`, not `{}`", wire::printable(parts.uri.path())));
    }
    let name = form.get("Action").ok_or("the request names no operation (no X-Amz-Target or Action)")?.to_string();
    let op = model
        .operations
        .get(&name)
        .ok_or_else(|| format!("`{}` has no operation `{}`", model.service, wire::printable(&name)))?;
    if let Some(version) = form.get("Version").filter(|v| *v != model.api_version) {
        return Err(format!(
            "`Version={}` is not `{}`'s API version `{}`",
            wire::printable(version),
            model.service,
            model.api_version
        ));
    }
    no_other_amz_headers(parts, &name)?;
    for (param, _) in form.iter() {
        if param == "Action" || param == "Version" {
            continue;
        }
        let top = param.split('.').next().unwrap_or(param);
        let top = legacy_query_name(&model.service, top);
        if op.member(Location::Body, top).is_none() {
            return Err(format!("`{name}` takes no parameter `{}`", wire::printable(param)));
        }
    }
    let input = query_arguments(&model.service, &form);
    let encoded = bytes::Bytes::from(form.encode());
    let forward = Forward {
        method: http::Method::POST,
        path: "/".into(),
        query: Pairs::default(),
        headers: vec![(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        )],
        body_sha256: Some(sha256(&encoded)),
        body: Some(encoded),
    };
    judged_input(model, &name, Protocol::Query, input, forward, scope)
}

/// SQS's model now names its JSON members; its older query clients name some lists
/// otherwise (`AttributeName.1` for `AttributeNames`).
fn legacy_query_name<'a>(service: &str, name: &'a str) -> &'a str {
    if service != "sqs" {
        return name;
    }
    match name {
        "AttributeName" => "AttributeNames",
        "MessageAttribute" => "MessageAttributes",
        "MessageAttributeName" => "MessageAttributeNames",
        "MessageSystemAttribute" => "MessageSystemAttributes",
        "MessageSystemAttributeName" => "MessageSystemAttributeNames",
        "Attribute" => "Attributes",
        "Tag" => "Tags",
        "TagKey" => "TagKeys",
        "AWSAccountId" => "AWSAccountIds",
        "ActionName" => "Actions",
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => "Entries",
        other => other,
    }
}

/// Lambda's REST API, by the model's bindings.
fn lambda(
    model: &'static ServiceModel,
    parts: &http::request::Parts,
    query: &Pairs,
    body: &[u8],
    scope: &Scope,
) -> Result<Operation, String> {
    let amz: Vec<&str> = parts
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| n.starts_with("x-amz") && !PROTOCOL_HEADERS.contains(n))
        .collect();
    let offer = Offer {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        amz_headers: &amz,
        headers: &parts.headers,
    };
    let matched = rest::select(model, &offer)?;
    let op = matched.model;
    let mut path = String::new();
    for segment in op.path_template().trim_start_matches('/').split('/') {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(label) => {
                path.push_str(&wire::component(matched.label(label.trim_end_matches('+')).unwrap_or_default()))
            }
            None => path.push_str(segment),
        }
    }
    let mut pairs: Vec<(String, String)> =
        op.selectors().iter().map(|(n, v)| ((*n).to_string(), v.unwrap_or_default().to_string())).collect();
    pairs.extend(
        query
            .iter()
            .filter(|(n, _)| op.member(Location::Querystring, n).is_some())
            .map(|(n, v)| (n.to_string(), v.to_string())),
    );
    let mut headers = kept_headers(parts, &["content-type"])?;
    for (name, value) in parts.headers.iter().filter(|(n, _)| op.takes_header(n.as_str())) {
        wire::one_header(&parts.headers, name.as_str())?;
        headers.push((name.clone(), value.clone()));
    }
    let forward = Forward {
        method: parts.method.clone(),
        path,
        query: Pairs::from_vec(pairs),
        headers,
        body_sha256: Some(sha256(body)),
        body: None,
    };
    let mut input = Map::new();
    if let Some(function) = matched.label("FunctionName") {
        input.insert("function_name".into(), json!(function));
    }
    if let Some(qualifier) = query.get("Qualifier") {
        input.insert("qualifier".into(), json!(qualifier));
    }
    let name = matched.name;
    let mut shown = parameters(&input);
    shown.push(("Payload".into(), format!("({} bytes)", body.len())));
    let (judged, writes) = by_tool("lambda", name, input, scope);
    Ok(Operation {
        service: "lambda".into(),
        name: name.to_string(),
        protocol: Protocol::Json,
        writes,
        forward,
        judged,
        upload: None,
        creates_upload: false,
        parameters: shown,
    })
}

/// The operation judged from its body's members: by a catalog tool, per item for the
/// batch and transaction operations, else unmapped.
fn judged_input(
    model: &'static ServiceModel,
    name: &str,
    protocol: Protocol,
    input: Map<String, Value>,
    forward: Forward,
    scope: &Scope,
) -> Result<Operation, String> {
    let service = model.service.as_str();
    let legacy = DYNAMODB_LEGACY.iter().find(|p| service == "dynamodb" && input.contains_key(**p));
    let (judged, writes) = if let Some(legacy) = legacy {
        let why = format!(
            "awsgate judges DynamoDB requests by their expressions; the legacy parameter `{legacy}` is not accepted (use the expression parameters)"
        );
        (Err(Unjudged::Invalid(why)), true)
    } else if let Some(items) = batch(service, name, &input, scope) {
        (items, true)
    } else {
        let arguments = if protocol == Protocol::Query { input.clone() } else { json_arguments(service, &input) };
        let (mut judged, writes) = by_tool(service, name, arguments, scope);
        if let Ok(judged) = &mut judged {
            for one in judged {
                request_parameter_keys(service, &input, &mut one.prepared);
            }
        }
        (judged, writes)
    };
    Ok(Operation {
        service: service.to_string(),
        name: name.to_string(),
        protocol,
        writes,
        forward,
        judged,
        upload: None,
        creates_upload: false,
        parameters: parameters(&input),
    })
}

/// The batch and transaction operations, judged per item by the tool of the item's own
/// operation, under the action AWS requires for the batch.
fn batch(
    service: &str,
    name: &str,
    input: &Map<String, Value>,
    scope: &Scope,
) -> Option<Result<Vec<Judged>, Unjudged>> {
    let mut items: Vec<(&'static str, String, Map<String, Value>)> = Vec::new();
    let invalid =
        |why: &str| Some(Err(Unjudged::Invalid(format!("awsgate cannot judge this `{name}` request: {why}"))));
    match (service, name) {
        ("dynamodb", "BatchWriteItem") => {
            let Some(Value::Object(tables)) = input.get("RequestItems") else {
                return invalid("`RequestItems` is missing");
            };
            for (table, requests) in tables {
                for request in requests.as_array().into_iter().flatten() {
                    let (tool, arg, inner) = match (request.get("PutRequest"), request.get("DeleteRequest")) {
                        (Some(put), None) => ("PutItem", "item", put.get("Item")),
                        (None, Some(delete)) => ("DeleteItem", "key", delete.get("Key")),
                        _ => return invalid("each request is one PutRequest or DeleteRequest"),
                    };
                    let mut args = Map::new();
                    args.insert("table".into(), json!(table));
                    args.insert(arg.into(), plain_item(inner.unwrap_or(&Value::Null)));
                    items.push((tool, "dynamodb:BatchWriteItem".into(), args));
                }
            }
        }
        ("dynamodb", "BatchGetItem") => {
            let Some(Value::Object(tables)) = input.get("RequestItems") else {
                return invalid("`RequestItems` is missing");
            };
            for (table, request) in tables {
                let Some(request) = request.as_object() else { return invalid("each table's request is an object") };
                for key in request.get("Keys").and_then(Value::as_array).into_iter().flatten() {
                    let mut args = json_arguments("dynamodb", request);
                    args.remove("keys");
                    args.insert("table".into(), json!(table));
                    args.insert("key".into(), plain_item(key));
                    items.push(("GetItem", "dynamodb:BatchGetItem".into(), args));
                }
            }
        }
        ("dynamodb", "TransactWriteItems" | "TransactGetItems") => {
            for item in input.get("TransactItems").and_then(Value::as_array).into_iter().flatten() {
                let Some((kind, inner)) =
                    item.as_object().and_then(|o| (o.len() == 1).then(|| o.iter().next()).flatten())
                else {
                    return invalid("each transaction item is one Put, Update, Delete, ConditionCheck or Get");
                };
                let Some(inner) = inner.as_object() else { return invalid("a transaction item is an object") };
                let (tool, action) = match (name, kind.as_str()) {
                    ("TransactWriteItems", "Put") => ("PutItem", "dynamodb:PutItem"),
                    ("TransactWriteItems", "Update") => ("UpdateItem", "dynamodb:UpdateItem"),
                    ("TransactWriteItems", "Delete") => ("DeleteItem", "dynamodb:DeleteItem"),
                    ("TransactWriteItems", "ConditionCheck") => ("GetItem", "dynamodb:ConditionCheckItem"),
                    ("TransactGetItems", "Get") => ("GetItem", "dynamodb:GetItem"),
                    _ => return invalid(&format!("`{kind}` is not an item of `{name}`")),
                };
                items.push((tool, action.into(), json_arguments("dynamodb", inner)));
            }
        }
        ("sqs", "SendMessageBatch" | "DeleteMessageBatch" | "ChangeMessageVisibilityBatch") => {
            let (tool, action) = match name {
                "SendMessageBatch" => ("SendMessage", "sqs:SendMessage"),
                "DeleteMessageBatch" => ("DeleteMessage", "sqs:DeleteMessage"),
                _ => ("ChangeMessageVisibility", "sqs:ChangeMessageVisibility"),
            };
            let mut args = Map::new();
            if let Some(url) = input.get("QueueUrl") {
                args.insert("queue_url".into(), url.clone());
            }
            items.push((tool, action.into(), args));
        }
        _ => return None,
    }
    if items.is_empty() {
        return invalid("it names no item");
    }
    if items.len() > MAX_ITEMS {
        return invalid(&format!("it names more than {MAX_ITEMS} items"));
    }
    let mut judged = Vec::with_capacity(items.len());
    for (operation, action, args) in items {
        let tool = catalog::find_operation(service, operation)?;
        match tool.judge_wire(args, scope) {
            Ok(prepared) => judged.push(Judged { action, prepared }),
            Err(error) => return invalid(&error.0),
        }
    }
    Some(Ok(judged))
}

/// An operation a catalog tool calls, judged by the tool's code; whether it writes.
fn by_tool(
    service: &str,
    name: &str,
    input: Map<String, Value>,
    scope: &Scope,
) -> (Result<Vec<Judged>, Unjudged>, bool) {
    let Some(tool) = catalog::find_operation(service, name) else {
        let why = format!("awsgate has no mapping for `{service}:{name}` (no tool calls it)");
        return (Err(Unjudged::Unmapped(why)), true);
    };
    let judged = tool
        .judge_wire(input, scope)
        .map(|prepared| vec![Judged { action: tool.iam_action(), prepared }])
        .map_err(|error| Unjudged::Invalid(format!("awsgate cannot judge this `{name}` request: {}", error.0)));
    (judged, tool.access == catalog::Access::Write)
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
fn query_arguments(service: &str, form: &Pairs) -> Map<String, Value> {
    let mut out = Map::new();
    let mut lists: Vec<(String, usize, String)> = Vec::new();
    let mut tags: Vec<(usize, &'static str, String)> = Vec::new();
    for (name, value) in form.iter().filter(|(n, _)| *n != "Action" && *n != "Version") {
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
