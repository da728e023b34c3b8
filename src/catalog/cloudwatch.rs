//! Amazon CloudWatch metrics. AWS scopes none of these actions to a resource: they are
//! requests on `*`. `cloudwatch:namespace` (a condition key) names the namespace a
//! `cloudwatch_put_metric_data` call writes to, so a policy can limit it.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit};
use serde_json::{Map, Value, json};

use super::args::{ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "cloudwatch_list_metrics",
        service: "cloudwatch",
        operation: "ListMetrics",
        action: "ListMetrics",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List metrics, optionally of one namespace or name.",
        args: &[
            optional("namespace", SHORT, "Only this namespace, e.g. `AWS/Lambda`."),
            optional("metric_name", SHORT, "Only metrics of this name."),
            optional("next_token", SHORT, "`next_token` of the previous page."),
        ],
        prepare: list_metrics,
    },
    ToolSpec {
        name: "cloudwatch_get_metric_data",
        service: "cloudwatch",
        operation: "GetMetricData",
        action: "GetMetricData",
        access: Access::Read,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "Read metric values over a time range.",
        args: &[
            required(
                "metric_data_queries",
                Kind::List { max: 500 },
                "A list of {\"id\", \"namespace\", \"metric_name\", \"dimensions\": {name: value}, \"stat\" (e.g. Average), \"period\" (seconds)}.",
            ),
            required(
                "start_time",
                Kind::Integer { min: 0, max: i64::MAX },
                "From this time, in seconds since the epoch.",
            ),
            required(
                "end_time",
                Kind::Integer { min: 0, max: i64::MAX },
                "Before this time, in seconds since the epoch.",
            ),
            optional("max_datapoints", Kind::Integer { min: 1, max: 100_800 }, "At most this many data points."),
            optional("next_token", SHORT, "`next_token` of the previous page."),
        ],
        prepare: get_metric_data,
    },
    ToolSpec {
        name: "cloudwatch_put_metric_data",
        service: "cloudwatch",
        operation: "PutMetricData",
        action: "PutMetricData",
        access: Access::Write,
        resource: ResourceShape::None,
        annotations: Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        summary: "Publish metric values to a namespace.",
        args: &[
            required("namespace", SHORT, "The namespace, e.g. `Agents/Orders` (not `AWS/...`)."),
            required(
                "metric_data",
                Kind::List { max: 1000 },
                "A list of {\"metric_name\", \"value\", \"unit\" (optional, e.g. Count), \"dimensions\": {name: value} (optional), \"timestamp\" (optional, seconds since the epoch)}.",
            ),
        ],
        prepare: put_metric_data,
    },
];

pub const TOOL_ACTIONS: &[&str] = &["ListMetrics", "GetMetricData", "PutMetricData"];

fn item_text<'v>(item: &'v Value, field: &str, at: &str) -> Result<&'v str, ArgumentError> {
    item.get(field).and_then(Value::as_str).ok_or_else(|| ArgumentError(format!("`{at}.{field}` must be text")))
}

fn dimensions(item: &Value, at: &str) -> Result<Vec<Dimension>, ArgumentError> {
    let Some(map) = item.get("dimensions") else { return Ok(Vec::new()) };
    let map: &Map<String, Value> =
        map.as_object().ok_or_else(|| ArgumentError(format!("`{at}.dimensions` must be an object of name: value")))?;
    map.iter()
        .map(|(name, value)| {
            let value =
                value.as_str().ok_or_else(|| ArgumentError(format!("`{at}.dimensions.{name}` must be text")))?;
            Ok(Dimension::builder().name(name).value(value).build())
        })
        .collect()
}

fn list_metrics(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let namespace = args.opt_text("namespace").map(str::to_string);
    let name = args.opt_text("metric_name").map(str::to_string);
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .cloudwatch
            .list_metrics()
            .set_namespace(namespace)
            .set_metric_name(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let metrics: Vec<Value> = out
            .metrics()
            .iter()
            .map(|m| {
                let dimensions: Map<String, Value> = m
                    .dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap_or_default().to_string(), json!(d.value())))
                    .collect();
                json!({ "namespace": m.namespace(), "metric_name": m.metric_name(), "dimensions": dimensions })
            })
            .collect();
        Ok(output(json!({ "metrics": metrics, "next_token": out.next_token() }), &out))
    }))
}

fn get_metric_data(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let mut queries = Vec::new();
    for (index, item) in args.list("metric_data_queries")?.iter().enumerate() {
        let at = format!("metric_data_queries[{index}]");
        let metric = Metric::builder()
            .namespace(item_text(item, "namespace", &at)?)
            .metric_name(item_text(item, "metric_name", &at)?)
            .set_dimensions(Some(dimensions(item, &at)?))
            .build();
        let period = item
            .get("period")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| ArgumentError(format!("`{at}.period` must be a positive number of seconds")))?;
        let stat = MetricStat::builder().metric(metric).period(period).stat(item_text(item, "stat", &at)?).build();
        queries.push(MetricDataQuery::builder().id(item_text(item, "id", &at)?).metric_stat(stat).build());
    }
    let start = DateTime::from_secs(args.opt_int("start_time").unwrap_or_default());
    let end = DateTime::from_secs(args.opt_int("end_time").unwrap_or_default());
    let max = args.opt_i32("max_datapoints");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(start)
            .end_time(end)
            .set_max_datapoints(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let results: Vec<Value> = out
            .metric_data_results()
            .iter()
            .map(|r| {
                let times: Vec<i64> = r.timestamps().iter().map(DateTime::secs).collect();
                json!({ "id": r.id(), "label": r.label(), "timestamps": times, "values": r.values() })
            })
            .collect();
        Ok(output(json!({ "results": results, "next_token": out.next_token() }), &out))
    }))
}

fn put_metric_data(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let namespace = args.text("namespace")?.to_string();
    if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with("AWS/") {
        return Err(ArgumentError(format!(
            "`namespace` must be 1 to 255 characters and not start with `AWS/`; got `{}`",
            super::args::printable(&namespace)
        )));
    }
    let mut data = Vec::new();
    for (index, item) in args.list("metric_data")?.iter().enumerate() {
        let at = format!("metric_data[{index}]");
        let value = item
            .get("value")
            .and_then(Value::as_f64)
            .ok_or_else(|| ArgumentError(format!("`{at}.value` must be a number")))?;
        let unit = match item.get("unit") {
            None => None,
            Some(Value::String(unit)) if StandardUnit::values().contains(&unit.as_str()) => {
                Some(StandardUnit::from(unit.as_str()))
            }
            Some(_) => {
                return Err(ArgumentError(format!("`{at}.unit` must be one of {}", StandardUnit::values().join(", "))));
            }
        };
        let timestamp = item.get("timestamp").and_then(Value::as_i64).map(DateTime::from_secs);
        data.push(
            MetricDatum::builder()
                .metric_name(item_text(item, "metric_name", &at)?)
                .value(value)
                .set_unit(unit)
                .set_timestamp(timestamp)
                .set_dimensions(Some(dimensions(item, &at)?))
                .build(),
        );
    }
    if data.is_empty() {
        return Err(ArgumentError("`metric_data` is empty: give at least one value".into()));
    }
    let count = data.len();
    let key = vec![namespace.clone()];
    let prepared = Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .cloudwatch
            .put_metric_data()
            .namespace(&namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "namespace": namespace, "sent": count }), &out))
    });
    Ok(prepared.with_key("cloudwatch:namespace", Some(key)))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "BatchGetServiceLevelIndicatorReport",
    "BatchGetServiceLevelObjectiveBudgetReport",
    "CreateServiceLevelObjective",
    "DeleteAlarmMuteRule",
    "DeleteAlarms",
    "DeleteAnomalyDetector",
    "DeleteDashboards",
    "DeleteInsightRules",
    "DeleteMetricStream",
    "DeleteServiceLevelObjective",
    "DescribeAlarmHistory",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAnomalyDetectors",
    "DescribeInsightRules",
    "DisableAlarmActions",
    "DisableInsightRules",
    "EnableAlarmActions",
    "EnableInsightRules",
    "EnableTopologyDiscovery",
    "GenerateQuery",
    "GenerateQueryResultsSummary",
    "GetAlarmMuteRule",
    "GetDashboard",
    "GetInsightRuleReport",
    "GetMetricData",
    "GetMetricStatistics",
    "GetMetricStream",
    "GetMetricWidgetImage",
    "GetService",
    "GetServiceData",
    "GetServiceLevelObjective",
    "GetTopologyDiscoveryStatus",
    "GetTopologyMap",
    "Link",
    "ListAlarmMuteRules",
    "ListDashboards",
    "ListEntitiesForMetric",
    "ListManagedInsightRules",
    "ListMetricStreams",
    "ListMetrics",
    "ListServiceLevelObjectives",
    "ListServices",
    "ListTagsForResource",
    "PutAlarmMuteRule",
    "PutAnomalyDetector",
    "PutCompositeAlarm",
    "PutDashboard",
    "PutInsightRule",
    "PutManagedInsightRules",
    "PutMetricAlarm",
    "PutMetricData",
    "PutMetricStream",
    "SetAlarmState",
    "StartMetricStreams",
    "StopMetricStreams",
    "TagResource",
    "UntagResource",
    "UpdateServiceLevelObjective",
];
