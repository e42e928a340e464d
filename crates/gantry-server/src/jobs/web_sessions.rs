//! The periodic sweep of web sessions (`web.sessions_sweep`): sessions nobody comes back to
//! are never visited by a request, so a scheduled job deletes them once they expired or idled
//! out. One outstanding job across replicas; each run schedules the next.

use std::sync::Arc;

use gantry_db::JobRow;
use gantry_jobs::{Completion, Job, JobContext, JobError};

use crate::app::App;
use crate::jobs::{interval_from_env, AppJob, JobResult};

/// Seconds between sweeps unless `GANTRY_WEB_SESSION_SWEEP_SECONDS` says otherwise.
const DEFAULT_INTERVAL: u64 = 3600;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SweepSessions {}

impl Job for SweepSessions {
    const KIND: &'static str = "web.sessions_sweep";
    const MAX_ATTEMPTS: i64 = 3;
}

fn next_run() -> i64 {
    let interval = interval_from_env("GANTRY_WEB_SESSION_SWEEP_SECONDS", DEFAULT_INTERVAL);
    let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    gantry_core::time::now_millis().saturating_add(interval)
}

/// Makes sure a sweep is scheduled (at start).
pub(crate) async fn schedule(app: &App) -> anyhow::Result<()> {
    let mut job = SweepSessions {}.to_new_job();
    job.run_at = Some(next_run());
    app.db.schedule_job(&job, None).await?;
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
        let mut next = SweepSessions {}.to_new_job();
        next.run_at = Some(next_run());
        app.db
            .schedule_job(&next, Some(job.id))
            .await
            .map_err(JobError::retry)?;
        Ok(Completion::Done)
    }
}
