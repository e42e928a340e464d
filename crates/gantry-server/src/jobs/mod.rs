//! Background jobs of the server: package sync, webhook fan-out and delivery. Each runs
//! through the durable queue of `gantry-jobs`, in `gantry server` or in `gantry worker`.

pub(crate) mod policy;
pub(crate) mod scan;
pub(crate) mod scan_batch;
pub(crate) mod scan_cache;
pub(crate) mod sync;
pub(crate) mod web_sessions;
pub(crate) mod webhooks;

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use gantry_db::JobRow;
use gantry_jobs::{
    Completion, Handler, Job, JobContext, JobError, Registry, WorkerConfig, Workers,
};

use crate::app::App;

pub(crate) type JobResult = Result<Completion, JobError>;

/// The interval of a periodic job: `var` in seconds when set (and above zero), else
/// `default_secs`.
pub(crate) fn interval_from_env(var: &str, default_secs: u64) -> Duration {
    let secs = std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(default_secs);
    Duration::from_secs(secs)
}

/// Declares the payload of a periodic job kind: no fields (each round reads what it needs when
/// it runs) and few attempts (the next round comes anyway). Each round schedules the next
/// with [`schedule_round`], so one round is outstanding across replicas.
macro_rules! periodic_job {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
        pub(crate) struct $name {}

        impl gantry_jobs::Job for $name {
            const KIND: &'static str = $kind;
            const MAX_ATTEMPTS: i64 = 3;
        }
    };
}
pub(crate) use periodic_job;

/// Schedules a round of the periodic job `J` to run `after` from now; `replacing` is the
/// round that schedules it (`None` at start).
pub(crate) async fn schedule_round<J: Job + Default>(
    app: &App,
    after: Duration,
    replacing: Option<i64>,
) -> gantry_db::Result<bool> {
    let mut job = J::default().to_new_job();
    let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    job.run_at = Some(gantry_core::time::now_millis().saturating_add(after));
    app.db.schedule_job(&job, replacing).await
}

/// A job kind the server runs with the app at hand. It is implemented on the payload type, so
/// a kind needs no handler struct of its own.
pub(crate) trait AppJob: Job {
    fn run(
        self,
        app: &Arc<App>,
        job: &JobRow,
        ctx: &JobContext,
    ) -> impl Future<Output = JobResult> + Send;
}

/// The [`Handler`] of an [`AppJob`] kind.
struct OnApp<J> {
    app: Arc<App>,
    kind: PhantomData<fn() -> J>,
}

impl<J: AppJob> Handler for OnApp<J> {
    type Job = J;

    fn run<'a>(
        &'a self,
        payload: J,
        job: &'a JobRow,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, JobResult> {
        Box::pin(payload.run(&self.app, job, ctx))
    }
}

fn on_app<J: AppJob>(app: &Arc<App>) -> OnApp<J> {
    OnApp {
        app: Arc::clone(app),
        kind: PhantomData,
    }
}

pub(crate) fn start_workers(app: &Arc<App>, count: usize, name: &str) -> Workers {
    let mut registry = Registry::new();
    registry.add(on_app::<crate::pipeline::SyncPackage>(app));
    registry.add(on_app::<crate::pipeline::ScanPackage>(app));
    registry.add(on_app::<scan_batch::ScanBatch>(app));
    registry.add(on_app::<crate::pipeline::EvaluatePolicies>(app));
    registry.add(on_app::<crate::vulndb::VulndbSync>(app));
    registry.add(on_app::<crate::vex::ExpireExceptions>(app));
    registry.add(on_app::<crate::retention::RetentionRound>(app));
    registry.add(on_app::<web_sessions::SweepSessions>(app));
    registry.add(on_app::<webhooks::Dispatch>(app));
    registry.add(on_app::<webhooks::Deliver>(app));
    // A job may change what this process caches (a sync completes a package, a policy
    // quarantines one): forget it at once instead of waiting for the change counter's poll.
    let caches = Arc::clone(&app.caches);
    registry.after_each(Arc::new(move || caches.invalidate()));
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
