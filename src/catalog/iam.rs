//! AWS IAM, read-only. IAM ARNs carry the entity's path (`role/service/deployer`), which
//! its name alone does not give: awsgate resolves a `role_name` or `user_name` with
//! `GetRole` / `GetUser` before the gate decides (cached for `limits.tag_cache_seconds`),
//! so a policy on `role/service/*` is judged as AWS would. The role needs `iam:GetRole` /
//! `iam:GetUser` on the entities the policy names. IAM ARNs have no region.

use serde_json::{Value, json};

use super::args::{ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{FactsFuture, Prepared, Resolve, ResolvedArn, describe_sdk_error, output};
use super::{Access, READS, ResourceShape, ToolSpec};
use crate::aws::{Aws, Scope};

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::named_after_action(
        "iam",
        ResourceShape::User,
        "iam_get_user",
        "GetUser",
        Access::Read,
        READS,
        "Describe an IAM user: ARN, path, creation date, tags.",
        &[required("user_name", SHORT, "The user's name.")],
        get_user,
    ),
    ToolSpec::named_after_action(
        "iam",
        ResourceShape::Role,
        "iam_get_role",
        "GetRole",
        Access::Read,
        READS,
        "Describe an IAM role: ARN, path, trust policy, maximum session duration.",
        &[required("role_name", SHORT, "The role's name (without its path).")],
        get_role,
    ),
    ToolSpec {
        name: "iam_list_roles",
        service: "iam",
        operation: "ListRoles",
        action: "ListRoles",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the account's IAM roles, optionally under a path prefix.",
        args: &[
            optional("path_prefix", SHORT, "Only roles whose path starts with this, e.g. `/service/`."),
            optional("max_items", Kind::Integer { min: 1, max: 1000 }, "At most this many roles."),
            optional("marker", SHORT, "`marker` of the previous page."),
        ],
        prepare: list_roles,
    },
];

pub const TOOL_ACTIONS: &[&str] = &["GetUser", "GetRole", "ListRoles"];

fn entity_name(args: &Arguments, name: &str) -> Result<String, ArgumentError> {
    let text = args.text(name)?;
    let valid =
        (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !valid {
        return Err(ArgumentError(format!(
            "`{name}` must be 1 to 64 letters, digits and `+=,.@_-`; got `{}`",
            super::args::printable(text)
        )));
    }
    Ok(text.to_string())
}

fn resolve_role(aws: Aws, name: String) -> FactsFuture {
    Box::pin(async move {
        let out = aws.iam.get_role().role_name(&name).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out.role().map(|r| vec![("arn".to_string(), r.arn().to_string())]).unwrap_or_default())
    })
}

fn resolve_user(aws: Aws, name: String) -> FactsFuture {
    Box::pin(async move {
        let out = aws.iam.get_user().user_name(&name).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out.user().map(|u| vec![("arn".to_string(), u.arn().to_string())]).unwrap_or_default())
    })
}

/// The entity's ARN judged until resolved: the one it has on the root path.
fn entity(
    scope: &Scope,
    kind: &str,
    name: &str,
    fetch: fn(Aws, String) -> FactsFuture,
) -> (String, Resolve, ResolvedArn) {
    let arn = format!("arn:{}:iam::{}:{kind}/{name}", scope.partition, scope.account);
    let (resolve, judged) = Resolve::new(0, name.to_string(), format!("iam {kind} {name}"), fetch);
    (arn, resolve, judged)
}

/// IAM's Get calls take a name, not an ARN: an answer for another ARN than the one judged
/// (the entity was replaced under another path since it was resolved) is withheld.
fn same_entity(judged: &ResolvedArn, answered: &str) -> Result<(), super::AwsFailure> {
    let judged = judged.or(answered.to_string());
    if judged == answered {
        return Ok(());
    }
    Err(super::AwsFailure {
        code: "ResourceChanged".into(),
        message: format!("`{answered}` is not `{judged}`, the entity the gate judged; call again"),
        request_id: None,
    })
}

fn get_user(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let name = entity_name(args, "user_name")?;
    let (arn, resolve, judged) = entity(scope, "user", &name, resolve_user);
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws.iam.get_user().user_name(&name).send().await.map_err(|e| describe_sdk_error(&e))?;
        if let Some(user) = out.user() {
            same_entity(&judged, user.arn())?;
        }
        let user = out.user().map(|u| {
            json!({
                "name": u.user_name(),
                "arn": u.arn(),
                "path": u.path(),
                "user_id": u.user_id(),
                "create_date": u.create_date().to_string(),
                "tags": u.tags().iter().map(|t| json!({ "key": t.key(), "value": t.value() })).collect::<Vec<_>>(),
            })
        });
        Ok(output(json!({ "user": user }), &out))
    })
    .with_resolve(resolve))
}

fn get_role(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let name = entity_name(args, "role_name")?;
    let (arn, resolve, judged) = entity(scope, "role", &name, resolve_role);
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws.iam.get_role().role_name(&name).send().await.map_err(|e| describe_sdk_error(&e))?;
        if let Some(role) = out.role() {
            same_entity(&judged, role.arn())?;
        }
        let role = out.role().map(|r| {
            let trust = r
                .assume_role_policy_document()
                .map(percent_decode)
                .map(|d| serde_json::from_str::<Value>(&d).unwrap_or(Value::String(d)));
            json!({
                "name": r.role_name(),
                "arn": r.arn(),
                "path": r.path(),
                "role_id": r.role_id(),
                "description": r.description(),
                "max_session_duration": r.max_session_duration(),
                "create_date": r.create_date().to_string(),
                "assume_role_policy_document": trust,
            })
        });
        Ok(output(json!({ "role": role }), &out))
    })
    .with_resolve(resolve))
}

/// IAM returns policy documents URL-encoded.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn list_roles(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let prefix = args.opt_text("path_prefix").map(str::to_string);
    let max = args.opt_i32("max_items");
    let marker = args.opt_text("marker").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .iam
            .list_roles()
            .set_path_prefix(prefix)
            .set_max_items(max)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let roles: Vec<Value> = out
            .roles()
            .iter()
            .map(|r| json!({ "name": r.role_name(), "arn": r.arn(), "path": r.path(), "description": r.description() }))
            .collect();
        Ok(output(json!({ "roles": roles, "is_truncated": out.is_truncated(), "marker": out.marker() }), &out))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AcceptDelegationRequest",
    "AddClientIDToOpenIDConnectProvider",
    "AddRoleToInstanceProfile",
    "AddUserToGroup",
    "AssociateDelegationRequest",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "ChangePassword",
    "CreateAccessKey",
    "CreateAccountAlias",
    "CreateDelegationRequest",
    "CreateGroup",
    "CreateInstanceProfile",
    "CreateLoginProfile",
    "CreateOpenIDConnectProvider",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "CreateSAMLProvider",
    "CreateServiceLinkedRole",
    "CreateServiceSpecificCredential",
    "CreateUser",
    "CreateVirtualMFADevice",
    "DeactivateMFADevice",
    "DeleteAccessKey",
    "DeleteAccountAlias",
    "DeleteAccountPasswordPolicy",
    "DeleteCloudFrontPublicKey",
    "DeleteGroup",
    "DeleteGroupPolicy",
    "DeleteInstanceProfile",
    "DeleteLoginProfile",
    "DeleteOpenIDConnectProvider",
    "DeletePolicy",
    "DeletePolicyVersion",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DeleteSAMLProvider",
    "DeleteSSHPublicKey",
    "DeleteServerCertificate",
    "DeleteServiceLinkedRole",
    "DeleteServiceSpecificCredential",
    "DeleteSigningCertificate",
    "DeleteUser",
    "DeleteUserPermissionsBoundary",
    "DeleteUserPolicy",
    "DeleteVirtualMFADevice",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "DisableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootSessions",
    "DisableOutboundWebIdentityFederation",
    "EnableMFADevice",
    "EnableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "EnableOutboundWebIdentityFederation",
    "GenerateCredentialReport",
    "GenerateOrganizationsAccessReport",
    "GenerateServiceLastAccessedDetails",
    "GetAccessKeyLastUsed",
    "GetAccountAuthorizationDetails",
    "GetAccountEmailAddress",
    "GetAccountName",
    "GetAccountPasswordPolicy",
    "GetAccountSummary",
    "GetCloudFrontPublicKey",
    "GetContextKeysForCustomPolicy",
    "GetContextKeysForPrincipalPolicy",
    "GetCredentialReport",
    "GetDelegationRequest",
    "GetGroup",
    "GetGroupPolicy",
    "GetHumanReadableSummary",
    "GetInstanceProfile",
    "GetLoginProfile",
    "GetMFADevice",
    "GetOpenIDConnectProvider",
    "GetOrganizationsAccessReport",
    "GetOutboundWebIdentityFederationInfo",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetSAMLProvider",
    "GetSSHPublicKey",
    "GetServerCertificate",
    "GetServiceLastAccessedDetails",
    "GetServiceLastAccessedDetailsWithEntities",
    "GetServiceLinkedRoleDeletionStatus",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListAccountAliases",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
    "ListCloudFrontPublicKeys",
    "ListDelegationRequests",
    "ListEntitiesForPolicy",
    "ListGroupPolicies",
    "ListGroups",
    "ListGroupsForUser",
    "ListInstanceProfileTags",
    "ListInstanceProfiles",
    "ListInstanceProfilesForRole",
    "ListMFADeviceTags",
    "ListMFADevices",
    "ListOpenIDConnectProviderTags",
    "ListOpenIDConnectProviders",
    "ListOrganizationsFeatures",
    "ListPolicies",
    "ListPoliciesGrantingServiceAccess",
    "ListPolicyTags",
    "ListPolicyVersions",
    "ListRolePolicies",
    "ListRoleTags",
    "ListRoles",
    "ListSAMLProviderTags",
    "ListSAMLProviders",
    "ListSSHPublicKeys",
    "ListSTSRegionalEndpointsStatus",
    "ListServerCertificateTags",
    "ListServerCertificates",
    "ListServiceSpecificCredentials",
    "ListSigningCertificates",
    "ListUserPolicies",
    "ListUserTags",
    "ListUsers",
    "ListVirtualMFADevices",
    "PassRole",
    "PutGroupPolicy",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "PutUserPermissionsBoundary",
    "PutUserPolicy",
    "RejectDelegationRequest",
    "RemoveClientIDFromOpenIDConnectProvider",
    "RemoveRoleFromInstanceProfile",
    "RemoveUserFromGroup",
    "ResetServiceSpecificCredential",
    "ResyncMFADevice",
    "SendDelegationToken",
    "SetDefaultPolicyVersion",
    "SetSTSRegionalEndpointStatus",
    "SetSecurityTokenServicePreferences",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
    "TagInstanceProfile",
    "TagMFADevice",
    "TagOpenIDConnectProvider",
    "TagPolicy",
    "TagRole",
    "TagSAMLProvider",
    "TagServerCertificate",
    "TagUser",
    "UntagInstanceProfile",
    "UntagMFADevice",
    "UntagOpenIDConnectProvider",
    "UntagPolicy",
    "UntagRole",
    "UntagSAMLProvider",
    "UntagServerCertificate",
    "UntagUser",
    "UpdateAccessKey",
    "UpdateAccountEmailAddress",
    "UpdateAccountName",
    "UpdateAccountPasswordPolicy",
    "UpdateAssumeRolePolicy",
    "UpdateCloudFrontPublicKey",
    "UpdateGroup",
    "UpdateLoginProfile",
    "UpdateOpenIDConnectProviderThumbprint",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateSAMLProvider",
    "UpdateSSHPublicKey",
    "UpdateServerCertificate",
    "UpdateServiceSpecificCredential",
    "UpdateSigningCertificate",
    "UpdateUser",
    "UploadCloudFrontPublicKey",
    "UploadSSHPublicKey",
    "UploadServerCertificate",
    "UploadSigningCertificate",
];
