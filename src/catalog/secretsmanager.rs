//! AWS Secrets Manager. A secret's ARN ends in a random six-character suffix
//! (`secret:prod/db-AbCdEf`) that its name lacks, and IAM judges the ARN. So awsgate
//! resolves the `secret_id` an agent gives (a name, a partial or a full ARN) with
//! `DescribeSecret` before the gate decides (a secret AWS does not know refuses the call
//! with AWS's `ResourceNotFoundException`), caches the answer for
//! `limits.tag_cache_seconds`, and calls AWS with the resolved ARN. The role needs
//! `secretsmanager:DescribeSecret` on the secrets the policy names. Secret values reach the
//! agent, never a log or an audit record.

use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{FactsFuture, Prepared, Resolve, ResolvedArn, describe_sdk_error, output};
use super::{Access, READS, ResourceShape, ToolSpec};
use crate::aws::{Aws, Scope};

const SECRET: Arg = required("secret_id", SHORT, "The secret's name (`prod/db`) or ARN.");

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "secretsmanager_list_secrets",
        service: "secretsmanager",
        operation: "ListSecrets",
        action: "ListSecrets",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the secrets of the account in this region (names and metadata, never values).",
        args: &[
            optional("max_results", Kind::Integer { min: 1, max: 100 }, "At most this many secrets."),
            optional("next_token", SHORT, "`next_token` of the previous page."),
        ],
        prepare: list_secrets,
    },
    ToolSpec::named_after_action(
        "secretsmanager",
        ResourceShape::Secret,
        "secretsmanager_describe_secret",
        "DescribeSecret",
        Access::Read,
        READS,
        "Describe a secret: ARN, description, rotation, versions (never its value).",
        &[SECRET],
        describe_secret,
    ),
    ToolSpec::named_after_action(
        "secretsmanager",
        ResourceShape::Secret,
        "secretsmanager_get_secret_value",
        "GetSecretValue",
        Access::Read,
        READS,
        "Read a secret's value (the current version unless a stage or version is given).",
        &[
            SECRET,
            optional("version_stage", SHORT, "A staging label, e.g. `AWSPREVIOUS` (default `AWSCURRENT`)."),
            optional("version_id", SHORT, "A version's id."),
        ],
        get_secret_value,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &["ListSecrets", "DescribeSecret", "GetSecretValue"];

fn is_secret_name(text: &str) -> bool {
    (1..=512).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

/// The `secret_id` given, checked, and the ARN judged until it is resolved: the ARN as
/// given, or the one its name would have without the suffix.
fn secret(args: &Arguments, scope: &Scope) -> Result<(String, String), ArgumentError> {
    let id = args.text("secret_id")?;
    let parts: Vec<&str> = id.splitn(7, ':').collect();
    let arn = match parts.as_slice() {
        ["arn", partition, "secretsmanager", region, account, "secret", name]
            if *partition == scope.partition
                && *region == scope.region
                && crate::policy::is_account(account)
                && is_secret_name(name) =>
        {
            id.to_string()
        }
        [name] if is_secret_name(name) => {
            format!("arn:{}:secretsmanager:{}:{}:secret:{name}", scope.partition, scope.region, scope.account)
        }
        _ => {
            return Err(ArgumentError(format!(
                "`secret_id` must be a secret name (letters, digits and `/_+=.@-`) or a secret ARN in {}; got `{}`",
                scope.region,
                super::args::printable(id)
            )));
        }
    };
    Ok((id.to_string(), arn))
}

fn resolve_secret(aws: Aws, id: String) -> FactsFuture {
    Box::pin(async move {
        let out =
            aws.secretsmanager.describe_secret().secret_id(&id).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out.arn().map(|arn| vec![("arn".to_string(), arn.to_string())]).unwrap_or_default())
    })
}

/// A secret the call names: the ARN judged until resolved, its resolution, and the
/// `secret_id` as given.
struct Target {
    arn: String,
    resolve: Resolve,
    slot: ResolvedArn,
    id: String,
}

impl Target {
    fn of(args: &Arguments, scope: &Scope) -> Result<Target, ArgumentError> {
        let (id, arn) = secret(args, scope)?;
        let (resolve, slot) = Resolve::new(0, id.clone(), format!("secret {id}"), resolve_secret);
        Ok(Target { arn, resolve, slot, id })
    }
}

fn list_secrets(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let max = args.opt_i32("max_results");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .secretsmanager
            .list_secrets()
            .set_max_results(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let secrets: Vec<Value> = out
            .secret_list()
            .iter()
            .map(|s| {
                json!({
                    "name": s.name(),
                    "arn": s.arn(),
                    "description": s.description(),
                    "last_changed_date": s.last_changed_date().map(|d| d.to_string()),
                })
            })
            .collect();
        Ok(output(json!({ "secrets": secrets, "next_token": out.next_token() }), &out))
    }))
}

fn describe_secret(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let Target { arn, resolve, slot, id } = Target::of(args, scope)?;
    let prepared = Prepared::new(vec![arn], move |aws, _| async move {
        let target = slot.or(id);
        let out =
            aws.secretsmanager.describe_secret().secret_id(&target).send().await.map_err(|e| describe_sdk_error(&e))?;
        let stages: Vec<Value> = out
            .version_ids_to_stages()
            .map(|m| {
                let mut versions: Vec<(&String, &Vec<String>)> = m.iter().collect();
                versions.sort();
                versions.into_iter().map(|(id, stages)| json!({ "version_id": id, "stages": stages })).collect()
            })
            .unwrap_or_default();
        Ok(output(
            json!({
                "name": out.name(),
                "arn": out.arn(),
                "description": out.description(),
                "rotation_enabled": out.rotation_enabled(),
                "last_changed_date": out.last_changed_date().map(|d| d.to_string()),
                "versions": stages,
            }),
            &out,
        ))
    });
    Ok(prepared.with_resolve(resolve))
}

fn get_secret_value(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let Target { arn, resolve, slot, id } = Target::of(args, scope)?;
    let stage = args.opt_text("version_stage").map(str::to_string);
    let version = args.opt_text("version_id").map(str::to_string);
    let keys = (stage.clone().map(|s| vec![s]), version.clone().map(|v| vec![v]));
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let target = slot.or(id);
        let out = aws
            .secretsmanager
            .get_secret_value()
            .secret_id(&target)
            .set_version_stage(stage)
            .set_version_id(version)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let binary =
            out.secret_binary().map(|b| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b.as_ref()));
        Ok(output(
            json!({
                "name": out.name(),
                "arn": out.arn(),
                "version_id": out.version_id(),
                "version_stages": out.version_stages(),
                "secret_string": out.secret_string(),
                "secret_binary_base64": binary,
            }),
            &out,
        ))
    })
    .with_resolve(resolve)
    .with_key("secretsmanager:versionstage", keys.0)
    .with_key("secretsmanager:versionid", keys.1))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "BatchGetSecretValue",
    "CancelRotateSecret",
    "CreateSecret",
    "DeleteResourcePolicy",
    "DeleteSecret",
    "DescribeSecret",
    "GetRandomPassword",
    "GetResourcePolicy",
    "GetSecretValue",
    "ListSecretVersionIds",
    "ListSecrets",
    "PutResourcePolicy",
    "PutSecretValue",
    "RemoveRegionsFromReplication",
    "ReplicateSecretToRegions",
    "RestoreSecret",
    "RotateSecret",
    "StopReplicationToReplica",
    "TagResource",
    "UntagResource",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "ValidateResourcePolicy",
];
