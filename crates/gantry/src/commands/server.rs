use std::process::ExitCode;

use gantry_server::config::{FileConfig, Overrides};
use gantry_server::ServerConfig;

use crate::cli::ServerArgs;

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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let config = ServerConfig::resolve(
        Overrides {
            listen: args.listen,
            data_dir: args.data_dir,
            database_url: args.database_url,
            storage_url: args.storage_url,
            max_upload_size: args.max_upload_size,
            public_url: args.public_url,
            admin_token: std::env::var("GANTRY_ADMIN_TOKEN").ok(),
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
        file,
    );
    Ok(config)
}
