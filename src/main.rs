//! The `awsgate` binary: parse the command line, run, map the outcome to an exit code
//! (0 ok, 1 a check failed or invalid input, 2 usage error).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use awsgate::cli::{self, Cli, CliError, Outcome};
use awsgate::gateway;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // stdout may carry MCP: logs go to stderr only, and never block or panic.
    awsgate::logs::init();
    let code = run(cli);
    awsgate::logs::drain();
    code
}

fn run(cli: Cli) -> ExitCode {
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            let stderr = &mut std::io::stderr();
            match &error {
                CliError::Policy(policy_error) | CliError::Serve(gateway::ServeError::Policy(policy_error)) => {
                    let _ = cli::report(policy_error, stderr);
                }
                CliError::Serve(gateway::ServeError::Agents(agents_error)) => {
                    let _ = cli::report_agents(agents_error, stderr);
                }
                CliError::Unjudged(why) => {
                    let _ = writeln!(stderr, "awsgate: {}", awsgate::policy::terminal_safe(why));
                    return ExitCode::from(2);
                }
                other => {
                    let _ = writeln!(stderr, "awsgate: {}", awsgate::policy::terminal_safe(&other.to_string()));
                }
            }
            ExitCode::from(1)
        }
    }
}
