//! Amazon DynamoDB. Keys, items and values are plain JSON, converted both ways.
//!
//! JSON -> DynamoDB: string `S`, number `N`, boolean `BOOL`, null `NULL`, list `L`,
//! object `M`. DynamoDB -> JSON: the same, plus binary `B` as a base64 string and the sets
//! `SS`, `NS` and `BS` as lists (of strings, numbers and base64 strings). A number is
//! returned as a JSON number when a double holds it exactly, else as a string of its exact
//! digits, so no digit is ever lost. Sets and binary values cannot be written.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::conditions::{key_candidates, key_condition_candidates, leading_keys, projection_attributes};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec, table_arn};
use crate::aws::Scope;

const TABLE: Arg = required("table", SHORT, "The table name.");
const KEY: Arg =
    required("key", Kind::Object, "The item's full primary key as plain JSON, e.g. {\"pk\": \"order#1\"}.");
const NAMES: Arg = optional(
    "expression_attribute_names",
    Kind::TextMap,
    "Placeholders for attribute names, e.g. {\"#s\": \"status\"}.",
);
const VALUES: Arg = optional(
    "expression_attribute_values",
    Kind::Object,
    "Placeholders for values as plain JSON, e.g. {\":s\": \"open\"}.",
);
const CONDITION: Arg = optional("condition_expression", SHORT, "The write happens only if this holds.");
const PROJECTION: Arg = optional("projection_expression", SHORT, "The attributes to return.");
const CONSISTENT: Arg = optional("consistent_read", Kind::Boolean, "Strongly consistent read.");
const LIMIT: Arg =
    optional("limit", Kind::Integer { min: 1, max: 1000 }, "At most this many items evaluated per page.");
const START: Arg = optional("exclusive_start_key", Kind::Object, "`last_evaluated_key` of the previous page.");
const INDEX: Arg = optional("index_name", SHORT, "A secondary index to read instead of the table.");
const FILTER: Arg = optional("filter_expression", SHORT, "Only return items for which this holds.");

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "dynamodb_list_tables",
        service: "dynamodb",
        operation: "ListTables",
        action: "ListTables",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the tables of the account in this region.",
        args: &[
            optional("limit", Kind::Integer { min: 1, max: 100 }, "At most this many names."),
            optional("exclusive_start_table_name", SHORT, "`last_evaluated_table_name` of the previous page."),
        ],
        prepare: list_tables,
    },
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_describe_table",
        "DescribeTable",
        Access::Read,
        READS,
        "Describe a table: key schema, indexes, item count, status.",
        &[TABLE],
        describe_table,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_get_item",
        "GetItem",
        Access::Read,
        READS,
        "Read one item by its full primary key.",
        &[TABLE, KEY, CONSISTENT, PROJECTION, NAMES],
        get_item,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_query",
        "Query",
        Access::Read,
        READS,
        "Query items by partition key and optional sort-key condition.",
        &[
            TABLE,
            required("key_condition_expression", SHORT, "e.g. `pk = :pk AND begins_with(sk, :prefix)`."),
            VALUES,
            NAMES,
            FILTER,
            INDEX,
            PROJECTION,
            LIMIT,
            START,
            CONSISTENT,
            optional("scan_index_forward", Kind::Boolean, "false for descending sort-key order."),
        ],
        query,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_scan",
        "Scan",
        Access::Read,
        READS,
        "Read every item of a table, page by page.",
        &[TABLE, FILTER, VALUES, NAMES, INDEX, PROJECTION, LIMIT, START, CONSISTENT],
        scan,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_put_item",
        "PutItem",
        Access::Write,
        // Replaces an existing item with the same key.
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Write an item, creating it or replacing the item with the same key.",
        &[
            TABLE,
            required("item", Kind::Object, "The whole item as plain JSON, key attributes included."),
            CONDITION,
            NAMES,
            VALUES,
        ],
        put_item,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_update_item",
        "UpdateItem",
        Access::Write,
        // An update expression can `ADD` to a number: repeating it is not a no-op.
        Annotations { read_only: false, destructive: true, idempotent: false, open_world: true },
        "Change attributes of one item with an update expression; returns the item as it is after the update.",
        &[TABLE, KEY, required("update_expression", SHORT, "e.g. `SET #s = :s`."), CONDITION, NAMES, VALUES],
        update_item,
    ),
    ToolSpec::named_after_action(
        "dynamodb",
        ResourceShape::Table,
        "dynamodb_delete_item",
        "DeleteItem",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete one item by its full primary key.",
        &[TABLE, KEY, CONDITION, NAMES, VALUES],
        delete_item,
    ),
];

pub const TOOL_ACTIONS: &[&str] =
    &["ListTables", "DescribeTable", "GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"];

/// Plain JSON to an attribute value.
pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(to_item(map)),
    }
}

pub fn to_item(map: &Map<String, Value>) -> HashMap<String, AttributeValue> {
    map.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()
}

/// An attribute value to plain JSON.
pub fn from_attribute(value: &AttributeValue) -> Value {
    let base64 = |blob: &Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()));
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attribute).collect()),
        AttributeValue::M(map) => from_item(map),
        AttributeValue::B(blob) => base64(blob),
        AttributeValue::Ss(items) => json!(items),
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        AttributeValue::Bs(items) => Value::Array(items.iter().map(base64).collect()),
        _ => Value::Null,
    }
}

pub fn from_item(map: &HashMap<String, AttributeValue>) -> Value {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    Value::Object(keys.into_iter().filter_map(|k| map.get(k).map(|v| (k.clone(), from_attribute(v)))).collect())
}

/// A DynamoDB number as a JSON number when that is exact, else as a string of its digits.
pub fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return json!(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return json!(u);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && same_decimal(&f.to_string(), text) => json!(f),
        _ => Value::String(text.to_string()),
    }
}

/// Do two decimal numerals denote the same number? Compares sign, significant digits and
/// exponent, so `1.50`, `1.5` and `15E-1` are equal.
fn same_decimal(a: &str, b: &str) -> bool {
    canonical(a).is_some() && canonical(a) == canonical(b)
}

fn canonical(text: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (rest.get(..at)?, rest.get(at + 1..)?.parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !(whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())) || (whole.is_empty() && fraction.is_empty())
    {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let point = exponent + i64::try_from(whole.len()).ok()?;
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let significant = digits.trim_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, significant.to_string(), point - i64::try_from(leading).ok()?))
}

fn names(args: &Arguments) -> Option<HashMap<String, String>> {
    args.opt_object("expression_attribute_names")
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
}

fn values(args: &Arguments) -> Option<HashMap<String, AttributeValue>> {
    args.opt_object("expression_attribute_values").map(to_item)
}

/// `dynamodb:Select` of a read: the tools never send `Select`, so DynamoDB returns the
/// projected attributes with a projection and all of them without one.
fn select_of(projection: Option<&str>) -> Option<Vec<String>> {
    let select = if projection.is_some() { "SPECIFIC_ATTRIBUTES" } else { "ALL_ATTRIBUTES" };
    Some(vec![select.to_string()])
}

/// A read's `dynamodb:Attributes` (the projection's, absent without one; unknown when the
/// projection cannot be read) and `dynamodb:Select`.
fn reads(prepared: Prepared, attributes: Option<Option<Vec<String>>>, select: Option<Vec<String>>) -> Prepared {
    let prepared = prepared.with_key("dynamodb:select", select);
    match attributes {
        None => prepared,
        Some(Some(names)) => prepared.with_key("dynamodb:attributes", Some(names)),
        Some(None) => prepared.with_unknown("dynamodb:attributes"),
    }
}

fn text(args: &Arguments, name: &str) -> Option<String> {
    args.opt_text(name).map(str::to_string)
}

/// The resource a read touches: the table, or the index when one is named (IAM
/// authorizes index reads on `table/T/index/I`).
fn read_target(args: &Arguments, scope: &Scope) -> Result<(String, Option<String>, String), ArgumentError> {
    let table = args.table_name("table")?;
    let index = match args.opt_text("index_name") {
        Some(_) => Some(args.table_name("index_name")?),
        None => None,
    };
    let arn = match &index {
        Some(index) => format!("{}/index/{index}", table_arn(scope, &table)),
        None => table_arn(scope, &table),
    };
    Ok((table, index, arn))
}

/// One page of a query or scan, with the key to continue from.
fn page(
    table: &str,
    items: &[HashMap<String, AttributeValue>],
    count: i32,
    scanned_count: i32,
    last_evaluated_key: Option<&HashMap<String, AttributeValue>>,
) -> Value {
    json!({
        "table": table,
        "items": items.iter().map(from_item).collect::<Vec<_>>(),
        "count": count,
        "scanned_count": scanned_count,
        "last_evaluated_key": last_evaluated_key.map(from_item),
    })
}

fn list_tables(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let limit = args.opt_i32("limit");
    let start = text(args, "exclusive_start_table_name");
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .dynamodb
            .list_tables()
            .set_limit(limit)
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(
            json!({ "tables": out.table_names(), "last_evaluated_table_name": out.last_evaluated_table_name() }),
            &out,
        ))
    }))
}

fn describe_table(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let table = args.table_name("table")?;
    Ok(Prepared::new(vec![table_arn(scope, &table)], move |aws, _| async move {
        let out = aws.dynamodb.describe_table().table_name(&table).send().await.map_err(|e| describe_sdk_error(&e))?;
        let description = out.table();
        let key_schema: Vec<Value> = description
            .map(|d| d.key_schema())
            .unwrap_or_default()
            .iter()
            .map(|k| json!({ "attribute": k.attribute_name(), "type": k.key_type().as_str() }))
            .collect();
        let attributes: Vec<Value> = description
            .map(|d| d.attribute_definitions())
            .unwrap_or_default()
            .iter()
            .map(|a| json!({ "attribute": a.attribute_name(), "type": a.attribute_type().as_str() }))
            .collect();
        let indexes: Vec<Option<&str>> = description
            .map(|d| d.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .map(|i| i.index_name())
            .chain(description.map(|d| d.local_secondary_indexes()).unwrap_or_default().iter().map(|i| i.index_name()))
            .collect();
        Ok(output(
            json!({
                "table": table,
                "status": description.and_then(|d| d.table_status()).map(|s| s.as_str()),
                "key_schema": key_schema,
                "attribute_definitions": attributes,
                "indexes": indexes,
                "item_count": description.and_then(|d| d.item_count()),
                "size_bytes": description.and_then(|d| d.table_size_bytes()),
                "arn": description.and_then(|d| d.table_arn()),
            }),
            &out,
        ))
    }))
}

fn get_item(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let table = args.table_name("table")?;
    let key = to_item(args.object("key")?);
    let consistent = args.opt_bool("consistent_read");
    let projection = text(args, "projection_expression");
    let names = names(args);
    let arn = table_arn(scope, &table);
    let candidates = key_candidates(&key);
    let attributes = projection.as_deref().map(|p| projection_attributes(p, names.as_ref()));
    let select = select_of(projection.as_deref());
    let prepared = Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws
            .dynamodb
            .get_item()
            .table_name(&table)
            .set_key(Some(key))
            .set_consistent_read(consistent)
            .set_projection_expression(projection)
            .set_expression_attribute_names(names)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let item = out.item().map_or(Value::Null, from_item);
        Ok(output(json!({ "table": table, "found": !item.is_null(), "item": item }), &out))
    });
    let prepared = reads(prepared, attributes, select);
    Ok(leading_keys(prepared, &arn, candidates))
}

fn query(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (table, index, arn) = read_target(args, scope)?;
    let condition = args.text("key_condition_expression")?.to_string();
    let (values, names) = (values(args), names(args));
    let filter = text(args, "filter_expression");
    let projection = text(args, "projection_expression");
    let limit = args.opt_i32("limit");
    let start = args.opt_object("exclusive_start_key").map(to_item);
    let consistent = args.opt_bool("consistent_read");
    let forward = args.opt_bool("scan_index_forward");
    let attributes = projection.as_deref().map(|p| projection_attributes(p, names.as_ref()));
    let select = select_of(projection.as_deref());
    // On an index the leading key is the index's, which the call does not name: unknown.
    let candidates = match index {
        Some(_) => None,
        None => key_condition_candidates(&condition, names.as_ref(), values.as_ref()),
    };
    let table_arn = arn.clone();
    let prepared = Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .dynamodb
            .query()
            .table_name(&table)
            .set_index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .set_filter_expression(filter)
            .set_projection_expression(projection)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .set_consistent_read(consistent)
            .set_scan_index_forward(forward)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let page = page(&table, out.items(), out.count(), out.scanned_count(), out.last_evaluated_key());
        Ok(output(page, &out))
    });
    let prepared = reads(prepared, attributes, select);
    Ok(match candidates {
        Some(candidates) if !candidates.is_empty() => leading_keys(prepared, &table_arn, candidates),
        _ => prepared.with_unknown("dynamodb:leadingkeys"),
    })
}

fn scan(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (table, index, arn) = read_target(args, scope)?;
    let (values, names) = (values(args), names(args));
    let filter = text(args, "filter_expression");
    let projection = text(args, "projection_expression");
    let limit = args.opt_i32("limit");
    let start = args.opt_object("exclusive_start_key").map(to_item);
    let consistent = args.opt_bool("consistent_read");
    let attributes = projection.as_deref().map(|p| projection_attributes(p, names.as_ref()));
    let select = select_of(projection.as_deref());
    let prepared = Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .dynamodb
            .scan()
            .table_name(&table)
            .set_index_name(index)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .set_filter_expression(filter)
            .set_projection_expression(projection)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .set_consistent_read(consistent)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let page = page(&table, out.items(), out.count(), out.scanned_count(), out.last_evaluated_key());
        Ok(output(page, &out))
    });
    Ok(reads(prepared, attributes, select))
}

fn put_item(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let table = args.table_name("table")?;
    let item = to_item(args.object("item")?);
    let condition = text(args, "condition_expression");
    let (values, names) = (values(args), names(args));
    let arn = table_arn(scope, &table);
    let candidates = key_candidates(&item);
    let mut attributes: Vec<String> = item.keys().cloned().collect();
    attributes.sort();
    let prepared = Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws
            .dynamodb
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .set_condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "table": table, "written": true }), &out))
    });
    let prepared = prepared.with_key("dynamodb:attributes", Some(attributes));
    Ok(leading_keys(prepared, &arn, candidates))
}

fn update_item(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let table = args.table_name("table")?;
    let key = to_item(args.object("key")?);
    let update = args.text("update_expression")?.to_string();
    let condition = text(args, "condition_expression");
    let (values, names) = (values(args), names(args));
    let arn = table_arn(scope, &table);
    let candidates = key_candidates(&key);
    let prepared = Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws
            .dynamodb
            .update_item()
            .table_name(&table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "table": table, "item": out.attributes().map(from_item) }), &out))
    });
    // The attributes an update expression touches are not read here: unknown, so a
    // statement that tests them fails closed.
    let prepared = prepared.with_key("dynamodb:returnvalues", Some(vec!["ALL_NEW".into()]));
    Ok(leading_keys(prepared.with_unknown("dynamodb:attributes"), &arn, candidates))
}

fn delete_item(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let table = args.table_name("table")?;
    let key = to_item(args.object("key")?);
    let condition = text(args, "condition_expression");
    let (values, names) = (values(args), names(args));
    let arn = table_arn(scope, &table);
    let candidates = key_candidates(&key);
    let mut attributes: Vec<String> = key.keys().cloned().collect();
    attributes.sort();
    let prepared = Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws
            .dynamodb
            .delete_item()
            .table_name(&table)
            .set_key(Some(key))
            .set_condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "table": table, "deleted": out.attributes().is_some() }), &out))
    });
    let prepared = prepared
        .with_key("dynamodb:returnvalues", Some(vec!["ALL_OLD".into()]))
        .with_key("dynamodb:attributes", Some(attributes));
    Ok(leading_keys(prepared, &arn, candidates))
}

/// Every IAM action of DynamoDB, for validating policies.
pub const IAM_ACTIONS: &[&str] = &[
    "BatchGetItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "CreateBackup",
    "CreateGlobalTable",
    "CreateTable",
    "CreateTableReplica",
    "DeleteBackup",
    "DeleteItem",
    "DeleteResourcePolicy",
    "DeleteTable",
    "DeleteTableReplica",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeEndpoints",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeLimits",
    "DescribeReservedCapacity",
    "DescribeReservedCapacityOfferings",
    "DescribeStream",
    "DescribeTable",
    "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExportTableToPointInTime",
    "GetAbacStatus",
    "GetItem",
    "GetRecords",
    "GetResourcePolicy",
    "GetShardIterator",
    "ImportTable",
    "ListBackups",
    "ListContributorInsights",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "ListStreams",
    "ListTables",
    "ListTagsOfResource",
    "PartiQLDelete",
    "PartiQLInsert",
    "PartiQLSelect",
    "PartiQLUpdate",
    "PurchaseReservedCapacityOfferings",
    "PutItem",
    "PutResourcePolicy",
    "Query",
    "RestoreTableFromAwsBackup",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "Scan",
    "StartAwsBackupJob",
    "TagResource",
    "UntagResource",
    "UpdateAbacStatus",
    "UpdateContinuousBackups",
    "UpdateContributorInsights",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateGlobalTableVersion",
    "UpdateItem",
    "UpdateKinesisStreamingDestination",
    "UpdateTable",
    "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_round_trips() {
        let value =
            json!({"pk": "a", "n": 42, "f": 19.99, "ok": true, "none": null, "list": [1, "x"], "map": {"k": -0.5}});
        let map = value.as_object().unwrap();
        assert_eq!(from_item(&to_item(map)), value);
    }

    #[test]
    fn numbers_keep_their_precision() {
        assert_eq!(number("12"), json!(12));
        assert_eq!(number("1.50"), json!(1.5));
        assert_eq!(number("18446744073709551615"), json!(18446744073709551615u64));
        // 38 significant digits: no double holds it, so the exact digits come back as text.
        assert_eq!(number("1234567890.1234567890123456789012345678"), json!("1234567890.1234567890123456789012345678"));
        assert_eq!(number("123456789012345678901234567890"), json!("123456789012345678901234567890"));
    }

    #[test]
    fn sets_and_binary_come_back_as_lists_and_base64() {
        assert_eq!(from_attribute(&AttributeValue::Ss(vec!["a".into(), "b".into()])), json!(["a", "b"]));
        assert_eq!(from_attribute(&AttributeValue::Ns(vec!["1".into(), "2.5".into()])), json!([1, 2.5]));
        assert_eq!(from_attribute(&AttributeValue::B(Blob::new(b"hi".to_vec()))), json!("aGk="));
    }
}
