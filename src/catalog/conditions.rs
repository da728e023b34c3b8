//! The condition keys awsgate supplies for its tools, as AWS's Service Authorization
//! Reference documents them, and how each call learns them: from its arguments, or by a
//! look-up in AWS made only when a statement that could decide the call tests the key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeyType as DynamoKeyType};
use base64::Engine;

use super::call::{Facts, FactsFuture, Lookup, Prepared, describe_sdk_error};
use crate::aws::Aws;
use crate::policy::{ConditionKey, KeyType};

const fn key(name: &'static str, kind: KeyType, actions: &'static [&'static str]) -> ConditionKey {
    ConditionKey { name, kind, multi: false, actions }
}

const fn multi(name: &'static str, actions: &'static [&'static str]) -> ConditionKey {
    ConditionKey { name, kind: KeyType::String, multi: true, actions }
}

/// The family of keys for a resource's tags.
pub const RESOURCE_TAG: &str = "aws:resourcetag/";
/// The family of keys for an S3 object's tags.
pub const OBJECT_TAG: &str = "s3:existingobjecttag/";

pub const S3_KEYS: &[ConditionKey] = &[
    key("s3:prefix", KeyType::String, &["ListBucket"]),
    key("s3:delimiter", KeyType::String, &["ListBucket"]),
    key("s3:max-keys", KeyType::Numeric, &["ListBucket"]),
    key("s3:ExistingObjectTag/", KeyType::String, &["GetObject"]),
];

pub const DYNAMODB_KEYS: &[ConditionKey] = &[
    multi("dynamodb:LeadingKeys", &["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"]),
    multi("dynamodb:Attributes", &["GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"]),
    key("dynamodb:Select", KeyType::String, &["GetItem", "Query", "Scan"]),
    key("dynamodb:ReturnValues", KeyType::String, &["PutItem", "UpdateItem", "DeleteItem"]),
    key(
        "aws:ResourceTag/",
        KeyType::String,
        &["DescribeTable", "GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"],
    ),
];

/// Every SQS tool that acts on a queue (all but `ListQueues`, which has no resource to tag).
pub const SQS_KEYS: &[ConditionKey] = &[key("aws:ResourceTag/", KeyType::String, &[])];

pub const SECRETSMANAGER_KEYS: &[ConditionKey] = &[
    key("secretsmanager:VersionStage", KeyType::String, &["GetSecretValue"]),
    key("secretsmanager:VersionId", KeyType::String, &["GetSecretValue"]),
];

pub const KMS_KEYS: &[ConditionKey] = &[
    key("kms:RequestAlias", KeyType::String, &["DescribeKey", "Encrypt", "Decrypt"]),
    key("kms:EncryptionContext:", KeyType::String, &["Encrypt", "Decrypt"]),
    multi("kms:EncryptionContextKeys", &["Encrypt", "Decrypt"]),
];

pub const CLOUDWATCH_KEYS: &[ConditionKey] = &[key("cloudwatch:namespace", KeyType::String, &["PutMetricData"])];

/// Adds the tag look-ups a call's resources need: an S3 object's tags for
/// `s3:ExistingObjectTag/`, a table's or a queue's tags for `aws:ResourceTag/`.
pub fn add_tag_lookups(service: &str, action: &str, prepared: &mut Prepared) {
    let keys: &[ConditionKey] = match service {
        "s3" => S3_KEYS,
        "dynamodb" => DYNAMODB_KEYS,
        "sqs" => SQS_KEYS,
        _ => return,
    };
    let tagged = |family: &str| keys.iter().any(|k| k.names(&format!("{family}x")) && k.applies_to(action));
    let mut lookups = Vec::new();
    for (index, arn) in prepared.resources.iter().enumerate() {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let (fetch, family): (fn(Aws, String) -> FactsFuture, &'static str) = match parts.as_slice() {
            [_, _, "s3", _, _, path] if path.contains('/') && tagged(OBJECT_TAG) => (object_tags, OBJECT_TAG),
            [_, _, "dynamodb", _, _, path] if path.starts_with("table/") && tagged(RESOURCE_TAG) => {
                (table_tags, RESOURCE_TAG)
            }
            [_, _, "sqs", _, _, _] if tagged(RESOURCE_TAG) => (queue_tags, RESOURCE_TAG),
            _ => continue,
        };
        // Index reads are judged on the index ARN; its tags are the table's.
        let tagged_arn = match arn.find("/index/") {
            Some(at) if parts.get(2) == Some(&"dynamodb") => arn.get(..at).unwrap_or(arn).to_string(),
            _ => arn.clone(),
        };
        lookups.push(Lookup {
            resource: index,
            key: family,
            cache_key: format!("tags {tagged_arn}"),
            arn: tagged_arn,
            fetch,
            finish: Box::new(move |facts: &Facts| {
                facts.iter().map(|(k, v)| (format!("{family}{}", k.to_ascii_lowercase()), vec![v.clone()])).collect()
            }),
        });
    }
    prepared.lookups.extend(lookups);
}

/// At most this many pages of tags are read (DynamoDB pages them).
const TAG_PAGES: usize = 10;

fn table_tags(aws: Aws, arn: String) -> FactsFuture {
    Box::pin(async move {
        let mut facts = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..TAG_PAGES {
            let out = aws
                .dynamodb
                .list_tags_of_resource()
                .resource_arn(&arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| describe_sdk_error(&e))?;
            facts.extend(out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())));
            match out.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(facts),
            }
        }
        Err(super::AwsFailure {
            code: "TooManyTags".into(),
            message: format!("more than {TAG_PAGES} pages of tags"),
            request_id: None,
        })
    })
}

fn queue_tags(aws: Aws, arn: String) -> FactsFuture {
    Box::pin(async move {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let (region, account, name) = match parts.as_slice() {
            [_, _, _, region, account, name] => (*region, *account, *name),
            _ => ("", "", ""),
        };
        let url = format!("https://sqs.{region}.amazonaws.com/{account}/{name}");
        let out = aws.sqs.list_queue_tags().queue_url(url).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out.tags().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
    })
}

fn object_tags(aws: Aws, arn: String) -> FactsFuture {
    Box::pin(async move {
        let path = arn.splitn(6, ':').nth(5).unwrap_or_default();
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let out =
            aws.s3.get_object_tagging().bucket(bucket).key(key).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
    })
}

/// A key attribute's value as a condition value: strings and numbers as written, binary
/// as base64; other types cannot be keys.
fn key_value(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => Some(s.clone()),
        AttributeValue::B(blob) => Some(base64::engine::general_purpose::STANDARD.encode(blob.as_ref())),
        _ => None,
    }
}

/// `dynamodb:LeadingKeys` of a call: the partition key's value. `candidates` are the
/// attributes that may be the partition key (a key's or an item's attributes, or the
/// equalities of a key condition). With one candidate it is known at once; with several,
/// the table's key schema says which one it is, learnt from AWS when a statement needs it.
pub fn leading_keys(prepared: Prepared, table_arn: &str, candidates: Vec<(String, String)>) -> Prepared {
    if let [(_, value)] = candidates.as_slice() {
        let value = value.clone();
        return prepared.with_key("dynamodb:leadingkeys", Some(vec![value]));
    }
    prepared.with_lookup(Lookup {
        resource: 0,
        key: "dynamodb:leadingkeys",
        arn: table_arn.to_string(),
        cache_key: format!("schema {table_arn}"),
        fetch: partition_key_name,
        finish: Box::new(move |facts: &Facts| {
            let partition = facts.iter().find(|(k, _)| k == "partition_key").map(|(_, v)| v.as_str());
            let values: Vec<String> = candidates
                .iter()
                .filter(|(name, _)| Some(name.as_str()) == partition)
                .map(|(_, v)| v.clone())
                .collect();
            if values.is_empty() { Vec::new() } else { vec![("dynamodb:leadingkeys".to_string(), values)] }
        }),
    })
}

/// The attributes of a key or item that can be partition keys.
pub fn key_candidates(item: &HashMap<String, AttributeValue>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        item.iter().filter_map(|(name, value)| key_value(value).map(|v| (name.clone(), v))).collect();
    out.sort();
    out
}

fn partition_key_name(aws: Aws, arn: String) -> FactsFuture {
    Box::pin(async move {
        let table = arn.split_once(":table/").map_or(arn.as_str(), |(_, t)| t).to_string();
        let out = aws.dynamodb.describe_table().table_name(table).send().await.map_err(|e| describe_sdk_error(&e))?;
        let name = out
            .table()
            .map(|t| t.key_schema())
            .unwrap_or_default()
            .iter()
            .find(|k| *k.key_type() == DynamoKeyType::Hash)
            .map(|k| k.attribute_name().to_string());
        Ok(name.map(|n| vec![("partition_key".to_string(), n)]).unwrap_or_default())
    })
}

/// The attribute names of a projection expression (`#n` resolved through `names`), or
/// `None` when it cannot be read.
pub fn projection_attributes(projection: &str, names: Option<&HashMap<String, String>>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for path in projection.split(',') {
        // The top-level attribute of a document path: `a.b[2]` is `a`.
        let top = path.trim().split(['.', '[']).next().unwrap_or("").trim();
        if top.is_empty() {
            return None;
        }
        let name = match top.strip_prefix('#') {
            Some(_) => names.and_then(|n| n.get(top)).cloned()?,
            None => top.to_string(),
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Some(out)
}

/// The equalities `name = :value` of a key condition expression, with their values, as
/// partition key candidates. `None` when some clause cannot be read.
pub fn key_condition_candidates(
    expression: &str,
    names: Option<&HashMap<String, String>>,
    values: Option<&HashMap<String, AttributeValue>>,
) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for clause in split_and(expression) {
        let Some((left, right)) = clause.split_once('=') else { continue };
        let (left, right) = (left.trim(), right.trim());
        if left.ends_with(['<', '>', '!']) {
            continue;
        }
        let (attribute, placeholder) = if right.starts_with(':') { (left, right) } else { (right, left) };
        let name = match attribute.strip_prefix('#') {
            Some(_) => names.and_then(|n| n.get(attribute)).cloned()?,
            None => attribute.trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace()).to_string(),
        };
        let value =
            values.and_then(|v| v.get(placeholder.trim_matches(|c: char| c == '(' || c == ')'))).and_then(key_value)?;
        out.push((name, value));
    }
    Some(out)
}

/// Splits at the `AND`s of an expression (any case), outside of parentheses.
fn split_and(expression: &str) -> Vec<&str> {
    let bytes = expression.as_bytes();
    let is_and = |i: usize| {
        bytes.get(i).is_some_and(u8::is_ascii_whitespace)
            && bytes.get(i + 1..i + 4).is_some_and(|w| w.eq_ignore_ascii_case(b"and"))
            && bytes.get(i + 4).is_some_and(u8::is_ascii_whitespace)
    };
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0usize, 0usize);
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'(') => depth += 1,
            Some(b')') => depth -= 1,
            _ => {}
        }
        if depth == 0 && is_and(i) {
            parts.push(expression.get(start..i).unwrap_or(""));
            start = i + 5;
            i += 5;
        } else {
            i += 1;
        }
    }
    parts.push(expression.get(start..).unwrap_or(""));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_conditions_give_their_equalities() {
        let values: HashMap<String, AttributeValue> = [
            (":t".to_string(), AttributeValue::S("tenant-a".into())),
            (":p".to_string(), AttributeValue::S("order#".into())),
        ]
        .into();
        let names: HashMap<String, String> = [("#pk".to_string(), "tenant".to_string())].into();
        let found = key_condition_candidates("#pk = :t AND begins_with(sk, :p)", Some(&names), Some(&values));
        assert_eq!(found, Some(vec![("tenant".into(), "tenant-a".into())]));
        let found = key_condition_candidates("pk = :t and sk = :p", None, Some(&values));
        assert_eq!(found.map(|f| f.len()), Some(2));
        assert_eq!(key_condition_candidates("#x = :t", None, Some(&values)), None);
    }

    #[test]
    fn projections_name_top_level_attributes() {
        let names: HashMap<String, String> = [("#s".to_string(), "status".to_string())].into();
        assert_eq!(
            projection_attributes("a, #s, c.d[1], a", Some(&names)),
            Some(vec!["a".to_string(), "status".to_string(), "c".to_string()])
        );
        assert_eq!(projection_attributes("#missing", None), None);
    }
}
