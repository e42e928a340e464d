//! Background jobs of the server: package sync, webhook fan-out and delivery. Each runs
//! through the durable queue of `gantry-jobs`, in `gantry server` or in `gantry worker`.

pub(crate) mod policy;
pub(crate) mod scan;
pub(crate) mod sync;
pub(crate) mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use gantry_jobs::{Registry, WorkerConfig, Workers};

use crate::app::App;

pub(crate) fn start_workers(app: &Arc<App>, count: usize, name: &str) -> Workers {
    let mut registry = Registry::new();
    registry.add(sync::SyncHandler {
        app: Arc::clone(app),
    });
    registry.add(scan::ScanHandler {
        app: Arc::clone(app),
    });
    registry.add(policy::EvaluateHandler {
        app: Arc::clone(app),
    });
    registry.add(crate::vulndb::SyncHandler {
        app: Arc::clone(app),
    });
    registry.add(webhooks::DispatchHandler {
        app: Arc::clone(app),
    });
    registry.add(webhooks::DeliverHandler {
        app: Arc::clone(app),
    });
    let config = WorkerConfig {
        workers: count,
        lease: Duration::from_secs(app.config.job_lease_seconds),
        poll_interval: Duration::from_millis(500)
            .min(Duration::from_secs(app.config.job_lease_seconds)),
        ..WorkerConfig::default()
    };
    Workers::start(
        app.db.clone(),
        Arc::new(registry),
        config,
        Arc::clone(&app.wake),
        name,
    )
}
