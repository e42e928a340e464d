//! Workers for Gantry's durable job queue (the queue itself is rows in `gantry-db`).
//!
//! A worker claims one job at a time with a lease, renews the lease while the handler runs,
//! and on failure puts the job back with exponential back-off (or the delay the handler asks
//! for) until its attempts are used up, when the job is marked dead with its last error.
//! Handlers that change data complete their job inside the same transaction, which is what
//! makes a job re-run after a crash take effect once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use gantry_db::{Db, JobRow, NewJob};
use rand::Rng;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// How a handler finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The handler completed the job in its own transaction.
    Completed,
    /// The worker should complete the job.
    Done,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    /// Worth trying again, after `after` or the default back-off.
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Never worth trying again.
    #[error("{0}")]
    Fatal(String),
}

impl JobError {
    pub fn retry(message: impl std::fmt::Display) -> Self {
        JobError::Retry {
            message: message.to_string(),
            after: None,
        }
    }
}

/// What a handler knows of the worker running it.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub worker_id: String,
}

pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        job: &'a JobRow,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<Completion, JobError>>;
}

/// A kind of job: a payload type, stored as JSON in the queue. Each kind lives beside the
/// handler that runs it; enqueue one with [`Job::to_new_job`] inside the transaction of the
/// change that causes it.
pub trait Job: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// The kind stored in the queue; never change it once jobs of it may be queued.
    const KIND: &'static str;
    /// Attempts before the job is marked dead.
    const MAX_ATTEMPTS: i64 = 5;

    fn to_new_job(&self) -> NewJob {
        // A payload of plain fields always serialises; should it not, the job fails loudly
        // when it is read back rather than running with made-up values.
        let payload = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        NewJob::new(Self::KIND, payload, Self::MAX_ATTEMPTS)
    }
}

/// Runs the jobs of one [`Job`] kind, handed their payload already parsed.
pub trait Handler: Send + Sync + 'static {
    type Job: Job;

    fn run<'a>(
        &'a self,
        payload: Self::Job,
        job: &'a JobRow,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<Completion, JobError>>;
}

/// Parses the payload for a typed handler: a payload that does not parse fails the job for
/// good, with the reason, instead of running it with empty values.
struct Typed<H>(H);

impl<H: Handler> JobHandler for Typed<H> {
    fn run<'a>(
        &'a self,
        job: &'a JobRow,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<Completion, JobError>> {
        match serde_json::from_str::<H::Job>(&job.payload) {
            Ok(payload) => self.0.run(payload, job, ctx),
            Err(e) => {
                let message = format!("bad payload for {} job: {e}", H::Job::KIND);
                Box::pin(async move { Err(JobError::Fatal(message)) })
            }
        }
    }
}

/// Handlers by job kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    after_each: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, kind: &'static str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind, handler);
    }

    /// Registers a typed handler under its job's kind.
    pub fn add<H: Handler>(&mut self, handler: H) {
        self.handlers.insert(H::Job::KIND, Arc::new(Typed(handler)));
    }

    /// Runs `hook` after every handler run, whatever its outcome (the server forgets its
    /// cached rows then, since a job may have changed them).
    pub fn after_each(&mut self, hook: Arc<dyn Fn() + Send + Sync>) {
        self.after_each = Some(hook);
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Concurrent workers; 0 runs none.
    pub workers: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_interval: Duration,
    /// How long a claim holds before another worker may take the job over.
    pub lease: Duration,
    /// First retry delay; doubled on every further attempt.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// Running workers; stop them with [`Workers::shutdown`].
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    db: Db,
    /// The ids these workers claim jobs under.
    ids: Vec<String>,
}

impl Workers {
    /// Starts `config.workers` workers. `wake` lets enqueuers in this process skip the poll
    /// interval.
    pub fn start(
        db: Db,
        registry: Arc<Registry>,
        config: WorkerConfig,
        wake: Arc<Notify>,
        name: &str,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        // Process ids repeat across machines (every container's first process is 1): a random
        // part keeps two replicas' workers from taking each other for themselves.
        let process: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(8)
            .map(char::from)
            .collect();
        let ids: Vec<String> = (0..config.workers)
            .map(|n| format!("{name}-{}-{process}-{n}", std::process::id()))
            .collect();
        let handles = ids
            .iter()
            .map(|id| {
                let worker = Worker {
                    db: db.clone(),
                    registry: Arc::clone(&registry),
                    config: config.clone(),
                    wake: Arc::clone(&wake),
                    ctx: JobContext {
                        worker_id: id.clone(),
                    },
                };
                let stopped = stopped.clone();
                tokio::spawn(worker.run(stopped))
            })
            .collect();
        Self {
            stop,
            handles,
            db,
            ids,
        }
    }

    /// Stops claiming new jobs and lets running ones finish for up to `grace`; jobs still
    /// running then are stopped and handed back to the queue at once (their attempt not
    /// counted), so another worker takes them now instead of when their lease would lapse.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        let mut unfinished = false;
        for mut handle in self.handles {
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
                let _ = handle.await;
                unfinished = true;
            }
        }
        if !unfinished {
            return;
        }
        for id in &self.ids {
            match self.db.release_jobs_of(id).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(worker = %id, released, "handed a running job back"),
                Err(error) => {
                    tracing::warn!(%error, worker = %id, "handing a job back failed; its lease will lapse")
                }
            }
        }
    }
}

struct Worker {
    db: Db,
    registry: Arc<Registry>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    ctx: JobContext,
}

/// Exponential back-off with a little jitter so retries of many jobs spread out.
pub fn backoff(base: Duration, max: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let jitter = rand::thread_rng().gen_range(0.0..0.1);
    delay + delay.mul_f64(jitter)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Worker {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        tracing::debug!(worker = %self.ctx.worker_id, "job worker started");
        loop {
            if *stopped.borrow() {
                break;
            }
            match self
                .db
                .claim_job(&self.ctx.worker_id, millis(self.config.lease))
                .await
            {
                Ok(Some(job)) => {
                    self.execute(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
            }
            tokio::select! {
                _ = stopped.changed() => {},
                () = self.wake.notified() => {},
                () = tokio::time::sleep(self.config.poll_interval) => {},
            }
        }
        tracing::debug!(worker = %self.ctx.worker_id, "job worker stopped");
    }

    async fn execute(&self, job: JobRow) {
        let worker = self.ctx.worker_id.as_str();
        if job.attempts > job.max_attempts {
            // Its earlier workers died holding it, as many times as it may be tried.
            let _ = self
                .db
                .fail_job(job.id, worker, "attempts exhausted (workers lost)", None)
                .await;
            return;
        }
        let Some(handler) = self.registry.handlers.get(job.kind.as_str()).cloned() else {
            tracing::error!(kind = %job.kind, id = job.id, "no handler for job kind");
            let _ = self
                .db
                .fail_job(
                    job.id,
                    worker,
                    &format!("no handler for job kind {}", job.kind),
                    None,
                )
                .await;
            return;
        };
        tracing::debug!(kind = %job.kind, id = job.id, attempt = job.attempts, "running job");
        let heartbeat = {
            let db = self.db.clone();
            let id = job.id;
            let worker = worker.to_owned();
            let lease = self.config.lease;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    match db.heartbeat_job(id, &worker, millis(lease)).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(error = %e, id, "job heartbeat failed"),
                    }
                }
            })
        };
        let outcome = handler.run(&job, &self.ctx).await;
        heartbeat.abort();
        if let Some(hook) = &self.registry.after_each {
            hook();
        }
        let result = match outcome {
            Ok(Completion::Completed) => Ok(()),
            Ok(Completion::Done) => self.db.complete_job(job.id, worker).await,
            Err(JobError::Fatal(message)) => {
                tracing::warn!(kind = %job.kind, id = job.id, %message, "job failed for good");
                self.db.fail_job(job.id, worker, &message, None).await
            }
            Err(JobError::Retry { message, after }) => {
                let retry_at = (job.attempts < job.max_attempts).then(|| {
                    let delay = after.unwrap_or_else(|| {
                        backoff(
                            self.config.base_backoff,
                            self.config.max_backoff,
                            job.attempts,
                        )
                    });
                    gantry_core::time::now_millis() + millis(delay)
                });
                tracing::info!(kind = %job.kind, id = job.id, attempt = job.attempts, %message, retry = retry_at.is_some(), "job attempt failed");
                self.db.fail_job(job.id, worker, &message, retry_at).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, id = job.id, "recording the job's outcome failed");
        }
    }
}

#[cfg(test)]
mod tests;
