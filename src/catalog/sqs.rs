//! Amazon SQS. Queues are named by `queue_url`; the ARN the gate judges is built from the
//! URL's account and queue name in the region awsgate calls.

use std::collections::HashMap;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec, queue_arn};
use crate::aws::Scope;

const QUEUE_URL: Arg = required("queue_url", SHORT, "The queue's URL, from `sqs_get_queue_url` or `sqs_list_queues`.");
const RECEIPT: Arg = required("receipt_handle", SHORT, "The receipt handle of a received message.");

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "sqs_list_queues",
        service: "sqs",
        operation: "ListQueues",
        action: "ListQueues",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the queue URLs of the account in this region, optionally by name prefix.",
        args: &[
            optional("queue_name_prefix", SHORT, "Only queues whose name starts with this."),
            optional("max_results", Kind::Integer { min: 1, max: 1000 }, "At most this many URLs."),
            optional("next_token", SHORT, "`next_token` of the previous page."),
        ],
        prepare: list_queues,
    },
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_get_queue_url",
        "GetQueueUrl",
        Access::Read,
        READS,
        "Look up a queue's URL by its name.",
        &[required("queue_name", SHORT, "The queue's name.")],
        get_queue_url,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_get_queue_attributes",
        "GetQueueAttributes",
        Access::Read,
        READS,
        "Read a queue's attributes (message counts, timeouts, ARN...).",
        &[QUEUE_URL],
        get_queue_attributes,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_send_message",
        "SendMessage",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Send a message to a queue.",
        &[
            QUEUE_URL,
            required("message_body", Kind::Text { max: 262_144 }, "The message, up to 256 KiB of text."),
            optional("delay_seconds", Kind::Integer { min: 0, max: 900 }, "Hide the message for this long first."),
            optional("message_group_id", SHORT, "Required for FIFO queues."),
            optional("message_deduplication_id", SHORT, "For FIFO queues without content-based deduplication."),
        ],
        send_message,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_receive_message",
        "ReceiveMessage",
        Access::Write,
        // Receiving hides the messages from other consumers for the visibility timeout.
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Receive up to `max_messages` messages; they stay hidden from others for the visibility timeout.",
        &[
            QUEUE_URL,
            optional("max_messages", Kind::Integer { min: 1, max: 10 }, "1 to 10 (default 1)."),
            optional(
                "wait_time_seconds",
                Kind::Integer { min: 0, max: 20 },
                "Long-poll for up to this long (default 0).",
            ),
            optional(
                "visibility_timeout",
                Kind::Integer { min: 0, max: 43_200 },
                "Hide received messages for this long.",
            ),
        ],
        receive_message,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_delete_message",
        "DeleteMessage",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete a received message by its receipt handle.",
        &[QUEUE_URL, RECEIPT],
        delete_message,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_change_message_visibility",
        "ChangeMessageVisibility",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: true, open_world: true },
        "Change how long a received message stays hidden.",
        &[
            QUEUE_URL,
            RECEIPT,
            required("visibility_timeout", Kind::Integer { min: 0, max: 43_200 }, "Seconds, from now."),
        ],
        change_message_visibility,
    ),
    ToolSpec::named_after_action(
        "sqs",
        ResourceShape::Queue,
        "sqs_purge_queue",
        "PurgeQueue",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete every message in a queue.",
        &[QUEUE_URL],
        purge_queue,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &[
    "ListQueues",
    "GetQueueUrl",
    "GetQueueAttributes",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "PurgeQueue",
];

/// The queue URL and the ARN of the queue it names. A URL of an AWS host in another region
/// than the one awsgate calls is refused: the ARN the gate judges must be the queue acted on.
fn queue(args: &Arguments, scope: &Scope) -> Result<(String, String), ArgumentError> {
    let url = args.queue_url()?;
    if let Some(region) = url.region.as_deref().filter(|r| *r != scope.region) {
        return Err(ArgumentError(format!(
            "`queue_url` names region `{region}`, but awsgate calls region `{}`: use a queue of that region",
            scope.region
        )));
    }
    let arn = queue_arn(scope, &url.account, &url.name);
    Ok((url.url, arn))
}

fn list_queues(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let prefix = args.opt_text("queue_name_prefix").map(str::to_string);
    let max = args.opt_i32("max_results");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .sqs
            .list_queues()
            .set_queue_name_prefix(prefix)
            .set_max_results(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "queue_urls": out.queue_urls(), "next_token": out.next_token() }), &out))
    }))
}

fn get_queue_url(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let name = args.queue_name()?;
    let arn = queue_arn(scope, &scope.account, &name);
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws.sqs.get_queue_url().queue_name(&name).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "queue_name": name, "queue_url": out.queue_url() }), &out))
    }))
}

fn get_queue_attributes(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let attributes: HashMap<&str, &str> =
            out.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()).unwrap_or_default();
        Ok(output(json!({ "queue_url": url, "attributes": attributes }), &out))
    }))
}

fn send_message(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    let body = args.text("message_body")?.to_string();
    let delay = args.opt_i32("delay_seconds");
    let group = args.opt_text("message_group_id").map(str::to_string);
    let dedup = args.opt_text("message_deduplication_id").map(str::to_string);
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .set_delay_seconds(delay)
            .set_message_group_id(group)
            .set_message_deduplication_id(dedup)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(
            json!({
                "queue_url": url,
                "message_id": out.message_id(),
                "md5_of_message_body": out.md5_of_message_body(),
                "sequence_number": out.sequence_number(),
            }),
            &out,
        ))
    }))
}

fn receive_message(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    let max = args.opt_i32("max_messages").unwrap_or(1);
    let wait = args.opt_i32("wait_time_seconds");
    let visibility = args.opt_i32("visibility_timeout");
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(max)
            .set_wait_time_seconds(wait)
            .set_visibility_timeout(visibility)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let messages: Vec<Value> = out
            .messages()
            .iter()
            .map(|m| {
                let attributes: HashMap<&str, &str> = m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                    .unwrap_or_default();
                json!({
                    "message_id": m.message_id(),
                    "receipt_handle": m.receipt_handle(),
                    "body": m.body(),
                    "md5_of_body": m.md5_of_body(),
                    "attributes": attributes,
                })
            })
            .collect();
        Ok(output(json!({ "queue_url": url, "messages": messages }), &out))
    }))
}

fn delete_message(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    let receipt = args.text("receipt_handle")?.to_string();
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .sqs
            .delete_message()
            .queue_url(&url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "queue_url": url, "deleted": true }), &out))
    }))
}

fn change_message_visibility(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    let receipt = args.text("receipt_handle")?.to_string();
    let timeout = args.opt_i32("visibility_timeout").unwrap_or_default();
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws
            .sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(receipt)
            .visibility_timeout(timeout)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "queue_url": url, "visibility_timeout": timeout }), &out))
    }))
}

fn purge_queue(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let (url, arn) = queue(args, scope)?;
    Ok(Prepared::new(vec![arn], move |aws, _| async move {
        let out = aws.sqs.purge_queue().queue_url(&url).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "queue_url": url, "purged": true }), &out))
    }))
}

/// Every IAM action of SQS, for validating policies. (The batch APIs are authorized by the
/// single-message actions.)
pub const IAM_ACTIONS: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "CreateQueue",
    "DeleteMessage",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];
