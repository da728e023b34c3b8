//! AWS STS.

use super::{Access, READS, ResourceShape, ToolSpec};

pub const TOOLS: &[ToolSpec] = &[ToolSpec {
    name: "sts_get_caller_identity",
    service: "sts",
    operation: "GetCallerIdentity",
    action: "GetCallerIdentity",
    access: Access::Read,
    resource: ResourceShape::None,
    annotations: READS,
    summary: "Show the identity (account, ARN) that awsgate's calls run as.",
}];

pub const TOOL_ACTIONS: &[&str] = &["GetCallerIdentity"];

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
