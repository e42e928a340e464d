//! The policy job: after a package is synced or scanned, its namespace's policies and its
//! repository's promotion rules run (see `crate::policy`).

use std::sync::Arc;

use gantry_db::JobRow;
use gantry_jobs::{Completion, JobContext, JobError};

use super::{AppJob, JobResult};
use crate::app::App;
use crate::pipeline::EvaluatePolicies;

impl AppJob for EvaluatePolicies {
    async fn run(self, app: &Arc<App>, _job: &JobRow, _ctx: &JobContext) -> JobResult {
        crate::policy::after_event(app, &self.slug_perm, &self.trigger)
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
        Ok(Completion::Done)
    }
}
