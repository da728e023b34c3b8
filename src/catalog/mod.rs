//! The one registry of supported actions. Each tool is one entry: its MCP name, the IAM
//! action that authorizes it, what it touches (for the ARN), and truthful annotations.
//! Each service's file also lists every IAM action name of that service, so that a
//! misspelt action in a policy is an error with a suggestion.
//!
//! Adding a tool touches one file: its service's `TOOLS` (and `TOOL_ACTIONS` when the IAM
//! action is new).

pub mod args;
pub mod call;
mod cloudwatch;
pub mod conditions;
mod dynamodb;
mod ec2;
mod iam;
mod kms;
mod lambda;
mod logs;
mod rds;
mod s3;
mod secretsmanager;
mod sns;
mod sqs;
mod ssm;
mod sts;

use crate::aws::Scope;
use crate::policy::{ApprovalSummary, Policy, ServiceVocabulary, Vocabulary};
use args::{Arg, ArgumentError, Arguments};
pub use call::{
    AwsFailure, CallOptions, CallOutput, Facts, Lookup, Prepared, Resolve, ResolvedArn, describe_sdk_error, fit_output,
};

/// How a tool's call affects AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Lists resources; changes nothing.
    List,
    /// Reads a resource; changes nothing.
    Read,
    /// Changes AWS state.
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::List => "list",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// What the call's resource ARN is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceShape {
    /// AWS does not scope the action to a resource: the request is on `*`.
    None,
    Bucket,
    Object,
    Table,
    Queue,
    Topic,
    Function,
    Parameter,
    LogGroup,
    LogStream,
    Secret,
    Key,
    User,
    Role,
    DbInstance,
    Instance,
    Volume,
    /// Any EC2 resource `create_tags` takes, by its id's prefix.
    Ec2Resource,
}

impl ResourceShape {
    /// The ARN the gate judges, as a template: for an action on no resource, the
    /// service's whole scope (`arn:${Partition}:sqs:${Region}:${Account}:*`; S3 and IAM
    /// ARNs have no region or account).
    pub fn judged_template(self, service: &str) -> String {
        match self {
            ResourceShape::None if crate::policy::unscoped_star_requests(service) => {
                format!("arn:${{Partition}}:{service}:::*")
            }
            ResourceShape::None => format!("arn:${{Partition}}:{service}:${{Region}}:${{Account}}:*"),
            shape => shape.template().to_string(),
        }
    }

    /// The ARN template, in AWS's documentation style.
    pub fn template(self) -> &'static str {
        match self {
            ResourceShape::None => "*",
            ResourceShape::Bucket => "arn:${Partition}:s3:::${Bucket}",
            ResourceShape::Object => "arn:${Partition}:s3:::${Bucket}/${Key}",
            ResourceShape::Table => "arn:${Partition}:dynamodb:${Region}:${Account}:table/${Table}",
            ResourceShape::Queue => "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}",
            ResourceShape::Topic => "arn:${Partition}:sns:${Region}:${Account}:${TopicName}",
            ResourceShape::Function => "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}",
            ResourceShape::Parameter => {
                "arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}"
            }
            ResourceShape::User => "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",
            ResourceShape::Role => "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
            ResourceShape::DbInstance => "arn:${Partition}:rds:${Region}:${Account}:db:${DbInstanceName}",
            ResourceShape::Instance => "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}",
            ResourceShape::Volume => "arn:${Partition}:ec2:${Region}:${Account}:volume/${VolumeId}",
            ResourceShape::Ec2Resource => "arn:${Partition}:ec2:${Region}:${Account}:${ResourceType}/${ResourceId}",
            ResourceShape::Secret => "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}",
            ResourceShape::Key => "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",
            ResourceShape::LogGroup => "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",
            ResourceShape::LogStream => {
                "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"
            }
        }
    }
}

/// MCP tool annotations, set truthfully per tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// A reading tool: no side effects, so also not destructive and idempotent.
pub const READS: Annotations = Annotations { read_only: true, destructive: false, idempotent: true, open_world: true };

/// One tool of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    /// The MCP tool name, `service_action_in_snake_case`.
    pub name: &'static str,
    /// Lowercase service prefix.
    pub service: &'static str,
    /// The AWS API operation the tool calls, e.g. `HeadObject`.
    pub operation: &'static str,
    /// The IAM action that authorizes it, e.g. `GetObject` for `HeadObject`.
    pub action: &'static str,
    pub access: Access,
    pub resource: ResourceShape,
    pub annotations: Annotations,
    /// What the tool does, for its description.
    pub summary: &'static str,
    /// Its arguments: the input schema and its validation.
    pub args: &'static [Arg],
    /// Builds the call from validated arguments: the resource ARNs and the request.
    pub prepare: fn(&Arguments, &Scope) -> Result<Prepared, ArgumentError>,
}

impl ToolSpec {
    /// A tool whose IAM action has the name of the operation it calls (most of them).
    #[allow(clippy::too_many_arguments)]
    pub const fn named_after_action(
        service: &'static str,
        resource: ResourceShape,
        name: &'static str,
        operation: &'static str,
        access: Access,
        annotations: Annotations,
        summary: &'static str,
        args: &'static [Arg],
        prepare: fn(&Arguments, &Scope) -> Result<Prepared, ArgumentError>,
    ) -> ToolSpec {
        ToolSpec { name, service, operation, action: operation, access, resource, annotations, summary, args, prepare }
    }

    /// `service:Action`, as policies write it.
    pub fn iam_action(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    /// Validates the arguments and builds the call; no AWS request is made.
    pub fn prepare(
        &self,
        input: Option<serde_json::Map<String, serde_json::Value>>,
        scope: &Scope,
    ) -> Result<Prepared, ArgumentError> {
        let arguments = Arguments::validate(self.args, input)?;
        let mut prepared = (self.prepare)(&arguments, scope)?;
        conditions::add_tag_lookups(self.service, self.action, &mut prepared);
        Ok(prepared)
    }
}

impl ToolSpec {
    /// The ARNs and condition keys of a request that reaches awsgate in AWS's own wire
    /// format (the sidecar), built by the same code as the tool's. Arguments that only
    /// carry content (bodies, messages, plaintexts) get a stand-in, since AWS validates
    /// them and no ARN or supported condition key depends on them.
    pub fn judge_wire(
        &self,
        mut input: serde_json::Map<String, serde_json::Value>,
        scope: &Scope,
    ) -> Result<Prepared, ArgumentError> {
        // Only content gets a stand-in: a missing name stays missing, and the tool's own
        // code refuses the request.
        for arg in self.args.iter().filter(|a| CONTENT_ARGS.contains(&a.name)) {
            if !arg.required && !input.contains_key(arg.name) {
                continue;
            }
            let stand_in = match arg.kind {
                // A list of content is judged as one well-formed item: the tools refuse an
                // empty one, and AWS validates the real items.
                args::Kind::List { .. } => match arg.name {
                    "metric_data" => serde_json::json!([{ "metric_name": "-", "value": 0 }]),
                    "log_events" => serde_json::json!([{ "timestamp": 0, "message": "-" }]),
                    "metric_data_queries" => serde_json::json!([
                        { "id": "q", "namespace": "-", "metric_name": "-", "period": 60, "stat": "Sum" }
                    ]),
                    _ => serde_json::json!([]),
                },
                args::Kind::Object | args::Kind::TextMap => serde_json::json!({}),
                _ if arg.name == "ciphertext_blob" => serde_json::json!("AAAA"),
                _ => serde_json::json!("-"),
            };
            input.insert(arg.name.to_string(), stand_in);
        }
        let arguments = Arguments::unchecked(input);
        let mut prepared = (self.prepare)(&arguments, scope)?;
        conditions::add_tag_lookups(self.service, self.action, &mut prepared);
        Ok(prepared)
    }
}

/// Arguments that carry content, not names: no ARN or condition key awsgate supplies
/// depends on them.
pub const CONTENT_ARGS: &[&str] = &[
    "body",
    "message",
    "message_body",
    "plaintext",
    "ciphertext_blob",
    "receipt_handle",
    "log_events",
    "metric_data",
    "metric_data_queries",
    "payload",
];

/// The tool that calls `operation` of `service` (IAM prefix).
pub fn find_operation(service: &str, operation: &str) -> Option<&'static ToolSpec> {
    tools().find(|t| t.service == service && t.operation == operation)
}

pub fn bucket_arn(scope: &Scope, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", scope.partition)
}

pub fn object_arn(scope: &Scope, bucket: &str, key: &str) -> String {
    format!("arn:{}:s3:::{bucket}/{key}", scope.partition)
}

pub fn table_arn(scope: &Scope, table: &str) -> String {
    format!("arn:{}:dynamodb:{}:{}:table/{table}", scope.partition, scope.region, scope.account)
}

pub fn queue_arn(scope: &Scope, account: &str, name: &str) -> String {
    format!("arn:{}:sqs:{}:{account}:{name}", scope.partition, scope.region)
}

struct Service {
    vocabulary: ServiceVocabulary,
    tools: &'static [ToolSpec],
}

const SERVICES: &[Service] = &[
    Service {
        vocabulary: ServiceVocabulary {
            name: "s3",
            actions: s3::IAM_ACTIONS,
            tool_actions: s3::TOOL_ACTIONS,
            condition_keys: conditions::S3_KEYS,
        },
        tools: s3::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "dynamodb",
            actions: dynamodb::IAM_ACTIONS,
            tool_actions: dynamodb::TOOL_ACTIONS,
            condition_keys: conditions::DYNAMODB_KEYS,
        },
        tools: dynamodb::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "sqs",
            actions: sqs::IAM_ACTIONS,
            tool_actions: sqs::TOOL_ACTIONS,
            condition_keys: conditions::SQS_KEYS,
        },
        tools: sqs::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "sns",
            actions: sns::IAM_ACTIONS,
            tool_actions: sns::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: sns::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "lambda",
            actions: lambda::IAM_ACTIONS,
            tool_actions: lambda::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: lambda::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "secretsmanager",
            actions: secretsmanager::IAM_ACTIONS,
            tool_actions: secretsmanager::TOOL_ACTIONS,
            condition_keys: conditions::SECRETSMANAGER_KEYS,
        },
        tools: secretsmanager::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "kms",
            actions: kms::IAM_ACTIONS,
            tool_actions: kms::TOOL_ACTIONS,
            condition_keys: conditions::KMS_KEYS,
        },
        tools: kms::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "logs",
            actions: logs::IAM_ACTIONS,
            tool_actions: logs::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: logs::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "cloudwatch",
            actions: cloudwatch::IAM_ACTIONS,
            tool_actions: cloudwatch::TOOL_ACTIONS,
            condition_keys: conditions::CLOUDWATCH_KEYS,
        },
        tools: cloudwatch::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "ssm",
            actions: ssm::IAM_ACTIONS,
            tool_actions: ssm::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: ssm::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "ec2",
            actions: ec2::IAM_ACTIONS,
            tool_actions: ec2::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: ec2::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "iam",
            actions: iam::IAM_ACTIONS,
            tool_actions: iam::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: iam::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "rds",
            actions: rds::IAM_ACTIONS,
            tool_actions: rds::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: rds::TOOLS,
    },
    Service {
        vocabulary: ServiceVocabulary {
            name: "sts",
            actions: sts::IAM_ACTIONS,
            tool_actions: sts::TOOL_ACTIONS,
            condition_keys: &[],
        },
        tools: sts::TOOLS,
    },
];

/// The services, IAM action names and the tools' resource shapes, as the gate needs them.
pub fn vocabulary() -> Vocabulary {
    let mut vocabulary = Vocabulary::new(SERVICES.iter().map(|s| s.vocabulary).collect());
    for tool in tools() {
        vocabulary.add_template(&tool.iam_action(), tool.resource.judged_template(tool.service));
    }
    vocabulary
}

/// Every tool, service by service.
pub fn tools() -> impl Iterator<Item = &'static ToolSpec> {
    SERVICES.iter().flat_map(|s| s.tools.iter())
}

pub fn find_tool(name: &str) -> Option<&'static ToolSpec> {
    tools().find(|t| t.name == name)
}

/// The tool's description under a policy: what it does and what the policy lets it
/// touch, so the agent does not have to guess resource names.
pub fn describe(tool: &ToolSpec, policy: &Policy) -> String {
    let action = tool.iam_action();
    let mut text = format!("{} IAM action `{action}`.", tool.summary);
    if tool.resource == ResourceShape::None {
        text.push_str(" Not scoped to a resource.");
    } else {
        let allowed = policy.allowed_resources(&action);
        if allowed.is_empty() {
            text.push_str(" The policy allows no resource for it (audit mode lists it anyway).");
        } else {
            text.push_str(&format!(" Allowed resources: {}.", listed(&allowed, MOST_PATTERNS)));
        }
        let denied = policy.denied_resources(&action);
        if !denied.is_empty() {
            text.push_str(&format!(" Denied: {}.", listed(&denied, MOST_PATTERNS)));
        }
        text.push_str(&format!(" Resource ARN: {}.", tool.resource.template()));
    }
    let conditions = policy.allow_conditions(&action);
    if !conditions.is_empty() {
        let shown: Vec<String> = conditions.iter().take(MOST_CONDITIONS).cloned().collect();
        let more = conditions.len().saturating_sub(MOST_CONDITIONS);
        text.push_str(&format!(
            " Allowed only when {}{} (IAM conditions; a call that does not meet them is denied).",
            shown.join("; or when "),
            if more > 0 { format!("; or in {more} more cases") } else { String::new() }
        ));
    }
    match policy.approval_summary(&action) {
        ApprovalSummary::None => {}
        ApprovalSummary::Required => text.push_str(" Each call waits for a human's approval."),
        ApprovalSummary::Depends => text.push_str(" Some resources need a human's approval per call."),
    }
    text
}

/// Most resource patterns a tool's description names: it is sent to the model on every
/// turn, so it stays short however large the policy. The rest are counted, and a denied
/// call's error names the statement that decided it.
const MOST_PATTERNS: usize = 6;

/// Most condition alternatives a description names.
const MOST_CONDITIONS: usize = 2;

/// The first `most` patterns, shortened to 120 characters each, and how many more there are.
fn listed(patterns: &[String], most: usize) -> String {
    let shown: Vec<String> = patterns
        .iter()
        .take(most)
        .map(|p| {
            if p.chars().count() > 120 { format!("{}...", p.chars().take(120).collect::<String>()) } else { p.clone() }
        })
        .collect();
    let more = patterns.len().saturating_sub(most);
    if more == 0 {
        shown.join(", ")
    } else {
        format!("{}, and {more} more (a denied call's error names the statement that decided it)", shown.join(", "))
    }
}

/// `GetQueueUrl` -> `get_queue_url`: a lowercase letter or digit followed by an uppercase
/// letter starts a new word, and so does the last capital of a run (`ACLs` -> `acls`).
pub fn snake_case(action: &str) -> String {
    let chars: Vec<char> = action.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| chars.get(p));
        let next = chars.get(i + 1);
        let boundary = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_short_however_large_the_policy() {
        let mut text = String::from("version: 1\nname: large\nstatements:\n");
        for n in 0..10_000 {
            let effect = if n % 10 == 0 { "deny" } else { "allow" };
            text.push_str(&format!(
                "  - effect: {effect}\n    actions: [\"s3:GetObject\", \"s3:PutObject\", \"dynamodb:GetItem\"]\n    resources: [\"arn:aws:s3:::bucket-{n}/reports/*\", \"arn:aws:dynamodb:us-east-1:123456789012:table/t{n}\"]\n"
            ));
        }
        let loaded = crate::policy::parse(&text, "large", &vocabulary()).unwrap();
        let all: usize = tools().map(|tool| describe(tool, &loaded.policy).len()).sum();
        assert!(all < 64 * 1024, "the descriptions take {all} bytes");
        let get = describe(find_tool("s3_get_object").unwrap(), &loaded.policy);
        assert!(get.len() < 1200 && get.contains("and 17994 more") && get.contains("Denied: "), "{get}");
    }

    #[test]
    fn content_lists_are_judged_as_one_well_formed_item() {
        let scope = Scope { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() };
        let wire = |pairs: serde_json::Value| pairs.as_object().cloned().unwrap_or_default();
        let metrics = find_operation("cloudwatch", "PutMetricData").unwrap();
        let input = wire(serde_json::json!({"namespace": "App", "metric_data": [{"MetricName": "m", "Value": 1}]}));
        assert!(metrics.judge_wire(input, &scope).is_ok());
        let logs = find_operation("logs", "PutLogEvents").unwrap();
        let input = wire(serde_json::json!({"log_group_name": "g", "log_stream_name": "s", "log_events": []}));
        assert!(logs.judge_wire(input, &scope).is_ok());
    }

    #[test]
    fn tool_names_follow_the_naming_rule() {
        for tool in tools() {
            assert_eq!(tool.name, format!("{}_{}", tool.service, snake_case(tool.operation)), "{tool:?}");
            assert!(
                tool.name.len() <= 64
                    && tool.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
        }
        assert_eq!(snake_case("ListAllMyBuckets"), "list_all_my_buckets");
        assert_eq!(snake_case("GetQueueUrl"), "get_queue_url");
        assert_eq!(snake_case("PartiQLSelect"), "parti_ql_select");
    }

    #[test]
    fn tool_actions_are_real_iam_actions_and_match_the_tools() {
        for service in SERVICES {
            let v = service.vocabulary;
            for action in v.tool_actions {
                assert!(v.actions.contains(action), "{}:{action} is not in the IAM list", v.name);
                assert!(service.tools.iter().any(|t| t.action == *action), "{}:{action} has no tool", v.name);
            }
            for tool in service.tools {
                assert_eq!(tool.service, v.name);
                assert!(v.tool_actions.contains(&tool.action), "{} is missing from TOOL_ACTIONS", tool.name);
            }
        }
    }

    #[test]
    fn tool_names_are_unique_and_annotations_consistent() {
        let names: Vec<&str> = tools().map(|t| t.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
        for tool in tools() {
            assert_eq!(tool.annotations.read_only, tool.access != Access::Write, "{}", tool.name);
            assert!(!(tool.annotations.read_only && tool.annotations.destructive), "{}", tool.name);
        }
    }
}
