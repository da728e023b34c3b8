//! Amazon SQS.

use super::{Access, Annotations, READS, ResourceShape, ToolSpec};

const fn queue_tool(
    name: &'static str,
    operation: &'static str,
    access: Access,
    annotations: Annotations,
    summary: &'static str,
) -> ToolSpec {
    ToolSpec {
        name,
        service: "sqs",
        operation,
        action: operation,
        access,
        resource: ResourceShape::Queue,
        annotations,
        summary,
    }
}

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
    },
    queue_tool("sqs_get_queue_url", "GetQueueUrl", Access::Read, READS, "Look up a queue's URL by its name."),
    queue_tool(
        "sqs_get_queue_attributes",
        "GetQueueAttributes",
        Access::Read,
        READS,
        "Read a queue's attributes (message counts, timeouts, ARN...).",
    ),
    queue_tool(
        "sqs_send_message",
        "SendMessage",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Send a message to a queue.",
    ),
    queue_tool(
        "sqs_receive_message",
        "ReceiveMessage",
        Access::Write,
        // Receiving hides the messages from other consumers for the visibility timeout.
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Receive up to `max_messages` messages; they stay hidden from others for the visibility timeout.",
    ),
    queue_tool(
        "sqs_delete_message",
        "DeleteMessage",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete a received message by its receipt handle.",
    ),
    queue_tool(
        "sqs_change_message_visibility",
        "ChangeMessageVisibility",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: true, open_world: true },
        "Change how long a received message stays hidden.",
    ),
    queue_tool(
        "sqs_purge_queue",
        "PurgeQueue",
        Access::Write,
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Delete every message in a queue.",
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
