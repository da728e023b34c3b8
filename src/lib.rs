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
//! * [`cli`]: the `awsgate` subcommands other than `serve`, over the two above.
//!
//! `src/main.rs` only parses the command line and maps errors to exit codes.

pub mod audit;
pub mod aws;
pub mod catalog;
pub mod cli;
pub mod conditions;
pub mod console;
pub mod logs;
pub mod mcp;
pub mod pipeline;
pub mod policy;
pub mod reload;
pub mod sidecar;
