//! AWS Lambda. A function is named by its name, its ARN or a partial ARN
//! (`123456789012:function:name`), with an optional qualifier (a version or an alias),
//! either in the name (`name:prod`) or as `qualifier`. IAM judges the unqualified ARN
//! `function:NAME` for a call without a qualifier and the qualified one `function:NAME:QUALIFIER`
//! otherwise, so a policy needs `function:NAME:*` to allow versions and aliases.

use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

const FUNCTION: Arg = required(
    "function_name",
    SHORT,
    "The function's name, ARN or partial ARN (`123456789012:function:name`), optionally with `:QUALIFIER`.",
);
const QUALIFIER: Arg = optional("qualifier", SHORT, "A version number or alias name.");

/// At most this much JSON is sent as a payload (Lambda's synchronous limit).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "lambda_list_functions",
        service: "lambda",
        operation: "ListFunctions",
        action: "ListFunctions",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the functions of the account in this region, page by page.",
        args: &[
            optional("max_items", Kind::Integer { min: 1, max: 50 }, "At most this many functions."),
            optional("marker", SHORT, "`next_marker` of the previous page."),
        ],
        prepare: list_functions,
    },
    ToolSpec::named_after_action(
        "lambda",
        ResourceShape::Function,
        "lambda_get_function",
        "GetFunction",
        Access::Read,
        READS,
        "Describe a function: runtime, handler, memory, timeout, state, version.",
        &[FUNCTION, QUALIFIER],
        get_function,
    ),
    ToolSpec {
        name: "lambda_invoke",
        service: "lambda",
        operation: "Invoke",
        action: "InvokeFunction",
        access: Access::Write,
        resource: ResourceShape::Function,
        // Running code can change anything the function can reach, and running it twice
        // may do so twice.
        annotations: Annotations { read_only: false, destructive: true, idempotent: false, open_world: true },
        summary: "Invoke a function synchronously with a JSON payload and return its JSON answer.",
        args: &[FUNCTION, QUALIFIER, optional("payload", Kind::Json, "The event, any JSON value (default {}).")],
        prepare: invoke,
    },
];

pub const TOOL_ACTIONS: &[&str] = &["ListFunctions", "GetFunction", "InvokeFunction"];

/// A function reference resolved to what IAM judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    pub arn: String,
}

fn is_name(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_qualifier(text: &str) -> bool {
    (1..=128).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_$".contains(c))
}

/// Reads `function_name` and `qualifier` into the ARN IAM judges: the function's, in the
/// region awsgate calls, qualified when the call is.
pub fn function_ref(args: &Arguments, scope: &Scope) -> Result<FunctionRef, ArgumentError> {
    let text = args.text("function_name")?;
    let bad = |why: &str| ArgumentError(format!("`function_name` {why}; got `{}`", super::args::printable(text)));
    let parts: Vec<&str> = text.split(':').collect();
    let (account, name, inline) = match parts.as_slice() {
        [name] => (scope.account.as_str(), *name, None),
        [name, qualifier] => (scope.account.as_str(), *name, Some(*qualifier)),
        [account, "function", name] => (*account, *name, None),
        [account, "function", name, qualifier] => (*account, *name, Some(*qualifier)),
        ["arn", partition, "lambda", region, account, "function", name, rest @ ..] => {
            if *partition != scope.partition || *region != scope.region {
                return Err(bad(&format!(
                    "names another partition or region than the one awsgate calls ({}, {})",
                    scope.partition, scope.region
                )));
            }
            match rest {
                [] => (*account, *name, None),
                [qualifier] => (*account, *name, Some(*qualifier)),
                _ => return Err(bad("is not a function ARN")),
            }
        }
        _ => return Err(bad("must be a function name, ARN or `ACCOUNT:function:NAME`")),
    };
    if !is_name(name) {
        return Err(bad("must name a function of 1 to 64 letters, digits, `-` and `_`"));
    }
    if !crate::policy::is_account(account) {
        return Err(bad("names an account that is not 12 digits"));
    }
    let qualifier = match (inline, args.opt_text("qualifier")) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad(&format!("says qualifier `{a}` but `qualifier` is `{}`", super::args::printable(b))));
        }
        (Some(q), _) | (None, Some(q)) => Some(q),
        (None, None) => None,
    };
    if let Some(q) = qualifier
        && !is_qualifier(q)
    {
        return Err(ArgumentError(format!(
            "`qualifier` must be a version number or an alias name; got `{}`",
            super::args::printable(q)
        )));
    }
    let mut arn = format!("arn:{}:lambda:{}:{account}:function:{name}", scope.partition, scope.region);
    if let Some(q) = qualifier {
        arn.push(':');
        arn.push_str(q);
    }
    Ok(FunctionRef { name: name.to_string(), qualifier: qualifier.map(str::to_string), arn })
}

fn list_functions(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let max = args.opt_i32("max_items");
    let marker = args.opt_text("marker").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .lambda
            .list_functions()
            .set_max_items(max)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let functions: Vec<Value> = out
            .functions()
            .iter()
            .map(|f| {
                json!({
                    "name": f.function_name(),
                    "arn": f.function_arn(),
                    "runtime": f.runtime().map(|r| r.as_str()),
                    "description": f.description(),
                    "memory_size": f.memory_size(),
                    "timeout": f.timeout(),
                    "last_modified": f.last_modified(),
                })
            })
            .collect();
        Ok(output(json!({ "functions": functions, "next_marker": out.next_marker() }), &out))
    }))
}

fn get_function(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let function = function_ref(args, scope)?;
    Ok(Prepared::new(vec![function.arn.clone()], move |aws, _| async move {
        let out = aws
            .lambda
            .get_function()
            .function_name(&function.name)
            .set_qualifier(function.qualifier.clone())
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let configuration = out.configuration().map(|c| {
            json!({
                "name": c.function_name(),
                "arn": c.function_arn(),
                "runtime": c.runtime().map(|r| r.as_str()),
                "handler": c.handler(),
                "description": c.description(),
                "memory_size": c.memory_size(),
                "timeout": c.timeout(),
                "version": c.version(),
                "state": c.state().map(|s| s.as_str()),
                "last_modified": c.last_modified(),
            })
        });
        Ok(output(json!({ "function": configuration }), &out))
    }))
}

fn invoke(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let function = function_ref(args, scope)?;
    let payload = args.opt_json("payload").cloned().unwrap_or_else(|| json!({}));
    let bytes = serde_json::to_vec(&payload).map_err(|e| ArgumentError(format!("`payload`: {e}")))?;
    if bytes.len() > MAX_PAYLOAD {
        return Err(ArgumentError(format!(
            "`payload` is {} bytes of JSON; Lambda takes at most {MAX_PAYLOAD}",
            bytes.len()
        )));
    }
    Ok(Prepared::new(vec![function.arn.clone()], move |aws, options| async move {
        let out = aws
            .lambda
            .invoke()
            .function_name(&function.name)
            .set_qualifier(function.qualifier.clone())
            .payload(Blob::new(bytes))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let raw = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        let room = options.max_output_bytes.saturating_sub(1024);
        let answer = match serde_json::from_slice::<Value>(&raw) {
            Ok(value) if raw.len() <= room => json!({ "payload": value }),
            Ok(_) | Err(_) if raw.len() > room => {
                json!({ "payload": null, "payload_bytes": raw.len(), "note": "the answer was larger than max_output_bytes and was left out" })
            }
            _ => json!({ "payload_text": String::from_utf8_lossy(&raw) }),
        };
        let mut value = json!({
            "status_code": out.status_code(),
            "function_error": out.function_error(),
            "executed_version": out.executed_version(),
        });
        if let (Value::Object(target), Value::Object(extra)) = (&mut value, answer) {
            target.extend(extra);
        }
        Ok(output(value, &out))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AddLayerVersionPermission",
    "AddPermission",
    "CheckpointDurableExecution",
    "CreateAlias",
    "CreateCapacityProvider",
    "CreateCodeSigningConfig",
    "CreateEventSourceMapping",
    "CreateFunction",
    "CreateFunctionUrlConfig",
    "DeleteAlias",
    "DeleteCapacityProvider",
    "DeleteCodeSigningConfig",
    "DeleteEventSourceMapping",
    "DeleteFunction",
    "DeleteFunctionCodeSigningConfig",
    "DeleteFunctionConcurrency",
    "DeleteFunctionEventInvokeConfig",
    "DeleteFunctionUrlConfig",
    "DeleteLayerVersion",
    "DeleteProvisionedConcurrencyConfig",
    "DisableReplication",
    "EnableReplication",
    "GetAccountSettings",
    "GetAlias",
    "GetCapacityProvider",
    "GetCodeSigningConfig",
    "GetDurableExecution",
    "GetDurableExecutionHistory",
    "GetDurableExecutionState",
    "GetEventSourceMapping",
    "GetFunction",
    "GetFunctionCodeSigningConfig",
    "GetFunctionConcurrency",
    "GetFunctionConfiguration",
    "GetFunctionEventInvokeConfig",
    "GetFunctionRecursionConfig",
    "GetFunctionScalingConfig",
    "GetFunctionUrlConfig",
    "GetLayerVersion",
    "GetLayerVersionPolicy",
    "GetPolicy",
    "GetProvisionedConcurrencyConfig",
    "GetRuntimeManagementConfig",
    "InvokeAsync",
    "InvokeFunction",
    "InvokeFunctionUrl",
    "ListAliases",
    "ListCapacityProviders",
    "ListCodeSigningConfigs",
    "ListDurableExecutionsByFunction",
    "ListEventSourceMappings",
    "ListFunctionEventInvokeConfigs",
    "ListFunctionUrlConfigs",
    "ListFunctionVersionsByCapacityProvider",
    "ListFunctions",
    "ListFunctionsByCodeSigningConfig",
    "ListLayerVersions",
    "ListLayers",
    "ListProvisionedConcurrencyConfigs",
    "ListTags",
    "ListVersionsByFunction",
    "PassCapacityProvider",
    "PublishLayerVersion",
    "PublishVersion",
    "PutFunctionCodeSigningConfig",
    "PutFunctionConcurrency",
    "PutFunctionEventInvokeConfig",
    "PutFunctionRecursionConfig",
    "PutFunctionScalingConfig",
    "PutProvisionedConcurrencyConfig",
    "PutRuntimeManagementConfig",
    "RemoveLayerVersionPermission",
    "RemovePermission",
    "SendDurableExecutionCallbackFailure",
    "SendDurableExecutionCallbackHeartbeat",
    "SendDurableExecutionCallbackSuccess",
    "StopDurableExecution",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCapacityProvider",
    "UpdateCodeSigningConfig",
    "UpdateEventSourceMapping",
    "UpdateFunctionCode",
    "UpdateFunctionCodeSigningConfig",
    "UpdateFunctionConfiguration",
    "UpdateFunctionEventInvokeConfig",
    "UpdateFunctionUrlConfig",
];
