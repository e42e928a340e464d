//! The policy job: after a package is synced or scanned, its namespace's policies and its
//! repository's promotion rules run (see `crate::policy`).

use std::sync::Arc;

use futures::future::BoxFuture;
use gantry_db::JobRow;
use gantry_jobs::{Completion, JobContext, JobError, JobHandler};

use crate::app::App;

pub(crate) struct EvaluateHandler {
    pub(crate) app: Arc<App>,
}

impl JobHandler for EvaluateHandler {
    fn run<'a>(
        &'a self,
        job: &'a JobRow,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<Completion, JobError>> {
        Box::pin(async move {
            let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
            let (Some(slug), Some(trigger)) =
                (payload["slug_perm"].as_str(), payload["trigger"].as_str())
            else {
                return Err(JobError::Fatal(
                    "the job names no package or trigger".into(),
                ));
            };
            crate::policy::after_event(&self.app, slug, trigger)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            Ok(Completion::Done)
        })
    }
}
