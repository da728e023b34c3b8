//! S3's REST requests, read by the S3 model: the bucket from the host (virtual-host style)
//! or the path, the operation by [`rest::select`], and every IAM action AWS's Service
//! Authorization Reference requires for that input: the operation's own (or its
//! `...Version` twin when `versionId` is given), and those that headers add (ACLs, tags,
//! object lock, a copy source's read, an SSE-KMS key).

use serde_json::{Map, json};

use super::model::{self, Location};
use super::operation::{Forward, Judged, Operation, Protocol, Unjudged, Upload};
use super::rest::{self, Matched, Offer};
use super::wire::{self, Pairs, Plus};
use crate::aws::Scope;
use crate::catalog::{self, Prepared};

/// `x-amz-*` headers that belong to the signature or the body's framing, not to an
/// operation's input: the signature's are not forwarded (awsgate signs afresh), the body's
/// are.
const SIGNATURE_HEADERS: &[&str] = &["x-amz-date", "x-amz-content-sha256", "x-amz-user-agent"];

/// Headers that describe how the body travels and its checksums: forwarded with it.
fn framing_header(name: &str) -> bool {
    matches!(name, "x-amz-decoded-content-length" | "x-amz-trailer" | "x-amz-sdk-checksum-algorithm")
        || name.starts_with("x-amz-checksum-")
        || matches!(name, "content-length" | "content-encoding" | "content-type" | "content-md5")
}

/// The largest `DeleteObjects` document read (1,000 keys of 1,024 bytes, with room).
pub const MAX_DELETE_DOCUMENT: usize = 2 * 1024 * 1024;

/// Whether the request's body must be read whole before it is judged (`DeleteObjects`:
/// its keys are in the body).
pub fn buffers_body(parts: &http::request::Parts, query: &Pairs) -> bool {
    parts.method == http::Method::POST && query.has("delete")
}

/// Reads an S3 request. `body` is the body when [`buffers_body`] said so.
pub fn read(parts: &http::request::Parts, query: &Pairs, body: &[u8], scope: &Scope) -> Result<Operation, String> {
    let model = model::by_service("s3").ok_or("the S3 model is missing")?;
    let host = wire::one_header(&parts.headers, "host")?.ok_or("the request has no Host header")?;
    let host_name =
        host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    let raw_path = parts.uri.path();
    let virtual_bucket = virtual_host_bucket(host_name);
    let path = match &virtual_bucket {
        Some(bucket) => format!("/{}{raw_path}", wire::component(bucket)),
        None => raw_path.to_string(),
    };
    let mut amz: Vec<&str> = Vec::new();
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if name.starts_with("x-amz-") {
            wire::header_text(name, value)?;
            wire::one_header(&parts.headers, name)?;
            if !SIGNATURE_HEADERS.contains(&name) && !framing_header(name) && !amz.contains(&name) {
                amz.push(name);
            }
        }
    }
    // The copy source is read as AWS reads it, or the request is refused before judging.
    if let Some(source) = wire::one_header(&parts.headers, "x-amz-copy-source")? {
        copy_source(scope, source)?;
    }
    let offer = Offer { method: parts.method.as_str(), path: &path, query, amz_headers: &amz, headers: &parts.headers };
    let matched = rest::select(model, &offer)?;
    let bucket = matched.label("Bucket").map(str::to_string);
    // A bucket name is a DNS-like label: one with `/` (sent as `%2F`) would be judged as
    // another bucket's key.
    if let Some(bucket) = &bucket
        && !(bucket.len() <= 255 && bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    {
        return Err(format!(
            "`{}` is not a bucket name (letters, digits, `.`, `_` and `-` only)",
            wire::printable(bucket)
        ));
    }
    let key = matched.label("Key").map(str::to_string);
    let forward = forward(parts, &matched, query, bucket.as_deref(), key.as_deref())?;
    let name = matched.name;
    let writes = !matches!(parts.method.as_str(), "GET" | "HEAD");
    let upload = match (name, &bucket, &key) {
        (
            "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" | "AbortMultipartUpload" | "ListParts",
            Some(b),
            Some(k),
        ) => query.get("uploadId").map(|id| Upload { bucket: b.clone(), key: k.clone(), upload_id: id.to_string() }),
        _ => None,
    };
    let judged = judge(name, &matched, query, &parts.headers, body, scope, bucket.as_deref(), key.as_deref());
    let mut shown: Vec<(String, String)> = Vec::new();
    shown.extend(bucket.iter().map(|b| ("Bucket".to_string(), format!("{b:?}"))));
    shown.extend(key.iter().map(|k| ("Key".to_string(), format!("{k:?}"))));
    shown.extend(forward.query.iter().map(|(n, v)| (n.to_string(), format!("{v:?}"))));
    for (header, value) in &forward.headers {
        // An SSE-C key (`x-amz-...-customer-key`) is a secret: the operator sees that one was
        // given, never its value (summaries also travel to the webhook).
        if header.as_str().contains("customer-key") {
            shown.push((header.to_string(), "(a key, not shown)".into()));
        } else if header.as_str().starts_with("x-amz-") || header == http::header::CONTENT_LENGTH {
            shown.push((header.to_string(), format!("{:?}", value.to_str().unwrap_or("?"))));
        }
    }
    Ok(Operation {
        service: "s3".into(),
        name: name.to_string(),
        protocol: Protocol::RestXml,
        writes,
        forward,
        judged,
        upload,
        creates_upload: name == "CreateMultipartUpload",
        parameters: shown,
    })
}

/// The request as it is sent on: the canonical path-style path, the operation's
/// sub-resources and the query members it takes, the headers it takes.
fn forward(
    parts: &http::request::Parts,
    matched: &Matched,
    query: &Pairs,
    bucket: Option<&str>,
    key: Option<&str>,
) -> Result<Forward, String> {
    let op = matched.model;
    let path = match (bucket, key) {
        (Some(b), Some(k)) => format!("/{}/{}", wire::component(b), wire::path(k)),
        (Some(b), None) => format!("/{}", wire::component(b)),
        _ => op.path_template().to_string(),
    };
    let mut pairs: Vec<(String, String)> =
        op.selectors().iter().map(|(n, v)| ((*n).to_string(), v.unwrap_or_default().to_string())).collect();
    for (name, value) in query.iter() {
        if op.member(Location::Querystring, name).is_some() {
            pairs.push((name.to_string(), value.to_string()));
        }
    }
    let mut headers = Vec::new();
    for (name, value) in &parts.headers {
        let lower = name.as_str();
        if SIGNATURE_HEADERS.contains(&lower) {
            continue;
        }
        if op.takes_header(lower) || framing_header(lower) {
            wire::header_text(lower, value)?;
            // A header the operation reads is given once, or it reads two ways.
            wire::one_header(&parts.headers, lower)?;
            headers.push((name.clone(), value.clone()));
        }
    }
    Ok(Forward {
        method: parts.method.clone(),
        path,
        query: Pairs::from_vec(pairs),
        headers,
        body_sha256: None,
        body: None,
    })
}

/// The IAM action of each S3 operation, from the Service Authorization Reference, and its
/// twin when the request names a `versionId`. `None`: an operation of another endpoint
/// (S3 Express, Object Lambda), which this sidecar does not serve.
fn action_of(operation: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match operation {
        "AbortMultipartUpload" => ("AbortMultipartUpload", None),
        "CompleteMultipartUpload"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CopyObject"
        | "PutObject" => ("PutObject", None),
        "CreateBucket" => ("CreateBucket", None),
        "CreateBucketMetadataConfiguration" | "CreateBucketMetadataTableConfiguration" => {
            ("CreateBucketMetadataTableConfiguration", None)
        }
        "DeleteBucket" => ("DeleteBucket", None),
        "DeleteBucketAnalyticsConfiguration" | "PutBucketAnalyticsConfiguration" => ("PutAnalyticsConfiguration", None),
        "DeleteBucketCors" | "PutBucketCors" => ("PutBucketCORS", None),
        "DeleteBucketEncryption" | "PutBucketEncryption" => ("PutEncryptionConfiguration", None),
        "DeleteBucketIntelligentTieringConfiguration" | "PutBucketIntelligentTieringConfiguration" => {
            ("PutIntelligentTieringConfiguration", None)
        }
        "DeleteBucketInventoryConfiguration" | "PutBucketInventoryConfiguration" => ("PutInventoryConfiguration", None),
        "DeleteBucketLifecycle" | "PutBucketLifecycle" | "PutBucketLifecycleConfiguration" => {
            ("PutLifecycleConfiguration", None)
        }
        "DeleteBucketMetadataConfiguration" | "DeleteBucketMetadataTableConfiguration" => {
            ("DeleteBucketMetadataTableConfiguration", None)
        }
        "DeleteBucketMetricsConfiguration" | "PutBucketMetricsConfiguration" => ("PutMetricsConfiguration", None),
        "DeleteBucketOwnershipControls" | "PutBucketOwnershipControls" => ("PutBucketOwnershipControls", None),
        "DeleteBucketPolicy" => ("DeleteBucketPolicy", None),
        "DeleteBucketReplication" | "PutBucketReplication" => ("PutReplicationConfiguration", None),
        "DeleteBucketTagging" | "PutBucketTagging" => ("PutBucketTagging", None),
        "DeleteBucketWebsite" => ("DeleteBucketWebsite", None),
        "DeleteObject" | "DeleteObjects" => ("DeleteObject", Some("DeleteObjectVersion")),
        "DeleteObjectTagging" => ("DeleteObjectTagging", Some("DeleteObjectVersionTagging")),
        "DeletePublicAccessBlock" | "PutPublicAccessBlock" => ("PutBucketPublicAccessBlock", None),
        "GetBucketAccelerateConfiguration" => ("GetAccelerateConfiguration", None),
        "PutBucketAccelerateConfiguration" => ("PutAccelerateConfiguration", None),
        "GetBucketAcl" => ("GetBucketAcl", None),
        "PutBucketAcl" => ("PutBucketAcl", None),
        "GetBucketAnalyticsConfiguration" | "ListBucketAnalyticsConfigurations" => ("GetAnalyticsConfiguration", None),
        "GetBucketCors" => ("GetBucketCORS", None),
        "GetBucketEncryption" => ("GetEncryptionConfiguration", None),
        "GetBucketIntelligentTieringConfiguration" | "ListBucketIntelligentTieringConfigurations" => {
            ("GetIntelligentTieringConfiguration", None)
        }
        "GetBucketInventoryConfiguration" | "ListBucketInventoryConfigurations" => ("GetInventoryConfiguration", None),
        "GetBucketLifecycle" | "GetBucketLifecycleConfiguration" => ("GetLifecycleConfiguration", None),
        "GetBucketLocation" => ("GetBucketLocation", None),
        "GetBucketLogging" => ("GetBucketLogging", None),
        "PutBucketLogging" => ("PutBucketLogging", None),
        "GetBucketMetadataConfiguration" | "GetBucketMetadataTableConfiguration" => {
            ("GetBucketMetadataTableConfiguration", None)
        }
        "GetBucketMetricsConfiguration" | "ListBucketMetricsConfigurations" => ("GetMetricsConfiguration", None),
        "GetBucketNotification" | "GetBucketNotificationConfiguration" => ("GetBucketNotification", None),
        "PutBucketNotification" | "PutBucketNotificationConfiguration" => ("PutBucketNotification", None),
        "GetBucketOwnershipControls" => ("GetBucketOwnershipControls", None),
        "GetBucketPolicy" => ("GetBucketPolicy", None),
        "PutBucketPolicy" => ("PutBucketPolicy", None),
        "GetBucketPolicyStatus" => ("GetBucketPolicyStatus", None),
        "GetBucketReplication" => ("GetReplicationConfiguration", None),
        "GetBucketRequestPayment" => ("GetBucketRequestPayment", None),
        "PutBucketRequestPayment" => ("PutBucketRequestPayment", None),
        "GetBucketTagging" => ("GetBucketTagging", None),
        "GetBucketVersioning" => ("GetBucketVersioning", None),
        "PutBucketVersioning" => ("PutBucketVersioning", None),
        "GetBucketWebsite" => ("GetBucketWebsite", None),
        "PutBucketWebsite" => ("PutBucketWebsite", None),
        "GetObject" | "HeadObject" | "SelectObjectContent" => ("GetObject", Some("GetObjectVersion")),
        "GetObjectAcl" => ("GetObjectAcl", Some("GetObjectVersionAcl")),
        "PutObjectAcl" => ("PutObjectAcl", Some("PutObjectVersionAcl")),
        "GetObjectAttributes" => ("GetObjectAttributes", Some("GetObjectVersionAttributes")),
        "GetObjectLegalHold" => ("GetObjectLegalHold", None),
        "PutObjectLegalHold" => ("PutObjectLegalHold", None),
        "GetObjectLockConfiguration" => ("GetBucketObjectLockConfiguration", None),
        "PutObjectLockConfiguration" => ("PutBucketObjectLockConfiguration", None),
        "GetObjectRetention" => ("GetObjectRetention", None),
        "PutObjectRetention" => ("PutObjectRetention", None),
        "GetObjectTagging" => ("GetObjectTagging", Some("GetObjectVersionTagging")),
        "PutObjectTagging" => ("PutObjectTagging", Some("PutObjectVersionTagging")),
        "GetObjectTorrent" => ("GetObjectTorrent", Some("GetObjectVersionTorrent")),
        "GetPublicAccessBlock" => ("GetBucketPublicAccessBlock", None),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => ("ListBucket", None),
        "ListBuckets" => ("ListAllMyBuckets", None),
        "ListMultipartUploads" => ("ListBucketMultipartUploads", None),
        "ListObjectVersions" => ("ListBucketVersions", None),
        "ListParts" => ("ListMultipartUploadParts", None),
        "RestoreObject" => ("RestoreObject", None),
        // Newer operations whose actions the reference names after them.
        "GetBucketAbac" => ("GetBucketABAC", None),
        "PutBucketAbac" => ("PutBucketABAC", None),
        "GetBucketDefaultStorageClass" => ("GetBucketDefaultStorageClass", None),
        "PutBucketDefaultStorageClass" => ("PutBucketDefaultStorageClass", None),
        "UpdateBucketMetadataAnnotationTableConfiguration" => {
            ("UpdateBucketMetadataAnnotationTableConfiguration", None)
        }
        "UpdateBucketMetadataInventoryTableConfiguration" => ("UpdateBucketMetadataInventoryTableConfiguration", None),
        "UpdateBucketMetadataJournalTableConfiguration" => ("UpdateBucketMetadataJournalTableConfiguration", None),
        "UpdateObjectEncryption" => ("UpdateObjectEncryption", None),
        "GetObjectAnnotation" | "ListObjectAnnotations" => ("GetObjectAnnotation", None),
        "PutObjectAnnotation" => ("PutObjectAnnotation", None),
        "DeleteObjectAnnotation" => ("DeleteObjectAnnotation", None),
        "GetPart" => ("GetObject", Some("GetObjectVersion")),
        // S3 Express One Zone and S3 Object Lambda: other endpoints and ARNs.
        "CreateSession" | "ListDirectoryBuckets" | "RenameObject" | "WriteGetObjectResponse" => return None,
        _ => return None,
    })
}

/// The operations a catalog tool calls: judged by the tool's own code, for its condition
/// keys (`s3:prefix`, `s3:max-keys`...).
fn tool_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "GetObject" => "GetObject",
        "HeadObject" => "HeadObject",
        "PutObject" => "PutObject",
        "DeleteObject" => "DeleteObject",
        "ListObjects" | "ListObjectsV2" => "ListBucket",
        "GetBucketLocation" => "GetBucketLocation",
        "ListBuckets" => "ListAllMyBuckets",
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn judge(
    name: &str,
    matched: &Matched,
    query: &Pairs,
    headers: &http::HeaderMap,
    body: &[u8],
    scope: &Scope,
    bucket: Option<&str>,
    key: Option<&str>,
) -> Result<Vec<Judged>, Unjudged> {
    let Some((action, version_action)) = action_of(name) else {
        return Err(Unjudged::Unmapped(format!("`s3:{name}` is served by another S3 endpoint, not this sidecar")));
    };
    let arn = match (bucket, key) {
        (Some(b), Some(k)) => catalog::object_arn(scope, b, k),
        (Some(b), None) => catalog::bucket_arn(scope, b),
        _ => "*".to_string(),
    };
    let versioned = query.has("versionId") && matched.model.member(Location::Querystring, "versionId").is_some();
    let main = if versioned { version_action.unwrap_or(action) } else { action };
    let mut judged = Vec::new();
    if name == "DeleteObjects" {
        let bucket = bucket.unwrap_or_default();
        for (key, version) in delete_document(body).map_err(Unjudged::Invalid)? {
            let action = if version.is_some() { "DeleteObjectVersion" } else { "DeleteObject" };
            judged.push(direct(action, catalog::object_arn(scope, bucket, &key)));
        }
    } else if let Some(tool) = tool_of(name).and_then(|op| catalog::find_operation("s3", op)) {
        let mut input = Map::new();
        if let Some(b) = bucket {
            input.insert("bucket".into(), json!(b));
        }
        if let Some(k) = key {
            input.insert("key".into(), json!(k));
        }
        for (param, arg) in [("prefix", "prefix"), ("delimiter", "delimiter"), ("max-keys", "max_keys")] {
            if let Some(value) = query.get(param) {
                let value = if arg == "max_keys" {
                    value.parse::<i64>().map_or_else(|_| json!(value), |n| json!(n))
                } else {
                    json!(value)
                };
                input.insert(arg.into(), value);
            }
        }
        let prepared = tool
            .judge_wire(input, scope)
            .map_err(|error| Unjudged::Invalid(format!("awsgate cannot judge this `{name}` request: {}", error.0)))?;
        judged.push(Judged { action: format!("s3:{main}"), prepared });
    } else {
        judged.push(direct(main, arn.clone()));
    }
    // What headers add. A copy source is read as AWS reads it.
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let object_write = matches!(name, "PutObject" | "CopyObject" | "CreateMultipartUpload");
    if object_write && (header("x-amz-acl").is_some() || headers.keys().any(|h| h.as_str().starts_with("x-amz-grant-")))
    {
        judged.push(direct("PutObjectAcl", arn.clone()));
    }
    if name == "CreateBucket"
        && (header("x-amz-acl").is_some() || headers.keys().any(|h| h.as_str().starts_with("x-amz-grant-")))
    {
        judged.push(direct("PutBucketAcl", arn.clone()));
    }
    if name == "CreateBucket"
        && header("x-amz-bucket-object-lock-enabled").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        judged.push(direct("PutBucketObjectLockConfiguration", arn.clone()));
        judged.push(direct("PutBucketVersioning", arn.clone()));
    }
    if object_write && header("x-amz-tagging").is_some() {
        judged.push(direct("PutObjectTagging", arn.clone()));
    }
    if object_write
        && (header("x-amz-object-lock-mode").is_some() || header("x-amz-object-lock-retain-until-date").is_some())
    {
        judged.push(direct("PutObjectRetention", arn.clone()));
    }
    if object_write && header("x-amz-object-lock-legal-hold").is_some() {
        judged.push(direct("PutObjectLegalHold", arn.clone()));
    }
    if header("x-amz-bypass-governance-retention").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        judged.push(direct("BypassGovernanceRetention", arn.clone()));
    }
    if let Some(source) = header("x-amz-copy-source") {
        let (source_arn, version) = copy_source(scope, source).map_err(Unjudged::Invalid)?;
        judged.push(direct(if version { "GetObjectVersion" } else { "GetObject" }, source_arn));
    }
    if let Some(key_id) = header("x-amz-server-side-encryption-aws-kms-key-id") {
        let kms = kms_key_arn(scope, key_id);
        let mut prepared = Prepared::judged_only(vec![kms]);
        catalog::conditions::add_tag_lookups("kms", "GenerateDataKey", &mut prepared);
        judged.push(Judged { action: "kms:GenerateDataKey".into(), prepared });
    }
    Ok(judged)
}

fn direct(action: &str, arn: String) -> Judged {
    let mut prepared = Prepared::judged_only(vec![arn]);
    catalog::conditions::add_tag_lookups("s3", action, &mut prepared);
    Judged { action: format!("s3:{action}"), prepared }
}

/// `x-amz-copy-source` as AWS reads it: URL-encoded `bucket/key`, an optional leading
/// `/`, an optional `?versionId=`. Characters that must be encoded and are not (`#`, a
/// space, a second `?`) make it ambiguous: refused. The source's ARN, and whether a
/// version is named.
pub fn copy_source(scope: &Scope, header: &str) -> Result<(String, bool), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.~/%!$&'()*+,;=:@".contains(c);
    let (path, version) = match header.split_once('?') {
        Some((path, query)) => {
            let pairs = Pairs::parse(query, Plus::Refused, "x-amz-copy-source's query")?;
            match pairs.iter().collect::<Vec<_>>().as_slice() {
                [("versionId", v)] if !v.is_empty() => (path, true),
                _ => return Err("x-amz-copy-source takes `?versionId=ID` and nothing else after its key".into()),
            }
        }
        None => (header, false),
    };
    if let Some(bad) = path.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "x-amz-copy-source must be URL-encoded: `{}` must be percent-encoded",
            bad.escape_default()
        ));
    }
    let decoded = wire::decode(path.strip_prefix('/').unwrap_or(path), Plus::Literal, "x-amz-copy-source")?;
    match decoded.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
            Ok((catalog::object_arn(scope, bucket, key), version))
        }
        _ => Err("x-amz-copy-source must be `bucket/key`".into()),
    }
}

/// The ARN of a KMS key given by id, ARN or alias.
fn kms_key_arn(scope: &Scope, key_id: &str) -> String {
    if key_id.starts_with("arn:") {
        key_id.to_string()
    } else if key_id.starts_with("alias/") {
        format!("arn:{}:kms:{}:{}:{key_id}", scope.partition, scope.region, scope.account)
    } else {
        format!("arn:{}:kms:{}:{}:key/{key_id}", scope.partition, scope.region, scope.account)
    }
}

/// The keys (and versions) of a `DeleteObjects` document, read strictly: the
/// `<Delete>` element with `<Object>`s of one `<Key>` and at most one `<VersionId>`, and
/// `<Quiet>`; no DOCTYPE, comment, CDATA or processing instruction (readers differ on
/// them).
pub fn delete_document(body: &[u8]) -> Result<Vec<(String, Option<String>)>, String> {
    use quick_xml::events::Event;
    let bad = |why: &str| format!("the DeleteObjects document cannot be read one way only: {why}");
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut objects: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut text = String::new();
    let mut buffer = Vec::new();
    // The root element has ended: only blank text may follow.
    let mut done = false;
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(|e| bad(&e.to_string()))?;
        match event {
            Event::Decl(decl) if path.is_empty() && objects.is_empty() && !done => {
                // The bytes are read as UTF-8: a declaration of another encoding would make
                // S3 read other keys than those judged.
                let encoding = match decl.encoding() {
                    None => None,
                    Some(Ok(encoding)) => Some(encoding.into_owned()),
                    Some(Err(_)) => return Err(bad("the XML declaration cannot be read")),
                };
                if encoding.is_some_and(|e| !e.eq_ignore_ascii_case(b"utf-8")) {
                    return Err(bad("the XML declaration names an encoding other than UTF-8"));
                }
            }
            _ if done && !matches!(event, Event::Eof) => {
                let blank = matches!(&event, Event::Text(t) if t.iter().all(u8::is_ascii_whitespace));
                if !blank {
                    return Err(bad("something follows the Delete element"));
                }
            }
            Event::Start(start) => {
                let name =
                    String::from_utf8(start.local_name().as_ref().to_vec()).map_err(|_| bad("a name is not UTF-8"))?;
                let expected = match (path.len(), path.last().map(String::as_str), name.as_str()) {
                    (0, None, "Delete") => true,
                    (1, Some("Delete"), "Object") => {
                        objects.push((None, None));
                        true
                    }
                    (1, Some("Delete"), "Quiet") => true,
                    (2, Some("Object"), "Key" | "VersionId" | "ETag" | "LastModifiedTime" | "Size") => true,
                    _ => false,
                };
                if !expected {
                    return Err(bad(&format!("unexpected element `{name}`")));
                }
                path.push(name);
                text.clear();
            }
            Event::Text(t) => {
                let unescaped = t.decode().map_err(|e| bad(&e.to_string()))?;
                text.push_str(&unescaped);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(&e.to_string()))?;
                let resolved = match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => return Err(bad(&format!("the entity `&{other};` is not XML's own"))),
                };
                text.push_str(resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if path.is_empty() {
                    done = true;
                }
                if path.last().map(String::as_str) == Some("Object") {
                    let Some(object) = objects.last_mut() else { return Err(bad("an element outside an Object")) };
                    let slot = match name.as_str() {
                        "Key" => &mut object.0,
                        "VersionId" => &mut object.1,
                        _ => {
                            text.clear();
                            continue;
                        }
                    };
                    if slot.replace(std::mem::take(&mut text)).is_some() {
                        return Err(bad(&format!("an Object has two `{name}`s")));
                    }
                }
                text.clear();
            }
            Event::Empty(_) => return Err(bad("an empty element")),
            Event::Eof => break,
            Event::CData(_) => return Err(bad("CDATA")),
            Event::Comment(_) => return Err(bad("a comment")),
            Event::DocType(_) => return Err(bad("a DOCTYPE")),
            Event::PI(_) | Event::Decl(_) => return Err(bad("a processing instruction")),
        }
        buffer.clear();
    }
    if !path.is_empty() {
        return Err(bad("the document ends inside an element"));
    }
    if objects.is_empty() {
        return Err(bad("it names no Object"));
    }
    objects
        .into_iter()
        .map(|(key, version)| match key {
            Some(key) if !key.is_empty() => Ok((key, version)),
            _ => Err(bad("an Object has no Key")),
        })
        .collect()
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

    fn scope() -> Scope {
        Scope { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() }
    }

    #[test]
    fn an_sse_c_key_is_never_shown_to_the_operator() {
        let request = http::Request::builder()
            .method("PUT")
            .uri("/reports/a.csv")
            .header("host", "127.0.0.1")
            .header("x-amz-server-side-encryption-customer-algorithm", "AES256")
            .header("x-amz-server-side-encryption-customer-key", "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let operation = read(&parts, &Pairs::default(), b"", &scope()).unwrap();
        let summary = operation.summary();
        assert!(summary.contains("AES256") && summary.contains("(a key, not shown)"), "{summary}");
        assert!(!summary.contains("c2VjcmV0"), "{summary}");
    }

    #[test]
    fn copy_sources_read_as_aws_reads_them() {
        let arn = |s: &str| copy_source(&scope(), s);
        assert_eq!(arn("reports/q3.csv"), Ok(("arn:aws:s3:::reports/q3.csv".into(), false)));
        assert_eq!(arn("/reports/a%20b.csv"), Ok(("arn:aws:s3:::reports/a b.csv".into(), false)));
        assert_eq!(arn("reports/secret%2Ecsv?versionId=v1"), Ok(("arn:aws:s3:::reports/secret.csv".into(), true)));
        assert!(arn("reports/secret.csv#x").unwrap_err().contains("percent-encoded"));
        assert!(arn("reports/a b").is_err());
        assert!(arn("reports/%FF").unwrap_err().contains("UTF-8"));
        assert!(arn("reports/k?versionId=1&x=2").is_err());
        assert!(arn("reports").is_err());
    }

    #[test]
    fn delete_documents_are_read_strictly() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>keep/a&amp;b</Key></Object><Object><Key>tmp/b</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>"#;
        assert_eq!(delete_document(doc).unwrap(), vec![("keep/a&b".into(), None), ("tmp/b".into(), Some("v1".into()))]);
        assert!(delete_document(b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>").is_err());
        assert!(delete_document(b"<Delete><Object><Key>a<!-- x --></Key></Object></Delete>").is_err());
        assert!(delete_document(b"<Delete><Object><Key><![CDATA[a]]></Key></Object></Delete>").is_err());
        assert!(
            delete_document(b"<!DOCTYPE d [<!ENTITY e \"k\">]><Delete><Object><Key>&e;</Key></Object></Delete>")
                .is_err()
        );
        assert!(delete_document(b"<Delete></Delete>").is_err());
        let latin =
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Delete><Object><Key>tmp/\u{e9}</Key></Object></Delete>";
        assert!(delete_document(latin.as_bytes()).unwrap_err().contains("UTF-8"));
        let utf8 =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Delete><Object><Key>tmp/\u{e9}</Key></Object></Delete>\n";
        assert_eq!(delete_document(utf8.as_bytes()).unwrap(), vec![("tmp/\u{e9}".into(), None)]);
        assert!(
            delete_document(b"<Delete><Object><Key>a</Key></Object></Delete>secret").unwrap_err().contains("follows")
        );
        assert!(
            delete_document(
                b"<Delete><Object><Key>a</Key></Object></Delete><Delete><Object><Key>b</Key></Object></Delete>"
            )
            .is_err()
        );
    }

    #[test]
    fn every_s3_operation_of_the_model_has_its_action_or_is_another_endpoints() {
        let model = model::by_service("s3").unwrap();
        let other_endpoints = ["CreateSession", "ListDirectoryBuckets", "RenameObject", "WriteGetObjectResponse"];
        for name in model.operations.keys() {
            assert!(
                action_of(name).is_some() || other_endpoints.contains(&name.as_str()),
                "no IAM action for `s3:{name}`"
            );
        }
    }
}
