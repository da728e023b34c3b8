//! Amazon CloudWatch Logs. A log group is the resource
//! `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` and a stream
//! `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:log-stream:STREAM`, as the Service
//! Authorization Reference writes them; the `log-group:NAME:*` that policies often use
//! covers the streams only.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::{Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

const GROUP: Arg = required("log_group_name", SHORT, "The log group's name, e.g. `/aws/lambda/orders`.");
const STREAM: Arg = required("log_stream_name", SHORT, "The log stream's name.");
const START: Arg =
    optional("start_time", Kind::Integer { min: 0, max: i64::MAX }, "From this time, in milliseconds since the epoch.");
const END: Arg =
    optional("end_time", Kind::Integer { min: 0, max: i64::MAX }, "Before this time, in milliseconds since the epoch.");
const TOKEN: Arg = optional("next_token", SHORT, "`next_token` of the previous page.");
const CREATES: Annotations = Annotations { read_only: false, destructive: false, idempotent: true, open_world: true };

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "logs_describe_log_groups",
        service: "logs",
        operation: "DescribeLogGroups",
        action: "DescribeLogGroups",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List log groups, optionally by name prefix.",
        args: &[
            optional("log_group_name_prefix", SHORT, "Only groups whose name starts with this."),
            optional("limit", Kind::Integer { min: 1, max: 50 }, "At most this many groups."),
            TOKEN,
        ],
        prepare: describe_log_groups,
    },
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogGroup,
        "logs_describe_log_streams",
        "DescribeLogStreams",
        Access::List,
        READS,
        "List the streams of a log group, most recent events first.",
        &[GROUP, optional("limit", Kind::Integer { min: 1, max: 50 }, "At most this many streams."), TOKEN],
        describe_log_streams,
    ),
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogGroup,
        "logs_filter_log_events",
        "FilterLogEvents",
        Access::Read,
        READS,
        "Search a log group's events with a filter pattern, in a time range.",
        &[
            GROUP,
            optional("filter_pattern", SHORT, "CloudWatch Logs filter pattern, e.g. `ERROR`."),
            START,
            END,
            optional("limit", Kind::Integer { min: 1, max: 10_000 }, "At most this many events."),
            TOKEN,
        ],
        filter_log_events,
    ),
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogStream,
        "logs_get_log_events",
        "GetLogEvents",
        Access::Read,
        READS,
        "Read the events of one log stream, in a time range.",
        &[
            GROUP,
            STREAM,
            START,
            END,
            optional("limit", Kind::Integer { min: 1, max: 10_000 }, "At most this many events."),
            optional("start_from_head", Kind::Boolean, "Oldest events first (default: newest first)."),
            TOKEN,
        ],
        get_log_events,
    ),
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogGroup,
        "logs_create_log_group",
        "CreateLogGroup",
        Access::Write,
        CREATES,
        "Create a log group.",
        &[GROUP],
        create_log_group,
    ),
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogStream,
        "logs_create_log_stream",
        "CreateLogStream",
        Access::Write,
        CREATES,
        "Create a log stream in a log group.",
        &[GROUP, STREAM],
        create_log_stream,
    ),
    ToolSpec::named_after_action(
        "logs",
        ResourceShape::LogStream,
        "logs_put_log_events",
        "PutLogEvents",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Append events to a log stream.",
        &[
            GROUP,
            STREAM,
            required(
                "log_events",
                Kind::List { max: 10_000 },
                "The events: a list of {\"timestamp\": milliseconds since the epoch, \"message\": text}.",
            ),
        ],
        put_log_events,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &[
    "DescribeLogGroups",
    "DescribeLogStreams",
    "FilterLogEvents",
    "GetLogEvents",
    "CreateLogGroup",
    "CreateLogStream",
    "PutLogEvents",
];

fn group_name(args: &Arguments) -> Result<String, ArgumentError> {
    let text = args.text("log_group_name")?;
    let valid =
        (1..=512).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if !valid {
        return Err(ArgumentError(format!(
            "`log_group_name` must be 1 to 512 letters, digits and `._-/#`; got `{}`",
            super::args::printable(text)
        )));
    }
    Ok(text.to_string())
}

fn stream_name(args: &Arguments) -> Result<String, ArgumentError> {
    let text = args.text("log_stream_name")?;
    let valid = (1..=512).contains(&text.len()) && !text.contains([':', '*']) && !text.chars().any(char::is_control);
    if !valid {
        return Err(ArgumentError(format!(
            "`log_stream_name` must be 1 to 512 characters without `:` or `*`; got `{}`",
            super::args::printable(text)
        )));
    }
    Ok(text.to_string())
}

pub fn group_arn(scope: &Scope, group: &str) -> String {
    format!("arn:{}:logs:{}:{}:log-group:{group}", scope.partition, scope.region, scope.account)
}

pub fn stream_arn(scope: &Scope, group: &str, stream: &str) -> String {
    format!("{}:log-stream:{stream}", group_arn(scope, group))
}

fn describe_log_groups(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let prefix = args.opt_text("log_group_name_prefix").map(str::to_string);
    let limit = args.opt_i32("limit");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .logs
            .describe_log_groups()
            .set_log_group_name_prefix(prefix)
            .set_limit(limit)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let groups: Vec<Value> = out
            .log_groups()
            .iter()
            .map(|g| {
                json!({
                    "name": g.log_group_name(),
                    "arn": g.log_group_arn(),
                    "retention_in_days": g.retention_in_days(),
                    "stored_bytes": g.stored_bytes(),
                    "creation_time": g.creation_time(),
                })
            })
            .collect();
        Ok(output(json!({ "log_groups": groups, "next_token": out.next_token() }), &out))
    }))
}

fn describe_log_streams(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    let limit = args.opt_i32("limit");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec![group_arn(scope, &group)], move |aws, _| async move {
        let out = aws
            .logs
            .describe_log_streams()
            .log_group_name(&group)
            .set_limit(limit)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let streams: Vec<Value> = out
            .log_streams()
            .iter()
            .map(|s| {
                json!({
                    "name": s.log_stream_name(),
                    "creation_time": s.creation_time(),
                    "first_event_timestamp": s.first_event_timestamp(),
                    "last_event_timestamp": s.last_event_timestamp(),
                })
            })
            .collect();
        Ok(output(json!({ "log_group_name": group, "log_streams": streams, "next_token": out.next_token() }), &out))
    }))
}

fn filter_log_events(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    let pattern = args.opt_text("filter_pattern").map(str::to_string);
    let (start, end) = (args.opt_int("start_time"), args.opt_int("end_time"));
    let limit = args.opt_i32("limit");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec![group_arn(scope, &group)], move |aws, _| async move {
        let out = aws
            .logs
            .filter_log_events()
            .log_group_name(&group)
            .set_filter_pattern(pattern)
            .set_start_time(start)
            .set_end_time(end)
            .set_limit(limit)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let events: Vec<Value> = out
            .events()
            .iter()
            .map(|e| json!({ "log_stream_name": e.log_stream_name(), "timestamp": e.timestamp(), "message": e.message() }))
            .collect();
        Ok(output(json!({ "log_group_name": group, "events": events, "next_token": out.next_token() }), &out))
    }))
}

fn get_log_events(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    let stream = stream_name(args)?;
    let (start, end) = (args.opt_int("start_time"), args.opt_int("end_time"));
    let limit = args.opt_i32("limit");
    let head = args.opt_bool("start_from_head");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec![stream_arn(scope, &group, &stream)], move |aws, _| async move {
        let out = aws
            .logs
            .get_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .set_start_time(start)
            .set_end_time(end)
            .set_limit(limit)
            .set_start_from_head(head)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let events: Vec<Value> =
            out.events().iter().map(|e| json!({ "timestamp": e.timestamp(), "message": e.message() })).collect();
        Ok(output(
            json!({
                "log_group_name": group,
                "log_stream_name": stream,
                "events": events,
                "next_forward_token": out.next_forward_token(),
                "next_backward_token": out.next_backward_token(),
            }),
            &out,
        ))
    }))
}

fn create_log_group(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    Ok(Prepared::new(vec![group_arn(scope, &group)], move |aws, _| async move {
        let out =
            aws.logs.create_log_group().log_group_name(&group).send().await.map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "log_group_name": group, "created": true }), &out))
    }))
}

fn create_log_stream(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    let stream = stream_name(args)?;
    Ok(Prepared::new(vec![stream_arn(scope, &group, &stream)], move |aws, _| async move {
        let out = aws
            .logs
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "log_group_name": group, "log_stream_name": stream, "created": true }), &out))
    }))
}

fn put_log_events(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let group = group_name(args)?;
    let stream = stream_name(args)?;
    let list = args.list("log_events")?;
    let mut events = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let timestamp = item.get("timestamp").and_then(Value::as_i64);
        let message = item.get("message").and_then(Value::as_str);
        let (Some(timestamp), Some(message)) = (timestamp, message) else {
            return Err(ArgumentError(format!(
                "`log_events[{index}]` must be {{\"timestamp\": milliseconds since the epoch, \"message\": text}}"
            )));
        };
        let event = InputLogEvent::builder()
            .timestamp(timestamp)
            .message(message)
            .build()
            .map_err(|e| ArgumentError(format!("`log_events[{index}]`: {e}")))?;
        events.push(event);
    }
    if events.is_empty() {
        return Err(ArgumentError("`log_events` is empty: give at least one event".into()));
    }
    let count = events.len();
    Ok(Prepared::new(vec![stream_arn(scope, &group, &stream)], move |aws, _| async move {
        let out = aws
            .logs
            .put_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .set_log_events(Some(events))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let rejected = out.rejected_log_events_info().map(|r| {
            json!({
                "too_new_start_index": r.too_new_log_event_start_index(),
                "too_old_end_index": r.too_old_log_event_end_index(),
                "expired_end_index": r.expired_log_event_end_index(),
            })
        });
        Ok(output(
            json!({ "log_group_name": group, "log_stream_name": stream, "sent": count, "rejected": rejected }),
            &out,
        ))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AssociateKmsKey",
    "AssociateSourceToS3TableIntegration",
    "CallWithBearerToken",
    "CancelExportTask",
    "CancelImportTask",
    "CreateDelivery",
    "CreateExportTask",
    "CreateImportTask",
    "CreateLogAnomalyDetector",
    "CreateLogDelivery",
    "CreateLogGroup",
    "CreateLogStream",
    "CreateLookupTable",
    "CreateScheduledQuery",
    "DeleteAccountPolicy",
    "DeleteDataProtectionPolicy",
    "DeleteDelivery",
    "DeleteDeliveryDestination",
    "DeleteDeliveryDestinationPolicy",
    "DeleteDeliverySource",
    "DeleteDestination",
    "DeleteIndexPolicy",
    "DeleteIntegration",
    "DeleteLogAnomalyDetector",
    "DeleteLogDelivery",
    "DeleteLogGroup",
    "DeleteLogStream",
    "DeleteLookupTable",
    "DeleteMetricFilter",
    "DeletePipelineRule",
    "DeleteQueryDefinition",
    "DeleteResourcePolicy",
    "DeleteRetentionPolicy",
    "DeleteScheduledQuery",
    "DeleteSubscriptionFilter",
    "DeleteTransformer",
    "DescribeAccountPolicies",
    "DescribeConfigurationTemplates",
    "DescribeDeliveries",
    "DescribeDeliveryDestinations",
    "DescribeDeliverySources",
    "DescribeDestinations",
    "DescribeExportTasks",
    "DescribeFieldIndexes",
    "DescribeImportTaskBatches",
    "DescribeImportTasks",
    "DescribeIndexPolicies",
    "DescribeLogGroups",
    "DescribeLogStreams",
    "DescribeLookupTables",
    "DescribeMetricFilters",
    "DescribeQueries",
    "DescribeQueryDefinitions",
    "DescribeResourcePolicies",
    "DescribeSubscriptionFilters",
    "DisassociateKmsKey",
    "DisassociateSourceFromS3TableIntegration",
    "FilterLogEvents",
    "GetDataProtectionPolicy",
    "GetDelivery",
    "GetDeliveryDestination",
    "GetDeliveryDestinationPolicy",
    "GetDeliverySource",
    "GetIntegration",
    "GetLogAnomalyDetector",
    "GetLogDelivery",
    "GetLogEvents",
    "GetLogFields",
    "GetLogGroupFields",
    "GetLogRecord",
    "GetLookupTable",
    "GetQueryResults",
    "GetScheduledQuery",
    "GetScheduledQueryHistory",
    "GetTransformer",
    "IntegrateWithS3Table",
    "Link",
    "ListAggregateLogGroupSummaries",
    "ListAnomalies",
    "ListEntitiesForLogGroup",
    "ListIntegrations",
    "ListLogAnomalyDetectors",
    "ListLogDeliveries",
    "ListLogGroups",
    "ListLogGroupsForEntity",
    "ListLogGroupsForQuery",
    "ListScheduledQueries",
    "ListSourcesForS3TableIntegration",
    "ListTagsForResource",
    "ListTagsLogGroup",
    "ProcessWithPipeline",
    "PutAccountPolicy",
    "PutBearerTokenAuthentication",
    "PutDataProtectionPolicy",
    "PutDeliveryDestination",
    "PutDeliveryDestinationPolicy",
    "PutDeliverySource",
    "PutDestination",
    "PutDestinationPolicy",
    "PutIndexPolicy",
    "PutIntegration",
    "PutLogEvents",
    "PutLogGroupDeletionProtection",
    "PutMetricFilter",
    "PutPipelineRule",
    "PutQueryDefinition",
    "PutResourcePolicy",
    "PutRetentionPolicy",
    "PutSubscriptionFilter",
    "PutTransformer",
    "StartLiveTail",
    "StartQuery",
    "StopLiveTail",
    "StopQuery",
    "TagLogGroup",
    "TagResource",
    "TestMetricFilter",
    "TestTransformer",
    "Unmask",
    "UntagLogGroup",
    "UntagResource",
    "UpdateAnomaly",
    "UpdateDeliveryConfiguration",
    "UpdateLogAnomalyDetector",
    "UpdateLogDelivery",
    "UpdateLookupTable",
    "UpdateScheduledQuery",
];
