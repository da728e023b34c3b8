//! Amazon SNS. Topics are named by ARN (`topic_arn`), which must be in the region awsgate
//! calls; `sns_create_topic` takes a name and judges the ARN the topic will have.

use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

const TOPIC: Arg = required("topic_arn", SHORT, "The topic's ARN, from `sns_list_topics` or `sns_create_topic`.");

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "sns_list_topics",
        service: "sns",
        operation: "ListTopics",
        action: "ListTopics",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the topic ARNs of the account in this region, 100 per page.",
        args: &[optional("next_token", SHORT, "`next_token` of the previous page.")],
        prepare: list_topics,
    },
    ToolSpec::named_after_action(
        "sns",
        ResourceShape::Topic,
        "sns_create_topic",
        "CreateTopic",
        Access::Write,
        // Creating a topic that exists returns it unchanged.
        Annotations { read_only: false, destructive: false, idempotent: true, open_world: true },
        "Create a topic (or return the existing one of that name) and return its ARN.",
        &[required("name", SHORT, "1 to 256 letters, digits, `-` and `_`; FIFO topics end in `.fifo`.")],
        create_topic,
    ),
    ToolSpec::named_after_action(
        "sns",
        ResourceShape::Topic,
        "sns_get_topic_attributes",
        "GetTopicAttributes",
        Access::Read,
        READS,
        "Read a topic's attributes (subscriptions counts, policy, display name...).",
        &[TOPIC],
        get_topic_attributes,
    ),
    ToolSpec::named_after_action(
        "sns",
        ResourceShape::Topic,
        "sns_publish",
        "Publish",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Publish a message to a topic.",
        &[
            TOPIC,
            required("message", Kind::Text { max: 262_144 }, "The message, up to 256 KiB."),
            optional("subject", Kind::Text { max: 100 }, "A subject line for email subscriptions."),
            optional("message_group_id", SHORT, "Required for FIFO topics."),
            optional("message_deduplication_id", SHORT, "For FIFO topics without content-based deduplication."),
        ],
        publish,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &["ListTopics", "CreateTopic", "GetTopicAttributes", "Publish"];

fn is_topic_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=256).contains(&name.len())
        && !base.is_empty()
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A topic ARN in the region awsgate calls.
fn topic_arn(args: &Arguments, scope: &Scope) -> Result<String, ArgumentError> {
    let text = args.text("topic_arn")?;
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, name]
            if *partition == scope.partition
                && *region == scope.region
                && crate::policy::is_account(account)
                && is_topic_name(name) =>
        {
            Ok(text.to_string())
        }
        ["arn", _, "sns", region, ..] if *region != scope.region => Err(ArgumentError(format!(
            "`topic_arn` names region `{}`, but awsgate calls {}",
            super::args::printable(region),
            scope.region
        ))),
        _ => Err(ArgumentError(format!(
            "`topic_arn` must be a topic ARN like `arn:{}:sns:{}:123456789012:alerts`; got `{}`",
            scope.partition,
            scope.region,
            super::args::printable(text)
        ))),
    }
}

fn list_topics(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws.sns.list_topics().set_next_token(token).send().await.map_err(|e| describe_sdk_error(&e))?;
        let topics: Vec<Option<&str>> = out.topics().iter().map(|t| t.topic_arn()).collect();
        Ok(output(json!({ "topic_arns": topics, "next_token": out.next_token() }), &out))
    }))
}

fn create_topic(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let name = args.text("name")?.to_string();
    if !is_topic_name(&name) {
        return Err(ArgumentError(format!(
            "`name` must be 1 to 256 letters, digits, `-` and `_` (FIFO topics end in `.fifo`); got `{}`",
            super::args::printable(&name)
        )));
    }
    let arn = format!("arn:{}:sns:{}:{}:{name}", scope.partition, scope.region, scope.account);
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let mut request = aws.sns.create_topic().name(&name);
        if name.ends_with(".fifo") {
            request = request.attributes("FifoTopic", "true");
        }
        let out = request.send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "topic_arn": out.topic_arn() }), &out))
    }))
}

fn get_topic_attributes(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let arn = topic_arn(args, scope)?;
    Ok(Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws.sns.get_topic_attributes().topic_arn(&arn).send().await.map_err(|e| describe_sdk_error(&e))?;
        let mut attributes: Vec<(&String, &String)> = out.attributes().map(|a| a.iter().collect()).unwrap_or_default();
        attributes.sort();
        let attributes: serde_json::Map<String, Value> =
            attributes.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        Ok(output(json!({ "topic_arn": arn, "attributes": attributes }), &out))
    }))
}

fn publish(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let arn = topic_arn(args, scope)?;
    let message = args.text("message")?.to_string();
    let subject = args.opt_text("subject").map(str::to_string);
    let group = args.opt_text("message_group_id").map(str::to_string);
    let dedup = args.opt_text("message_deduplication_id").map(str::to_string);
    Ok(Prepared::new(vec![arn.clone()], move |aws, _| async move {
        let out = aws
            .sns
            .publish()
            .topic_arn(&arn)
            .message(message)
            .set_subject(subject)
            .set_message_group_id(group)
            .set_message_deduplication_id(dedup)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "topic_arn": arn, "message_id": out.message_id() }), &out))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AddPermission",
    "CheckIfPhoneNumberIsOptedOut",
    "ConfirmSubscription",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "CreateSMSSandboxPhoneNumber",
    "CreateTopic",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "DeleteSMSSandboxPhoneNumber",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "GetSMSAttributes",
    "GetSMSSandboxAccountStatus",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListEndpointsByPlatformApplication",
    "ListOriginationNumbers",
    "ListPhoneNumbersOptedOut",
    "ListPlatformApplications",
    "ListSMSSandboxPhoneNumbers",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "OptInPhoneNumber",
    "Publish",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
    "SetSMSAttributes",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
    "VerifySMSSandboxPhoneNumber",
];
