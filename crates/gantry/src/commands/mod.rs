//! One function per verb.

mod access;
mod client;
mod server;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Server(args) => server::run(args).await,
        Command::Worker(args) => server::worker(args).await,
        command => client::run(&cli.global, command).await,
    }
}
