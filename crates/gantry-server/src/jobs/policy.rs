//! The policy job: after a package is synced or scanned, its namespace's policies and its
//! repository's promotion rules run (see `crate::policy`).

use std::sync::Arc;

use futures::future::BoxFuture;
use gantry_db::JobRow;
use gantry_jobs::{Completion, Handler, JobContext, JobError};

use crate::app::App;
use crate::pipeline::EvaluatePolicies;

pub(crate) struct EvaluateHandler {
    pub(crate) app: Arc<App>,
}

impl Handler for EvaluateHandler {
    type Job = EvaluatePolicies;

    fn run<'a>(
        &'a self,
        payload: EvaluatePolicies,
        _job: &'a JobRow,
        _ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<Completion, JobError>> {
        Box::pin(async move {
            crate::policy::after_event(&self.app, &payload.slug_perm, &payload.trigger)
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            Ok(Completion::Done)
        })
    }
}
