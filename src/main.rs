//! The `awsgate` binary: parse the command line, run, map the outcome to an exit code
//! (0 ok, 1 a check failed or invalid input, 2 usage error).

use std::process::ExitCode;

use clap::Parser;

use awsgate::cli::{self, Cli, CliError, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            let stderr = &mut std::io::stderr();
            match &error {
                CliError::Policy(policy_error) => {
                    let _ = cli::report(policy_error, stderr);
                }
                other => eprintln!("awsgate: {other}"),
            }
            ExitCode::from(1)
        }
    }
}
