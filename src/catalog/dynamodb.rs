//! Amazon DynamoDB.

use super::{Access, Annotations, READS, ResourceShape, ToolSpec};

const fn table_tool(name: &'static str, operation: &'static str, access: Access, annotations: Annotations, summary: &'static str) -> ToolSpec {
    ToolSpec { name, service: "dynamodb", operation, action: operation, access, resource: ResourceShape::Table, annotations, summary }
}

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
    },
    table_tool("dynamodb_describe_table", "DescribeTable", Access::Read, READS, "Describe a table: key schema, indexes, item count, status."),
    table_tool("dynamodb_get_item", "GetItem", Access::Read, READS, "Read one item by its full primary key."),
    table_tool("dynamodb_query", "Query", Access::Read, READS, "Query items by partition key and optional sort-key condition."),
    table_tool("dynamodb_scan", "Scan", Access::Read, READS, "Read every item of a table, page by page."),
    table_tool(
        "dynamodb_put_item",
        "PutItem",
        Access::Write,
        // Replaces an existing item with the same key.
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Write an item, creating it or replacing the item with the same key.",
    ),
    table_tool(
        "dynamodb_update_item",
        "UpdateItem",
        Access::Write,
        // An update expression can `ADD` to a number: repeating it is not a no-op.
        Annotations { read_only: false, destructive: true, idempotent: false, open_world: true },
        "Change attributes of one item with an update expression.",
    ),
    table_tool(
        "dynamodb_delete_item",
        "DeleteItem",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete one item by its full primary key.",
    ),
];

pub const TOOL_ACTIONS: &[&str] = &["ListTables", "DescribeTable", "GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"];

/// Every IAM action of DynamoDB, for validating policies.
pub const IAM_ACTIONS: &[&str] = &[
    "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "CreateBackup", "CreateGlobalTable", "CreateTable",
    "CreateTableReplica", "DeleteBackup", "DeleteItem", "DeleteResourcePolicy", "DeleteTable", "DeleteTableReplica",
    "DescribeBackup", "DescribeContinuousBackups", "DescribeContributorInsights", "DescribeEndpoints",
    "DescribeExport", "DescribeGlobalTable", "DescribeGlobalTableSettings", "DescribeImport",
    "DescribeKinesisStreamingDestination", "DescribeLimits", "DescribeReservedCapacity",
    "DescribeReservedCapacityOfferings", "DescribeStream", "DescribeTable", "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive", "DisableKinesisStreamingDestination", "EnableKinesisStreamingDestination",
    "ExportTableToPointInTime", "GetAbacStatus", "GetItem", "GetRecords", "GetResourcePolicy", "GetShardIterator",
    "ImportTable", "ListBackups", "ListContributorInsights", "ListExports", "ListGlobalTables", "ListImports",
    "ListStreams", "ListTables", "ListTagsOfResource", "PartiQLDelete", "PartiQLInsert", "PartiQLSelect",
    "PartiQLUpdate", "PurchaseReservedCapacityOfferings", "PutItem", "PutResourcePolicy", "Query",
    "RestoreTableFromAwsBackup", "RestoreTableFromBackup", "RestoreTableToPointInTime", "Scan",
    "StartAwsBackupJob", "TagResource", "UntagResource", "UpdateAbacStatus", "UpdateContinuousBackups",
    "UpdateContributorInsights", "UpdateGlobalTable", "UpdateGlobalTableSettings", "UpdateGlobalTableVersion",
    "UpdateItem", "UpdateKinesisStreamingDestination", "UpdateTable", "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
];
