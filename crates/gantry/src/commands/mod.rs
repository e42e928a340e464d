//! One function per verb.

mod access;
mod client;
mod evidence;
mod exceptions;
mod maintenance;
mod packages;
mod policy;
mod policy_examples;
mod progress;
mod security;
mod server;
mod webhooks;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Server(args) => server::run(args).await,
        Command::Worker(args) => server::worker(args).await,
        Command::Admin(crate::cli::AdminCommand::Routes) => {
            let routes: Vec<serde_json::Value> = gantry_server::route_table()
                .into_iter()
                .map(|(method, path)| serde_json::json!({ "method": method, "path": path }))
                .collect();
            println!("{}", serde_json::to_string_pretty(&routes)?);
            Ok(ExitCode::SUCCESS)
        }
        command => client::run(&cli.global, command).await,
    }
}
