//! AWS Systems Manager Parameter Store. The parameter `/prod/db` is the resource
//! `arn:aws:ssm:REGION:ACCOUNT:parameter/prod/db`: its name without the leading slash.
//! SecureString values are decrypted only when the call asks (`with_decryption: true`).

use aws_sdk_ssm::types::Parameter;
use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

const WITH_DECRYPTION: Arg = optional(
    "with_decryption",
    Kind::Boolean,
    "Decrypt SecureString values (default false: they are returned encrypted).",
);

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::named_after_action(
        "ssm",
        ResourceShape::Parameter,
        "ssm_get_parameter",
        "GetParameter",
        Access::Read,
        READS,
        "Read one parameter of Parameter Store by name (`/prod/db/host`).",
        &[required("name", SHORT, "The parameter's name, e.g. `/prod/db/host`."), WITH_DECRYPTION],
        get_parameter,
    ),
    ToolSpec::named_after_action(
        "ssm",
        ResourceShape::Parameter,
        "ssm_get_parameters_by_path",
        "GetParametersByPath",
        Access::List,
        READS,
        "Read the parameters under a path (`/prod/db`), page by page.",
        &[
            required("path", SHORT, "The hierarchy to read, starting with `/`, e.g. `/prod/db`."),
            optional("recursive", Kind::Boolean, "Also read the levels below the path (default false)."),
            WITH_DECRYPTION,
            optional("max_results", Kind::Integer { min: 1, max: 10 }, "At most this many parameters per page."),
            optional("next_token", SHORT, "`next_token` of the previous page."),
        ],
        get_parameters_by_path,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &["GetParameter", "GetParametersByPath"];

/// A parameter name or path as Parameter Store accepts them: letters, digits and `_.-/`,
/// at most 2,048 characters. A version or label selector (`name:3`) is refused: the ARN
/// judged would not name it.
fn parameter_name(args: &Arguments, name: &str) -> Result<String, ArgumentError> {
    let text = args.text(name)?;
    let valid = !text.is_empty()
        && text.len() <= 2048
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        && !text.contains("//");
    if !valid {
        return Err(ArgumentError(format!(
            "`{name}` must be a parameter name of letters, digits and `_.-/` (like `/prod/db/host`), at most 2,048 characters; got `{}`",
            super::args::printable(text)
        )));
    }
    Ok(text.to_string())
}

pub fn parameter_arn(scope: &Scope, name: &str) -> String {
    format!("arn:{}:ssm:{}:{}:parameter/{}", scope.partition, scope.region, scope.account, name.trim_start_matches('/'))
}

fn parameter_json(p: &Parameter) -> Value {
    json!({
        "name": p.name(),
        "type": p.r#type().map(|t| t.as_str()),
        "value": p.value(),
        "version": p.version(),
        "arn": p.arn(),
        "last_modified": p.last_modified_date().map(|d| d.to_string()),
    })
}

fn get_parameter(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let name = parameter_name(args, "name")?;
    let decrypt = args.opt_bool("with_decryption");
    Ok(Prepared::new(vec![parameter_arn(scope, &name)], move |aws, _| async move {
        let out = aws
            .ssm
            .get_parameter()
            .name(&name)
            .set_with_decryption(decrypt)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "parameter": out.parameter().map(parameter_json) }), &out))
    }))
}

fn get_parameters_by_path(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let path = parameter_name(args, "path")?;
    if !path.starts_with('/') {
        return Err(ArgumentError(format!("`path` must start with `/`, like `/prod/db`; got `{path}`")));
    }
    let recursive = args.opt_bool("recursive");
    let decrypt = args.opt_bool("with_decryption");
    let max = args.opt_i32("max_results");
    let token = args.opt_text("next_token").map(str::to_string);
    // IAM judges the path as a parameter: `/prod/db` is `parameter/prod/db`.
    let arn = parameter_arn(scope, path.trim_end_matches('/'));
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .ssm
            .get_parameters_by_path()
            .path(&path)
            .set_recursive(recursive)
            .set_with_decryption(decrypt)
            .set_max_results(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let parameters: Vec<Value> = out.parameters().iter().map(parameter_json).collect();
        Ok(output(json!({ "path": path, "parameters": parameters, "next_token": out.next_token() }), &out))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AddTagsToResource",
    "AssociateOpsItemRelatedItem",
    "CancelCommand",
    "CancelMaintenanceWindowExecution",
    "CreateActivation",
    "CreateAssociation",
    "CreateAssociationBatch",
    "CreateDocument",
    "CreateMaintenanceWindow",
    "CreateOpsItem",
    "CreateOpsMetadata",
    "CreatePatchBaseline",
    "CreateResourceDataSync",
    "DeleteActivation",
    "DeleteAssociation",
    "DeleteDocument",
    "DeleteInventory",
    "DeleteMaintenanceWindow",
    "DeleteOpsItem",
    "DeleteOpsMetadata",
    "DeleteParameter",
    "DeleteParameters",
    "DeletePatchBaseline",
    "DeleteResourceDataSync",
    "DeleteResourcePolicy",
    "DeregisterManagedInstance",
    "DeregisterPatchBaselineForPatchGroup",
    "DeregisterTargetFromMaintenanceWindow",
    "DeregisterTaskFromMaintenanceWindow",
    "DescribeActivations",
    "DescribeAssociation",
    "DescribeAssociationExecutionTargets",
    "DescribeAssociationExecutions",
    "DescribeAutomationExecutions",
    "DescribeAutomationStepExecutions",
    "DescribeAvailablePatches",
    "DescribeDocument",
    "DescribeDocumentParameters",
    "DescribeDocumentPermission",
    "DescribeEffectiveInstanceAssociations",
    "DescribeEffectivePatchesForPatchBaseline",
    "DescribeInstanceAssociationsStatus",
    "DescribeInstanceInformation",
    "DescribeInstancePatchStates",
    "DescribeInstancePatchStatesForPatchGroup",
    "DescribeInstancePatches",
    "DescribeInstanceProperties",
    "DescribeInventoryDeletions",
    "DescribeMaintenanceWindowExecutionTaskInvocations",
    "DescribeMaintenanceWindowExecutionTasks",
    "DescribeMaintenanceWindowExecutions",
    "DescribeMaintenanceWindowSchedule",
    "DescribeMaintenanceWindowTargets",
    "DescribeMaintenanceWindowTasks",
    "DescribeMaintenanceWindows",
    "DescribeMaintenanceWindowsForTarget",
    "DescribeOpsItems",
    "DescribeParameters",
    "DescribePatchBaselines",
    "DescribePatchGroupState",
    "DescribePatchGroups",
    "DescribePatchProperties",
    "DescribeSessions",
    "DisassociateOpsItemRelatedItem",
    "ExecuteAPI",
    "GetAccessToken",
    "GetAutomationExecution",
    "GetCalendar",
    "GetCalendarState",
    "GetCommandInvocation",
    "GetConnectionStatus",
    "GetDefaultPatchBaseline",
    "GetDeployablePatchSnapshotForInstance",
    "GetDocument",
    "GetExecutionPreview",
    "GetInventory",
    "GetInventorySchema",
    "GetMaintenanceWindow",
    "GetMaintenanceWindowExecution",
    "GetMaintenanceWindowExecutionTask",
    "GetMaintenanceWindowExecutionTaskInvocation",
    "GetMaintenanceWindowTask",
    "GetManifest",
    "GetOpsItem",
    "GetOpsMetadata",
    "GetOpsSummary",
    "GetParameter",
    "GetParameterHistory",
    "GetParameters",
    "GetParametersByPath",
    "GetPatchBaseline",
    "GetPatchBaselineForPatchGroup",
    "GetResourcePolicies",
    "GetServiceSetting",
    "LabelParameterVersion",
    "ListAssociationVersions",
    "ListAssociations",
    "ListCommandInvocations",
    "ListCommands",
    "ListComplianceItems",
    "ListComplianceSummaries",
    "ListDocumentMetadataHistory",
    "ListDocumentVersions",
    "ListDocuments",
    "ListInstanceAssociations",
    "ListInventoryEntries",
    "ListNodes",
    "ListNodesSummary",
    "ListOpsItemEvents",
    "ListOpsItemRelatedItems",
    "ListOpsMetadata",
    "ListResourceComplianceSummaries",
    "ListResourceDataSync",
    "ListTagsForResource",
    "ModifyDocumentPermission",
    "PutCalendar",
    "PutComplianceItems",
    "PutConfigurePackageResult",
    "PutInventory",
    "PutParameter",
    "PutResourcePolicy",
    "RegisterDefaultPatchBaseline",
    "RegisterManagedInstance",
    "RegisterPatchBaselineForPatchGroup",
    "RegisterTargetWithMaintenanceWindow",
    "RegisterTaskWithMaintenanceWindow",
    "RemoveTagsFromResource",
    "ResetServiceSetting",
    "ResumeSession",
    "SendAutomationSignal",
    "SendCommand",
    "StartAccessRequest",
    "StartAssociationsOnce",
    "StartAutomationExecution",
    "StartChangeRequestExecution",
    "StartExecutionPreview",
    "StartSession",
    "StopAutomationExecution",
    "TerminateSession",
    "UnlabelParameterVersion",
    "UpdateAssociation",
    "UpdateAssociationStatus",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
    "UpdateDocumentMetadata",
    "UpdateInstanceAssociationStatus",
    "UpdateInstanceInformation",
    "UpdateMaintenanceWindow",
    "UpdateMaintenanceWindowTarget",
    "UpdateMaintenanceWindowTask",
    "UpdateManagedInstanceRole",
    "UpdateOpsItem",
    "UpdateOpsMetadata",
    "UpdatePatchBaseline",
    "UpdateResourceDataSync",
    "UpdateServiceSetting",
];
