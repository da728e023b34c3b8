//! The `awsgate` binary: parse the command line, run, map the outcome to an exit code
//! (0 ok, 1 a check failed or invalid input, 2 usage error).

use std::process::ExitCode;

use clap::Parser;

use awsgate::cli::{self, Cli, CliError, Outcome};
use awsgate::mcp;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // stdout may carry MCP: logs go to stderr only. `AWSGATE_LOG` sets the level.
    let filter = tracing_subscriber::EnvFilter::try_from_env("AWSGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("awsgate=info,warn"));
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).with_ansi(false).init();
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            let stderr = &mut std::io::stderr();
            match &error {
                CliError::Policy(policy_error) | CliError::Serve(mcp::ServeError::Policy(policy_error)) => {
                    let _ = cli::report(policy_error, stderr);
                }
                other => eprintln!("awsgate: {}", awsgate::policy::terminal_safe(&other.to_string())),
            }
            ExitCode::from(1)
        }
    }
}
