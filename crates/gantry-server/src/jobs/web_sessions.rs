//! The periodic sweep of web sessions (`web.sessions_sweep`): sessions nobody comes back to
//! are never visited by a request, so a scheduled job deletes them once they expired or idled
//! out. One outstanding job across replicas; each run schedules the next.

use std::sync::Arc;
use std::time::Duration;

use gantry_db::JobRow;
use gantry_jobs::{Completion, JobContext, JobError};

use crate::app::App;
use crate::jobs::{interval_from_env, periodic_job, schedule_round, AppJob, JobResult};

/// Seconds between sweeps unless `GANTRY_WEB_SESSION_SWEEP_SECONDS` says otherwise.
const DEFAULT_INTERVAL: u64 = 3600;

periodic_job!(SweepSessions, "web.sessions_sweep");

fn interval() -> Duration {
    interval_from_env("GANTRY_WEB_SESSION_SWEEP_SECONDS", DEFAULT_INTERVAL)
}

/// Makes sure a sweep is scheduled (at start).
pub(crate) async fn schedule(app: &App) -> anyhow::Result<()> {
    schedule_round::<SweepSessions>(app, interval(), None).await?;
    Ok(())
}

impl AppJob for SweepSessions {
    async fn run(self, app: &Arc<App>, job: &JobRow, _ctx: &JobContext) -> JobResult {
        let now = gantry_core::time::now_millis();
        let removed = gantry_web::sweep_expired_sessions(&app.db, now)
            .await
            .map_err(JobError::retry)?;
        if removed > 0 {
            tracing::info!(removed, "swept expired web sessions");
        }
        schedule_round::<Self>(app, interval(), Some(job.id))
            .await
            .map_err(JobError::retry)?;
        Ok(Completion::Done)
    }
}
