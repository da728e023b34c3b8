//! Prometheus metrics (`--metrics-listen`), in the OpenMetrics text format of the
//! `prometheus-client` crate. Labels come only from the catalog and the services' models
//! (actions), the agents file (agents) and fixed sets (decisions, outcomes, transports,
//! results); an AWS error code is kept only when it looks like one, and only the first
//! [`MAX_CODES`] distinct codes, so no client can grow the series without bound.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// Most distinct AWS error codes given a series of their own; the rest are `other`.
const MAX_CODES: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    agent: String,
    action: String,
    decision: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgentLabels {
    agent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShadowLabels {
    agent: String,
    from: String,
    to: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Family<TransportLabels, Histogram>,
    aws_errors: Family<CodeLabels, Counter>,
    approvals_pending: Gauge,
    rate_limited: Family<AgentLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    store_errors: Counter,
    shadow: Family<ShadowLabels, Counter>,
    codes: Mutex<HashSet<String>>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::default();
    let calls = Family::<CallLabels, Counter>::default();
    registry.register("awsgate_calls", "Calls that ended, by agent, action, decision and outcome", calls.clone());
    let durations = Family::<TransportLabels, Histogram>::new_with_constructor(|| {
        Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
    });
    registry.register("awsgate_call_duration_seconds", "How long calls took, by transport", durations.clone());
    let aws_errors = Family::<CodeLabels, Counter>::default();
    registry.register("awsgate_aws_errors", "Errors AWS answered, by code", aws_errors.clone());
    let approvals_pending = Gauge::default();
    registry.register(
        "awsgate_approvals_pending",
        "Approvals open in the console (with --store, those this replica's calls wait on, so that the replicas add up)",
        approvals_pending.clone(),
    );
    let rate_limited = Family::<AgentLabels, Counter>::default();
    registry.register("awsgate_rate_limited", "Calls refused by calls_per_minute, by agent", rate_limited.clone());
    let store_errors = Counter::<u64>::default();
    registry.register("awsgate_store_errors", "Failed requests to the shared store", store_errors.clone());
    let shadow = Family::<ShadowLabels, Counter>::default();
    registry.register(
        "awsgate_shadow_disagreements",
        "Decisions the shadow policy would have made otherwise, by agent and from (in force) to (shadow)",
        shadow.clone(),
    );
    let reloads = Family::<ResultLabels, Counter>::default();
    registry.register("awsgate_policy_reloads", "Reloads of the policy or agents file, by result", reloads.clone());
    let build = Family::<VersionLabels, Gauge>::default();
    build.get_or_create(&VersionLabels { version: env!("CARGO_PKG_VERSION").to_string() }).set(1);
    registry.register("awsgate_build_info", "The running build", build);
    Metrics {
        registry,
        calls,
        durations,
        aws_errors,
        approvals_pending,
        rate_limited,
        reloads,
        store_errors,
        shadow,
        codes: Mutex::default(),
    }
});

/// A call ended: what its result record says.
pub fn call_ended(
    agent: &str,
    action: &str,
    decision: &str,
    outcome: &str,
    transport: &str,
    seconds: f64,
    error: Option<&str>,
) {
    let metrics = &*METRICS;
    let labels = CallLabels {
        agent: agent.to_string(),
        action: action.to_string(),
        decision: decision.to_string(),
        outcome: outcome.to_string(),
    };
    metrics.calls.get_or_create(&labels).inc();
    metrics.durations.get_or_create(&TransportLabels { transport: transport.to_string() }).observe(seconds);
    if outcome == "rate_limited" {
        metrics.rate_limited.get_or_create(&AgentLabels { agent: agent.to_string() }).inc();
    }
    // Only AWS's codes: awsgate's own refusals have their own series.
    if outcome == "error"
        && let Some(code) = error.filter(|code| !matches!(*code, "Unavailable" | "AuditUnavailable"))
    {
        let code = bounded_code(metrics, code);
        metrics.aws_errors.get_or_create(&CodeLabels { code }).inc();
    }
}

/// The shadow policy disagreed: the policy in force said `from`, the shadow `to`.
pub fn shadow_disagreed(agent: &str, from: &'static str, to: &'static str) {
    let labels = ShadowLabels { agent: agent.to_string(), from: from.to_string(), to: to.to_string() };
    METRICS.shadow.get_or_create(&labels).inc();
}

/// A request to the shared store failed.
pub fn store_error() {
    METRICS.store_errors.inc();
}

/// A reload of the policy or the agents file: `ok` or `refused`.
pub fn reloaded(ok: bool) {
    let result = if ok { "ok" } else { "refused" };
    METRICS.reloads.get_or_create(&ResultLabels { result: result.to_string() }).inc();
}

/// An AWS error code as a label: letters, digits and `.`, at most 64, among the first
/// [`MAX_CODES`] seen; else `other`.
fn bounded_code(metrics: &Metrics, code: &str) -> String {
    let plausible = (1..=64).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !plausible {
        return "other".into();
    }
    let Ok(mut codes) = metrics.codes.lock() else { return "other".into() };
    if codes.contains(code) || codes.len() < MAX_CODES {
        codes.insert(code.to_string());
        code.to_string()
    } else {
        "other".into()
    }
}

/// What the metrics listener asks of the gateway at each scrape.
#[derive(Clone)]
pub struct Probes {
    /// Why calls cannot be served now, if they cannot (`/readyz`).
    pub trouble: Arc<dyn Fn() -> Option<String> + Send + Sync>,
    /// The same, of this replica alone, not counting the shared store (`/readyz/replica`).
    pub replica_trouble: Arc<dyn Fn() -> Option<String> + Send + Sync>,
    /// How many approvals wait in the console.
    pub approvals_pending: Arc<dyn Fn() -> usize + Send + Sync>,
}

/// The metrics text, with the gauges read now.
pub fn render(probes: &Probes) -> String {
    let metrics = &*METRICS;
    metrics.approvals_pending.set(i64::try_from((probes.approvals_pending)()).unwrap_or(i64::MAX));
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &metrics.registry).is_err() {
        text.clear();
    }
    text
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown`.
pub async fn serve(listener: tokio::net::TcpListener, probes: Probes, shutdown: CancellationToken) {
    let metrics_probes = probes.clone();
    let router = Router::new()
        .route(
            "/metrics",
            get(move || {
                let probes = metrics_probes.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
                        render(&probes),
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { health(None) }))
        .route("/readyz", {
            let probes = probes.clone();
            get(move || {
                let probes = probes.clone();
                async move { health(Some((probes.trouble)())) }
            })
        })
        .route(
            "/readyz/replica",
            get(move || {
                let probes = probes.clone();
                async move { health(Some((probes.replica_trouble)())) }
            }),
        );
    let served = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await });
    if let Err(error) = served.await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

/// `/healthz` (`None`) or `/readyz` (`Some(trouble)`).
pub fn health(readiness: Option<Option<String>>) -> Response {
    let (status, body) = match readiness {
        None => (StatusCode::OK, serde_json::json!({ "ok": true })),
        Some(None) => (StatusCode::OK, serde_json::json!({ "ready": true })),
        Some(Some(reason)) => {
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "ready": false, "reason": reason }))
        }
    };
    (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
        .into_response()
}

/// Binds the metrics listener.
pub async fn bind(address: &str) -> Result<tokio::net::TcpListener, String> {
    let addr: SocketAddr =
        address.parse().map_err(|_| format!("`--metrics-listen {address}` is not an address like 127.0.0.1:9464"))?;
    tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))
}
