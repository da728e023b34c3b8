//! Amazon S3.

use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use base64::Engine;
use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{AwsFailure, Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec, bucket_arn, object_arn};
use crate::aws::Scope;

const BUCKET: Arg = required("bucket", SHORT, "The bucket name.");
const KEY: Arg = required("key", Kind::Text { max: 1024 }, "The object key, taken literally (no wildcards).");

/// Largest body accepted by `s3_put_object`.
const MAX_PUT_BYTES: usize = 8 * 1024 * 1024;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "s3_list_all_my_buckets",
        service: "s3",
        operation: "ListAllMyBuckets",
        action: "ListAllMyBuckets",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the buckets of the account.",
        args: &[],
        prepare: list_all_my_buckets,
    },
    ToolSpec {
        name: "s3_list_bucket",
        service: "s3",
        operation: "ListBucket",
        action: "ListBucket",
        access: Access::List,
        resource: ResourceShape::Bucket,
        annotations: READS,
        summary: "List the objects of a bucket (ListObjectsV2), optionally under a prefix.",
        args: &[
            BUCKET,
            optional("prefix", SHORT, "Only keys that start with this."),
            optional("delimiter", SHORT, "Group keys by this character, usually `/`."),
            optional("max_keys", Kind::Integer { min: 1, max: 1000 }, "At most this many keys (default 1000)."),
            optional("continuation_token", SHORT, "`next_continuation_token` of the previous page."),
            optional("start_after", SHORT, "Start after this key."),
        ],
        prepare: list_bucket,
    },
    ToolSpec {
        name: "s3_get_bucket_location",
        service: "s3",
        operation: "GetBucketLocation",
        action: "GetBucketLocation",
        access: Access::Read,
        resource: ResourceShape::Bucket,
        annotations: READS,
        summary: "Get the region a bucket is in.",
        args: &[BUCKET],
        prepare: get_bucket_location,
    },
    ToolSpec {
        name: "s3_get_object",
        service: "s3",
        operation: "GetObject",
        action: "GetObject",
        access: Access::Read,
        resource: ResourceShape::Object,
        annotations: READS,
        summary: "Read an object's body (UTF-8 text, or base64 for binary) and metadata. A body over the output limit is cut and the result says which `range` to ask for next.",
        args: &[BUCKET, KEY, optional("range", SHORT, "An HTTP byte range such as `bytes=1000-` or `bytes=0-499`.")],
        prepare: get_object,
    },
    ToolSpec {
        // AWS authorizes HeadObject with s3:GetObject.
        name: "s3_head_object",
        service: "s3",
        operation: "HeadObject",
        action: "GetObject",
        access: Access::Read,
        resource: ResourceShape::Object,
        annotations: READS,
        summary: "Read an object's metadata (size, type, ETag, last modified) without its body.",
        args: &[BUCKET, KEY],
        prepare: head_object,
    },
    ToolSpec {
        name: "s3_put_object",
        service: "s3",
        operation: "PutObject",
        action: "PutObject",
        access: Access::Write,
        resource: ResourceShape::Object,
        // Overwrites an existing object of the same key.
        annotations: Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        summary: "Write an object (creating it or replacing it).",
        args: &[
            BUCKET,
            KEY,
            required(
                "body",
                Kind::Text { max: MAX_PUT_BYTES * 4 / 3 + 4 },
                "The object's content: text, or base64 with `encoding: base64`.",
            ),
            optional("encoding", SHORT, "`utf-8` (default) or `base64`."),
            optional("content_type", SHORT, "The object's Content-Type."),
        ],
        prepare: put_object,
    },
    ToolSpec {
        name: "s3_delete_object",
        service: "s3",
        operation: "DeleteObject",
        action: "DeleteObject",
        access: Access::Write,
        resource: ResourceShape::Object,
        annotations: Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        summary: "Delete an object.",
        args: &[BUCKET, KEY],
        prepare: delete_object,
    },
];

pub const TOOL_ACTIONS: &[&str] =
    &["ListAllMyBuckets", "ListBucket", "GetBucketLocation", "GetObject", "PutObject", "DeleteObject"];

fn time(value: Option<&DateTime>) -> Value {
    value.and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()).map_or(Value::Null, Value::String)
}

fn list_all_my_buckets(_: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    Ok(Prepared::new(vec!["*".into()], |aws, _| async move {
        let out = aws.s3.list_buckets().send().await.map_err(|e| describe_sdk_error(&e))?;
        let buckets: Vec<Value> = out
            .buckets()
            .iter()
            .map(|b| json!({ "name": b.name(), "creation_date": time(b.creation_date()) }))
            .collect();
        Ok(output(json!({ "buckets": buckets }), &out))
    }))
}

fn list_bucket(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    let prefix = args.opt_text("prefix").map(str::to_string);
    let delimiter = args.opt_text("delimiter").map(str::to_string);
    let max_keys = args.opt_i32("max_keys");
    let token = args.opt_text("continuation_token").map(str::to_string);
    let start_after = args.opt_text("start_after").map(str::to_string);
    let keys = (prefix.clone(), delimiter.clone(), max_keys);
    let prepared = Prepared::new(vec![bucket_arn(scope, &bucket)], move |aws, _| async move {
        let out = aws
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .set_prefix(prefix.clone())
            .set_delimiter(delimiter)
            .set_max_keys(max_keys)
            .set_continuation_token(token)
            .set_start_after(start_after)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let objects: Vec<Value> = out
            .contents()
            .iter()
            .map(|o| {
                json!({
                    "key": o.key(),
                    "size": o.size(),
                    "last_modified": time(o.last_modified()),
                    "etag": o.e_tag(),
                })
            })
            .collect();
        let common_prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
        Ok(output(
            json!({
                "bucket": bucket,
                "prefix": prefix,
                "objects": objects,
                "common_prefixes": common_prefixes,
                "is_truncated": out.is_truncated().unwrap_or(false),
                "next_continuation_token": out.next_continuation_token(),
            }),
            &out,
        ))
    });
    // The keys AWS documents for ListBucket, from the request's parameters: absent when
    // the parameter is not sent.
    let (prefix, delimiter, max_keys) = keys;
    Ok(prepared
        .with_key("s3:prefix", prefix.map(|p| vec![p]))
        .with_key("s3:delimiter", delimiter.map(|d| vec![d]))
        .with_key("s3:max-keys", max_keys.map(|m| vec![m.to_string()])))
}

fn get_bucket_location(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    Ok(Prepared::new(vec![bucket_arn(scope, &bucket)], move |aws, _| async move {
        let out = aws.s3.get_bucket_location().bucket(&bucket).send().await.map_err(|e| describe_sdk_error(&e))?;
        // An empty constraint means us-east-1, as S3 documents.
        let region = out.location_constraint().map(|c| c.as_str()).filter(|c| !c.is_empty()).unwrap_or("us-east-1");
        Ok(output(json!({ "bucket": bucket, "region": region }), &out))
    }))
}

fn get_object(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    let key = args.key()?;
    let range = args.opt_text("range").map(str::to_string);
    Ok(Prepared::new(vec![object_arn(scope, &bucket, &key)], move |aws, options| async move {
        let mut out = aws
            .s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .set_range(range)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        // Room for the metadata around the body; base64 needs 4 bytes per 3.
        let budget = options.max_output_bytes.saturating_sub(2048).max(256);
        let mut body: Vec<u8> = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = out.body.try_next().await.map_err(|_| stream_failure())? {
            let room = budget - body.len();
            if chunk.len() > room {
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let (encoding, text, returned) = encode_body(body, budget, &mut truncated);
        let start = out.content_range().and_then(range_start).unwrap_or(0);
        let total = out.content_range().and_then(range_total).or(out.content_length());
        let mut value = json!({
            "bucket": bucket,
            "key": key,
            "encoding": encoding,
            "body": text,
            "bytes_returned": returned,
            "total_size": total,
            "content_type": out.content_type(),
            "etag": out.e_tag(),
            "last_modified": time(out.last_modified()),
            "truncated": truncated,
        });
        if truncated {
            value["next_range"] = json!(format!("bytes={}-", start + returned as u64));
            value["note"] =
                json!("the body was cut at max_output_bytes; call again with `range` set to `next_range` for the rest");
        }
        Ok(output(value, &out))
    }))
}

fn stream_failure() -> AwsFailure {
    AwsFailure {
        code: "NetworkError".into(),
        message: "the object's body could not be read to the end".into(),
        request_id: None,
    }
}

/// Text when the bytes are UTF-8 (a cut in the middle of a character moves back to its
/// start), base64 otherwise, kept within `budget` bytes of output.
fn encode_body(mut body: Vec<u8>, budget: usize, truncated: &mut bool) -> (&'static str, String, usize) {
    match std::str::from_utf8(&body) {
        Ok(_) => {}
        Err(error) if *truncated && error.error_len().is_none() => body.truncate(error.valid_up_to()),
        Err(_) => {
            let limit = budget / 4 * 3;
            if body.len() > limit {
                body.truncate(limit);
                *truncated = true;
            }
            let returned = body.len();
            return ("base64", base64::engine::general_purpose::STANDARD.encode(&body), returned);
        }
    }
    let returned = body.len();
    ("utf-8", String::from_utf8(body).unwrap_or_default(), returned)
}

/// `bytes 100-199/1000` -> 100
fn range_start(content_range: &str) -> Option<u64> {
    content_range.strip_prefix("bytes ")?.split('-').next()?.parse().ok()
}

/// `bytes 100-199/1000` -> 1000
fn range_total(content_range: &str) -> Option<i64> {
    content_range.rsplit('/').next()?.parse().ok()
}

fn head_object(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    let key = args.key()?;
    Ok(Prepared::new(vec![object_arn(scope, &bucket, &key)], move |aws, _| async move {
        let out = aws.s3.head_object().bucket(&bucket).key(&key).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(
            json!({
                "bucket": bucket,
                "key": key,
                "content_length": out.content_length(),
                "content_type": out.content_type(),
                "etag": out.e_tag(),
                "last_modified": time(out.last_modified()),
                "metadata": out.metadata(),
            }),
            &out,
        ))
    }))
}

fn put_object(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    let key = args.key()?;
    let body = args.text("body")?;
    let bytes = match args.opt_text("encoding").unwrap_or("utf-8") {
        "utf-8" => body.as_bytes().to_vec(),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| ArgumentError(format!("`body` is not valid base64: {e}")))?,
        other => {
            return Err(ArgumentError(format!(
                "`encoding` must be `utf-8` or `base64`, not `{}`",
                super::args::printable(other)
            )));
        }
    };
    if bytes.len() > MAX_PUT_BYTES {
        return Err(ArgumentError(format!("`body` is {} bytes; at most {MAX_PUT_BYTES}", bytes.len())));
    }
    let content_type = args.opt_text("content_type").map(str::to_string);
    Ok(Prepared::new(vec![object_arn(scope, &bucket, &key)], move |aws, _| async move {
        let size = bytes.len();
        let out = aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(bytes))
            .set_content_type(content_type)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(
            json!({ "bucket": bucket, "key": key, "size": size, "etag": out.e_tag(), "version_id": out.version_id() }),
            &out,
        ))
    }))
}

fn delete_object(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let bucket = args.bucket()?;
    let key = args.key()?;
    Ok(Prepared::new(vec![object_arn(scope, &bucket, &key)], move |aws, _| async move {
        let out = aws.s3.delete_object().bucket(&bucket).key(&key).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "bucket": bucket, "key": key, "deleted": true, "version_id": out.version_id() }), &out))
    }))
}

/// Every IAM action of S3, for validating policies.
pub const IAM_ACTIONS: &[&str] = &[
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "CreateAccessGrant",
    "CreateAccessGrantsInstance",
    "CreateAccessGrantsLocation",
    "CreateAccessPoint",
    "CreateAccessPointForObjectLambda",
    "CreateBucket",
    "CreateJob",
    "CreateMultiRegionAccessPoint",
    "CreateStorageLensGroup",
    "DeleteAccessGrant",
    "DeleteAccessGrantsInstance",
    "DeleteAccessGrantsLocation",
    "DeleteAccessPoint",
    "DeleteAccessPointForObjectLambda",
    "DeleteAccessPointPolicy",
    "DeleteAccessPointPolicyForObjectLambda",
    "DeleteBucket",
    "DeleteBucketOwnershipControls",
    "DeleteBucketPolicy",
    "DeleteBucketWebsite",
    "DeleteIntelligentTieringConfiguration",
    "DeleteJobTagging",
    "DeleteMultiRegionAccessPoint",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "DeleteObjectVersionTagging",
    "DeleteStorageLensConfiguration",
    "DeleteStorageLensConfigurationTagging",
    "DeleteStorageLensGroup",
    "DescribeJob",
    "DescribeMultiRegionAccessPointOperation",
    "GetAccelerateConfiguration",
    "GetAccessGrant",
    "GetAccessGrantsInstance",
    "GetAccessGrantsLocation",
    "GetAccessPoint",
    "GetAccessPointConfigurationForObjectLambda",
    "GetAccessPointForObjectLambda",
    "GetAccessPointPolicy",
    "GetAccessPointPolicyForObjectLambda",
    "GetAccessPointPolicyStatus",
    "GetAccessPointPolicyStatusForObjectLambda",
    "GetAccountPublicAccessBlock",
    "GetAnalyticsConfiguration",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketNotification",
    "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetDataAccess",
    "GetEncryptionConfiguration",
    "GetIntelligentTieringConfiguration",
    "GetInventoryConfiguration",
    "GetJobTagging",
    "GetLifecycleConfiguration",
    "GetMetricsConfiguration",
    "GetMultiRegionAccessPoint",
    "GetMultiRegionAccessPointPolicy",
    "GetMultiRegionAccessPointPolicyStatus",
    "GetMultiRegionAccessPointRoutes",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "GetObjectVersion",
    "GetObjectVersionAcl",
    "GetObjectVersionAttributes",
    "GetObjectVersionForReplication",
    "GetObjectVersionTagging",
    "GetObjectVersionTorrent",
    "GetReplicationConfiguration",
    "GetStorageLensConfiguration",
    "GetStorageLensConfigurationTagging",
    "GetStorageLensDashboard",
    "GetStorageLensGroup",
    "InitiateReplication",
    "ListAccessGrants",
    "ListAccessGrantsInstances",
    "ListAccessGrantsLocations",
    "ListAccessPoints",
    "ListAccessPointsForObjectLambda",
    "ListAllMyBuckets",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "ListJobs",
    "ListMultiRegionAccessPoints",
    "ListMultipartUploadParts",
    "ListStorageLensConfigurations",
    "ListStorageLensGroups",
    "ListTagsForResource",
    "ObjectOwnerOverrideToBucketOwner",
    "PutAccelerateConfiguration",
    "PutAccessPointConfigurationForObjectLambda",
    "PutAccessPointPolicy",
    "PutAccessPointPolicyForObjectLambda",
    "PutAccessPointPublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "PutAnalyticsConfiguration",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketLogging",
    "PutBucketNotification",
    "PutBucketObjectLockConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutEncryptionConfiguration",
    "PutIntelligentTieringConfiguration",
    "PutInventoryConfiguration",
    "PutJobTagging",
    "PutLifecycleConfiguration",
    "PutMetricsConfiguration",
    "PutMultiRegionAccessPointPolicy",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutObjectVersionAcl",
    "PutObjectVersionTagging",
    "PutReplicationConfiguration",
    "PutStorageLensConfiguration",
    "PutStorageLensConfigurationTagging",
    "ReplicateDelete",
    "ReplicateObject",
    "ReplicateTags",
    "RestoreObject",
    "SubmitMultiRegionAccessPointRoutes",
    "TagResource",
    "UntagResource",
    "UpdateAccessGrantsLocation",
    "UpdateJobPriority",
    "UpdateJobStatus",
    "UpdateStorageLensGroup",
];
