//! AWS STS.

use serde_json::json;

use super::args::{ArgumentError, Arguments};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

pub const TOOLS: &[ToolSpec] = &[ToolSpec {
    name: "sts_get_caller_identity",
    service: "sts",
    operation: "GetCallerIdentity",
    action: "GetCallerIdentity",
    access: Access::Read,
    resource: ResourceShape::None,
    annotations: READS,
    summary: "Show the identity (account, ARN) that awsgate's calls run as.",
    args: &[],
    prepare: get_caller_identity,
}];

pub const TOOL_ACTIONS: &[&str] = &["GetCallerIdentity"];

fn get_caller_identity(_: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    Ok(Prepared::new(vec!["*".into()], |aws, _| async move {
        let out = aws.sts.get_caller_identity().send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "account": out.account(), "arn": out.arn(), "user_id": out.user_id() }), &out))
    }))
}

/// Every IAM action of STS, for validating policies.
pub const IAM_ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetDelegatedAccessToken",
    "GetFederationToken",
    "GetServiceBearerToken",
    "GetSessionToken",
    "GetWebIdentityToken",
    "SetContext",
    "SetSourceIdentity",
    "TagSession",
];
