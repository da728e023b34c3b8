//! AWS KMS. IAM judges a key by its key ARN (`key/ID`), also when the call names it by
//! an alias: awsgate resolves `alias/NAME` (or an alias ARN) with `DescribeKey` before
//! the gate decides, caches the answer, calls AWS with the key ARN, and supplies
//! `kms:RequestAlias`. The role needs `kms:DescribeKey` on the keys the policy names.
//! `Decrypt` takes `key_id` too: without it the key is unknown until AWS decrypts, so
//! the gate could not judge it. Plaintexts reach the agent, never a log or an audit record.

use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use serde_json::{Map, Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{FactsFuture, Prepared, Resolve, ResolvedArn, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::{Aws, Scope};

const KEY: Arg = required("key_id", SHORT, "The key: its id, its ARN, `alias/NAME` or an alias ARN.");
const CONTEXT: Arg = optional(
    "encryption_context",
    Kind::TextMap,
    "Key-value pairs bound to the ciphertext; decrypting needs the same ones.",
);
/// Encrypting and decrypting change nothing in AWS, but they are not reads of a resource
/// an agent could list: they are marked as not read-only, neither destructive.
const CRYPTO: Annotations = Annotations { read_only: false, destructive: false, idempotent: true, open_world: true };

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "kms_list_aliases",
        service: "kms",
        operation: "ListAliases",
        action: "ListAliases",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the key aliases of the account in this region, with the keys they point to.",
        args: &[
            optional("limit", Kind::Integer { min: 1, max: 100 }, "At most this many aliases."),
            optional("marker", SHORT, "`next_marker` of the previous page."),
        ],
        prepare: list_aliases,
    },
    ToolSpec::named_after_action(
        "kms",
        ResourceShape::Key,
        "kms_describe_key",
        "DescribeKey",
        Access::Read,
        READS,
        "Describe a key: ARN, state, usage, spec, description.",
        &[KEY],
        describe_key,
    ),
    ToolSpec::named_after_action(
        "kms",
        ResourceShape::Key,
        "kms_encrypt",
        "Encrypt",
        Access::Write,
        CRYPTO,
        "Encrypt up to 4 KiB of text with a key; returns the ciphertext as base64.",
        &[KEY, required("plaintext", Kind::Text { max: 4096 }, "The text to encrypt."), CONTEXT],
        encrypt,
    ),
    ToolSpec::named_after_action(
        "kms",
        ResourceShape::Key,
        "kms_decrypt",
        "Decrypt",
        Access::Write,
        CRYPTO,
        "Decrypt a ciphertext made with the given key; returns the plaintext.",
        &[KEY, required("ciphertext_blob", Kind::Text { max: 16_384 }, "The ciphertext, base64."), CONTEXT],
        decrypt,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &["ListAliases", "DescribeKey", "Encrypt", "Decrypt"];

/// A key as the call names it.
struct KeyTarget {
    /// The ARN judged: the key's, or until resolved the alias's.
    arn: String,
    /// `key_id` as given: what the call sends when it names the key itself.
    given: String,
    /// The alias named, for `kms:RequestAlias`.
    alias: Option<String>,
    resolve: Option<Resolve>,
    slot: Option<ResolvedArn>,
}

impl KeyTarget {
    /// What the call sends: the key ARN an alias resolved to, else `key_id` as given.
    fn key(&self) -> impl Fn() -> String + Send + 'static {
        let (slot, given) = (self.slot.clone(), self.given.clone());
        move || slot.as_ref().map_or_else(|| given.clone(), |slot| slot.or(given.clone()))
    }
}

fn is_key_id(text: &str) -> bool {
    let id = text.strip_prefix("mrk-").unwrap_or(text);
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn is_alias_name(text: &str) -> bool {
    (1..=256).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
}

fn key_target(args: &Arguments, scope: &Scope) -> Result<KeyTarget, ArgumentError> {
    let given = args.text("key_id")?.to_string();
    let base = format!("arn:{}:kms:{}:{}", scope.partition, scope.region, scope.account);
    let parts: Vec<&str> = given.splitn(6, ':').collect();
    let (arn, alias) = match parts.as_slice() {
        [id] if is_key_id(id) => (format!("{base}:key/{id}"), None),
        [alias] if alias.strip_prefix("alias/").is_some_and(is_alias_name) => {
            (format!("{base}:{alias}"), Some((*alias).to_string()))
        }
        ["arn", partition, "kms", region, account, resource]
            if *partition == scope.partition && *region == scope.region && crate::policy::is_account(account) =>
        {
            match resource.split_once('/') {
                Some(("key", id)) if is_key_id(id) => (given.clone(), None),
                Some(("alias", name)) if is_alias_name(name) => (given.clone(), Some(format!("alias/{name}"))),
                _ => return Err(bad_key(&given, scope)),
            }
        }
        _ => return Err(bad_key(&given, scope)),
    };
    let (resolve, slot) = match alias {
        Some(_) => {
            let (resolve, slot) = Resolve::new(0, given.clone(), format!("kms {arn}"), resolve_key);
            (Some(resolve), Some(slot))
        }
        None => (None, None),
    };
    Ok(KeyTarget { arn, given, alias, resolve, slot })
}

fn bad_key(given: &str, scope: &Scope) -> ArgumentError {
    ArgumentError(format!(
        "`key_id` must be a key id, a key ARN, `alias/NAME` or an alias ARN in {}; got `{}`",
        scope.region,
        super::args::printable(given)
    ))
}

fn resolve_key(aws: Aws, key: String) -> FactsFuture {
    Box::pin(async move {
        let out = aws.kms.describe_key().key_id(&key).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(out
            .key_metadata()
            .and_then(|m| m.arn())
            .map(|arn| vec![("arn".to_string(), arn.to_string())])
            .unwrap_or_default())
    })
}

/// Adds the resolution and the keys every key call has: `kms:RequestAlias`, and the
/// encryption context's keys.
fn finish(prepared: Prepared, target: KeyTarget, context: Option<&Map<String, Value>>) -> Prepared {
    let mut prepared = prepared.with_key("kms:requestalias", target.alias.map(|a| vec![a]));
    if let Some(resolve) = target.resolve {
        prepared = prepared.with_resolve(resolve);
    }
    if let Some(context) = context {
        let keys: Vec<String> = context.keys().cloned().collect();
        prepared = prepared.with_key("kms:encryptioncontextkeys", Some(keys));
        for (key, value) in context {
            let name = format!("kms:encryptioncontext:{}", key.to_ascii_lowercase());
            prepared = prepared.with_key(name, value.as_str().map(|v| vec![v.to_string()]));
        }
    }
    prepared
}

fn context_map(args: &Arguments) -> Option<std::collections::HashMap<String, String>> {
    args.opt_object("encryption_context")
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
}

fn list_aliases(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let limit = args.opt_i32("limit");
    let marker = args.opt_text("marker").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .kms
            .list_aliases()
            .set_limit(limit)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let aliases: Vec<Value> = out
            .aliases()
            .iter()
            .map(|a| json!({ "name": a.alias_name(), "arn": a.alias_arn(), "target_key_id": a.target_key_id() }))
            .collect();
        Ok(output(json!({ "aliases": aliases, "next_marker": out.next_marker() }), &out))
    }))
}

fn describe_key(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let target = key_target(args, scope)?;
    let key_of = target.key();
    let prepared = Prepared::new(vec![target.arn.clone()], move |aws, _| async move {
        let key = key_of();
        let out = aws.kms.describe_key().key_id(&key).send().await.map_err(|e| describe_sdk_error(&e))?;
        let metadata = out.key_metadata().map(|m| {
            json!({
                "key_id": m.key_id(),
                "arn": m.arn(),
                "description": m.description(),
                "enabled": m.enabled(),
                "key_state": m.key_state().map(|s| s.as_str()),
                "key_usage": m.key_usage().map(|u| u.as_str()),
                "key_spec": m.key_spec().map(|s| s.as_str()),
                "creation_date": m.creation_date().map(|d| d.to_string()),
            })
        });
        Ok(output(json!({ "key": metadata }), &out))
    });
    Ok(finish(prepared, target, None))
}

fn encrypt(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let target = key_target(args, scope)?;
    let plaintext = args.text("plaintext")?.as_bytes().to_vec();
    let context = context_map(args);
    let key_of = target.key();
    let prepared = Prepared::new(vec![target.arn.clone()], move |aws, _| async move {
        let key = key_of();
        let out = aws
            .kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(context)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let blob = out.ciphertext_blob().map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
        Ok(output(json!({ "key_id": out.key_id(), "ciphertext_blob": blob }), &out))
    });
    Ok(finish(prepared, target, args.opt_object("encryption_context")))
}

fn decrypt(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let target = key_target(args, scope)?;
    let text = args.text("ciphertext_blob")?;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| ArgumentError("`ciphertext_blob` must be base64".into()))?;
    let context = context_map(args);
    let key_of = target.key();
    let prepared = Prepared::new(vec![target.arn.clone()], move |aws, _| async move {
        let key = key_of();
        let out = aws
            .kms
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(context)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let bytes = out.plaintext().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        let value = match String::from_utf8(bytes) {
            Ok(text) => json!({ "key_id": out.key_id(), "plaintext": text, "encoding": "utf-8" }),
            Err(raw) => json!({
                "key_id": out.key_id(),
                "plaintext": base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
                "encoding": "base64",
            }),
        };
        Ok(output(value, &out))
    });
    Ok(finish(prepared, target, args.opt_object("encryption_context")))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncryptFrom",
    "ReEncryptTo",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "SynchronizeMultiRegionKey",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];
