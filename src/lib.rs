//! awsgate: an MCP server that gives AI agents AWS access without handing them the keys.
//!
//! # Layout
//!
//! The major components are:
//!
//! * [`policy`]: the gate, pure. Parses and validates policy files (awsgate's YAML/JSON and
//!   plain IAM documents) with located diagnostics, compiles them once, and decides
//!   requests with IAM's semantics. Imports nothing else of this crate.
//! * [`catalog`]: the one registry of supported tools, one entry per AWS operation, with
//!   its IAM action, resource shape and annotations, plus every IAM action name of the
//!   supported services. It hands the gate its [`policy::Vocabulary`].
//! * [`agents`]: the agents file (`serve --agents`): each agent's policy and credentials.
//! * [`pipeline`]: the steps every call takes, whichever front door it came through, and
//!   [`pipeline::Live`], the pipeline in force (a reload swaps it).
//! * [`mcp`] and [`sidecar`]: the two front doors (MCP; the AWS wire protocols);
//!   [`guard`]: the Host, Origin and bearer-token checks of every HTTP route; [`slots`]: the
//!   connection slots of the HTTP listeners, so idle sockets lock no one out.
//! * [`console`]: the operator's side: approvals for calls from either door, the page at
//!   `/console` and its JSON API, the webhook.
//! * [`audit`]: records, their hash chain, `audit verify` and `audit suggest`.
//! * [`reload`]: re-reading the policy on SIGHUP or `--watch`.
//! * [`aws`], [`conditions`]: credentials and SDK clients; the condition keys of a call.
//! * [`gateway`]: `serve`, composed: the agents and their pipelines, the audit log, the
//!   console, the front doors and the reload. The only module above the front doors.
//! * [`cli`]: the `awsgate` subcommands other than `serve`.
//!
//! `src/main.rs` only parses the command line and maps errors to exit codes.

pub mod agents;
pub mod audit;
pub mod aws;
pub mod catalog;
pub mod cli;
pub mod conditions;
pub mod console;
pub mod forwarded;
pub mod gateway;
pub mod guard;
pub mod json;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod oidc;
pub mod pipeline;
pub mod policy;
pub mod reload;
pub mod sidecar;
pub mod slots;
pub mod store;
