//! `gantry`: the server, and the client verbs that drive it.

mod cli;
mod commands;
#[cfg(test)]
mod docs_drift;
mod settings;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // The server evaluates policies in child processes of this binary (see
    // gantry_policy::child); that mode is not a CLI verb.
    if std::env::args().nth(1).as_deref() == Some(gantry_policy::child::ARG) {
        let code = gantry_policy::child::main();
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(2));
    }
    let cli = cli::Cli::parse();
    let json = cli.global.output == cli::OutputFormat::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            report(&e, json);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a failure: with `-F json`, the API's error envelope on stdout, so a script that
/// parses stdout gets an object either way; otherwise a line on stderr.
fn report(error: &anyhow::Error, json: bool) {
    let message = format!("{error:#}");
    if !json {
        eprintln!("error: {message}");
        return;
    }
    let code = error
        .chain()
        .find_map(|e| e.downcast_ref::<gantry_client::ClientError>())
        .map_or("failed", gantry_client::ClientError::code);
    let envelope = serde_json::json!({ "error": { "code": code, "message": message } });
    println!("{envelope}");
}
