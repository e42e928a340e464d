use std::process::ExitCode;

use gantry_server::config::{FileConfig, Overrides};
use gantry_server::ServerConfig;

use crate::cli::{LogFormat, ServerArgs};

/// Logs go to stderr. Colour codes only reach a terminal: in a file or a pipe they are noise
/// that log tools do not strip.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_ansi(false).init(),
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init();
        }
    }
}

pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let config = configure(args)?;
    gantry_server::serve(config).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn worker(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let config = configure(args)?;
    let count = config.workers;
    gantry_server::work(config, count).await?;
    Ok(ExitCode::SUCCESS)
}

fn configure(args: ServerArgs) -> anyhow::Result<ServerConfig> {
    init_logging(args.log_format);
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = ServerConfig::resolve(
        Overrides {
            settings: FileConfig {
                listen: args.listen,
                data_dir: args.data_dir,
                database_url: args.database_url,
                storage_url: args.storage_url,
                max_upload_size: args.max_upload_size,
                public_url: args.public_url,
                workers: args.workers,
                job_lease_seconds: args.job_lease_seconds,
                webhook_retry_schedule: args.webhook_retry_schedule,
                webhook_disable_after: args.webhook_disable_after,
                webhook_timeout_seconds: args.webhook_timeout_seconds,
                webhook_deny_networks: args.webhook_deny_networks,
                outbound_allow_networks: args.outbound_allow_networks,
                trusted_proxies: args.trusted_proxies,
                auth_failure_limit: args.auth_failure_limit,
                auth_failure_window_seconds: args.auth_failure_window_seconds,
                header_timeout_seconds: args.header_timeout_seconds,
                idle_timeout_seconds: args.idle_timeout_seconds,
                body_timeout_seconds: args.body_timeout_seconds,
                max_connections: args.max_connections,
                upload_timeout_seconds: args.upload_timeout_seconds,
                vulndb_url: args.vulndb_url,
                vulndb_sync_interval_seconds: args.vulndb_sync_interval_seconds,
            },
            admin_token: std::env::var("GANTRY_ADMIN_TOKEN").ok(),
        },
        file,
    );
    Ok(config)
}
