//! Amazon RDS, describe only. With `db_instance_identifier` the call is judged on the
//! instance's ARN (`db:NAME`); without one it lists every instance, a request on `*`.

use serde_json::{Value, json};

use super::args::{ArgumentError, Arguments, Kind, SHORT, optional};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

pub const TOOLS: &[ToolSpec] = &[ToolSpec::named_after_action(
    "rds",
    ResourceShape::DbInstance,
    "rds_describe_db_instances",
    "DescribeDBInstances",
    Access::List,
    READS,
    "Describe DB instances: engine, class, status, endpoint, storage.",
    &[
        optional("db_instance_identifier", SHORT, "Only this instance."),
        optional("max_records", Kind::Integer { min: 20, max: 100 }, "At most this many instances."),
        optional("marker", SHORT, "`marker` of the previous page."),
    ],
    describe_db_instances,
)];

pub const TOOL_ACTIONS: &[&str] = &["DescribeDBInstances"];

fn describe_db_instances(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let id = args.opt_text("db_instance_identifier").map(str::to_string);
    if let Some(id) = &id {
        let valid = (1..=63).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !id.ends_with('-')
            && !id.contains("--");
        if !valid {
            return Err(ArgumentError(format!(
                "`db_instance_identifier` must be 1 to 63 letters, digits and single hyphens, starting with a letter; got `{}`",
                super::args::printable(id)
            )));
        }
    }
    let resource = match &id {
        Some(id) => {
            format!("arn:{}:rds:{}:{}:db:{}", scope.partition, scope.region, scope.account, id.to_ascii_lowercase())
        }
        None => "*".to_string(),
    };
    let max = args.opt_i32("max_records");
    let marker = args.opt_text("marker").map(str::to_string);
    Ok(Prepared::new(vec![resource], move |aws, _| async move {
        let out = aws
            .rds
            .describe_db_instances()
            .set_db_instance_identifier(id)
            .set_max_records(max)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let instances: Vec<Value> = out
            .db_instances()
            .iter()
            .map(|d| {
                json!({
                    "identifier": d.db_instance_identifier(),
                    "arn": d.db_instance_arn(),
                    "engine": d.engine(),
                    "engine_version": d.engine_version(),
                    "class": d.db_instance_class(),
                    "status": d.db_instance_status(),
                    "endpoint": d.endpoint().map(|e| json!({ "address": e.address(), "port": e.port() })),
                    "allocated_storage": d.allocated_storage(),
                    "multi_az": d.multi_az(),
                })
            })
            .collect();
        Ok(output(json!({ "db_instances": instances, "marker": out.marker() }), &out))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AddRoleToDBCluster",
    "AddRoleToDBInstance",
    "AddSourceIdentifierToSubscription",
    "AddTagsToResource",
    "ApplyPendingMaintenanceAction",
    "AuthorizeDBSecurityGroupIngress",
    "BacktrackDBCluster",
    "CancelExportTask",
    "CopyCustomDBEngineVersion",
    "CopyDBClusterParameterGroup",
    "CopyDBClusterSnapshot",
    "CopyDBParameterGroup",
    "CopyDBSnapshot",
    "CopyOptionGroup",
    "CreateBlueGreenDeployment",
    "CreateCustomDBEngineVersion",
    "CreateDBCluster",
    "CreateDBClusterEndpoint",
    "CreateDBClusterParameterGroup",
    "CreateDBClusterSnapshot",
    "CreateDBInstance",
    "CreateDBInstanceReadReplica",
    "CreateDBParameterGroup",
    "CreateDBProxy",
    "CreateDBProxyEndpoint",
    "CreateDBSecurityGroup",
    "CreateDBShardGroup",
    "CreateDBSnapshot",
    "CreateDBSubnetGroup",
    "CreateEventSubscription",
    "CreateGlobalCluster",
    "CreateIntegration",
    "CreateOptionGroup",
    "CreateTenantDatabase",
    "CrossRegionCommunication",
    "DeleteBlueGreenDeployment",
    "DeleteCustomDBEngineVersion",
    "DeleteDBCluster",
    "DeleteDBClusterAutomatedBackup",
    "DeleteDBClusterEndpoint",
    "DeleteDBClusterParameterGroup",
    "DeleteDBClusterSnapshot",
    "DeleteDBInstance",
    "DeleteDBInstanceAutomatedBackup",
    "DeleteDBParameterGroup",
    "DeleteDBProxy",
    "DeleteDBProxyEndpoint",
    "DeleteDBSecurityGroup",
    "DeleteDBShardGroup",
    "DeleteDBSnapshot",
    "DeleteDBSubnetGroup",
    "DeleteEventSubscription",
    "DeleteGlobalCluster",
    "DeleteIntegration",
    "DeleteOptionGroup",
    "DeleteTenantDatabase",
    "DeregisterDBProxyTargets",
    "DescribeAccountAttributes",
    "DescribeBlueGreenDeployments",
    "DescribeCertificates",
    "DescribeDBClusterAutomatedBackups",
    "DescribeDBClusterBacktracks",
    "DescribeDBClusterEndpoints",
    "DescribeDBClusterParameterGroups",
    "DescribeDBClusterParameters",
    "DescribeDBClusterSnapshotAttributes",
    "DescribeDBClusterSnapshots",
    "DescribeDBClusters",
    "DescribeDBEngineVersions",
    "DescribeDBInstanceAutomatedBackups",
    "DescribeDBInstances",
    "DescribeDBLogFiles",
    "DescribeDBMajorEngineVersions",
    "DescribeDBParameterGroups",
    "DescribeDBParameters",
    "DescribeDBProxies",
    "DescribeDBProxyEndpoints",
    "DescribeDBProxyTargetGroups",
    "DescribeDBProxyTargets",
    "DescribeDBRecommendations",
    "DescribeDBSecurityGroups",
    "DescribeDBShardGroups",
    "DescribeDBSnapshotAttributes",
    "DescribeDBSnapshotTenantDatabases",
    "DescribeDBSnapshots",
    "DescribeDBSubnetGroups",
    "DescribeEngineDefaultClusterParameters",
    "DescribeEngineDefaultParameters",
    "DescribeEventCategories",
    "DescribeEventSubscriptions",
    "DescribeEvents",
    "DescribeExportTasks",
    "DescribeGlobalClusters",
    "DescribeIntegrations",
    "DescribeOptionGroupOptions",
    "DescribeOptionGroups",
    "DescribeOrderableDBInstanceOptions",
    "DescribePendingMaintenanceActions",
    "DescribeRecommendationGroups",
    "DescribeRecommendations",
    "DescribeReservedDBInstances",
    "DescribeReservedDBInstancesOfferings",
    "DescribeSourceRegions",
    "DescribeTenantDatabases",
    "DescribeValidDBInstanceModifications",
    "DisableHttpEndpoint",
    "DownloadCompleteDBLogFile",
    "DownloadDBLogFilePortion",
    "EnableHttpEndpoint",
    "FailoverDBCluster",
    "FailoverGlobalCluster",
    "ListTagsForResource",
    "ModifyActivityStream",
    "ModifyCertificates",
    "ModifyCurrentDBClusterCapacity",
    "ModifyCustomDBEngineVersion",
    "ModifyDBCluster",
    "ModifyDBClusterEndpoint",
    "ModifyDBClusterParameterGroup",
    "ModifyDBClusterSnapshotAttribute",
    "ModifyDBInstance",
    "ModifyDBParameterGroup",
    "ModifyDBProxy",
    "ModifyDBProxyEndpoint",
    "ModifyDBProxyTargetGroup",
    "ModifyDBRecommendation",
    "ModifyDBShardGroup",
    "ModifyDBSnapshot",
    "ModifyDBSnapshotAttribute",
    "ModifyDBSubnetGroup",
    "ModifyEventSubscription",
    "ModifyGlobalCluster",
    "ModifyIntegration",
    "ModifyOptionGroup",
    "ModifyRecommendation",
    "ModifyTenantDatabase",
    "PromoteReadReplica",
    "PromoteReadReplicaDBCluster",
    "PurchaseReservedDBInstancesOffering",
    "RebootDBCluster",
    "RebootDBInstance",
    "RebootDBShardGroup",
    "RegisterDBProxyTargets",
    "RemoveFromGlobalCluster",
    "RemoveRoleFromDBCluster",
    "RemoveRoleFromDBInstance",
    "RemoveSourceIdentifierFromSubscription",
    "RemoveTagsFromResource",
    "ResetDBClusterParameterGroup",
    "ResetDBParameterGroup",
    "RestoreDBClusterFromS3",
    "RestoreDBClusterFromSnapshot",
    "RestoreDBClusterToPointInTime",
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceFromS3",
    "RestoreDBInstanceToPointInTime",
    "RevokeDBSecurityGroupIngress",
    "StartActivityStream",
    "StartDBCluster",
    "StartDBInstance",
    "StartDBInstanceAutomatedBackupsReplication",
    "StartExportTask",
    "StopActivityStream",
    "StopDBCluster",
    "StopDBInstance",
    "StopDBInstanceAutomatedBackupsReplication",
    "SwitchoverBlueGreenDeployment",
    "SwitchoverGlobalCluster",
    "SwitchoverReadReplica",
];
