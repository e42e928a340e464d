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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Flaky {
        failures_left: AtomicU32,
        runs: AtomicU32,
    }

    impl JobHandler for Flaky {
        fn run<'a>(
            &'a self,
            _job: &'a JobRow,
            _ctx: &'a JobContext,
        ) -> BoxFuture<'a, Result<Completion, JobError>> {
            Box::pin(async move {
                self.runs.fetch_add(1, Ordering::SeqCst);
                if self
                    .failures_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return Err(JobError::Retry {
                        message: "not yet".into(),
                        after: Some(Duration::from_millis(10)),
                    });
                }
                Ok(Completion::Done)
            })
        }
    }

    async fn db() -> Result<(Db, tempfile::TempDir), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = Db::connect(&Db::sqlite_url(dir.path())).await?;
        Ok((db, dir))
    }

    /// One worker polling every 10 ms, so the tests need not wait long.
    fn start(db: &Db, registry: Registry) -> Workers {
        let config = WorkerConfig {
            workers: 1,
            poll_interval: Duration::from_millis(10),
            ..WorkerConfig::default()
        };
        Workers::start(
            db.clone(),
            Arc::new(registry),
            config,
            Arc::new(Notify::new()),
            "t",
        )
    }

    /// A registry with a `flaky` handler that fails `failures` times before succeeding.
    fn flaky(failures: u32) -> (Arc<Flaky>, Registry) {
        let handler = Arc::new(Flaky {
            failures_left: AtomicU32::new(failures),
            runs: AtomicU32::new(0),
        });
        let mut registry = Registry::new();
        registry.register("flaky", handler.clone());
        (handler, registry)
    }

    async fn wait_until<F: Fn() -> bool>(f: F) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    struct Stuck(AtomicU32);

    impl JobHandler for Stuck {
        fn run<'a>(
            &'a self,
            _job: &'a JobRow,
            _ctx: &'a JobContext,
        ) -> BoxFuture<'a, Result<Completion, JobError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(futures::future::pending())
        }
    }

    #[tokio::test]
    async fn shutdown_hands_a_job_still_running_back_to_the_queue(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (db, _dir) = db().await?;
        let stuck = Arc::new(Stuck(AtomicU32::new(0)));
        let mut registry = Registry::new();
        registry.register("stuck", stuck.clone());
        let id = db
            .enqueue_job(&NewJob::new("stuck", serde_json::json!({}), 3))
            .await?;
        let workers = start(&db, registry);
        assert!(wait_until(|| stuck.0.load(Ordering::SeqCst) == 1).await);
        workers.shutdown(Duration::from_millis(50)).await;
        let job = db.get_job(id).await?.ok_or("job gone")?;
        assert_eq!(job.state, "queued");
        assert_eq!(job.locked_by, None);
        assert_eq!(job.attempts, 0, "a handed-back job has not used an attempt");
        // Due at once: another worker need not wait for the (60 s) lease.
        assert!(db.claim_job("other", 1000).await?.is_some());
        Ok(())
    }

    #[tokio::test]
    async fn retries_until_success_then_deletes_the_job() -> Result<(), Box<dyn std::error::Error>>
    {
        let (db, _dir) = db().await?;
        let (handler, registry) = flaky(2);
        let id = db
            .enqueue_job(&NewJob::new("flaky", serde_json::json!({}), 5))
            .await?;
        let workers = start(&db, registry);
        assert!(wait_until(|| handler.runs.load(Ordering::SeqCst) == 3).await);
        workers.shutdown(Duration::from_secs(30)).await;
        assert!(
            db.get_job(id).await?.is_none(),
            "completed jobs are removed"
        );
        Ok(())
    }

    #[tokio::test]
    async fn exhausted_jobs_are_dead_with_their_last_error(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (db, _dir) = db().await?;
        let (handler, registry) = flaky(100);
        let id = db
            .enqueue_job(&NewJob::new("flaky", serde_json::json!({}), 3))
            .await?;
        let unknown = db
            .enqueue_job(&NewJob::new("mystery", serde_json::json!({}), 3))
            .await?;
        let workers = start(&db, registry);
        assert!(wait_until(|| handler.runs.load(Ordering::SeqCst) >= 3).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        workers.shutdown(Duration::from_secs(30)).await;
        assert_eq!(handler.runs.load(Ordering::SeqCst), 3);
        let job = db.get_job(id).await?.ok_or("job gone")?;
        assert_eq!(job.state, "dead");
        assert_eq!(job.last_error.as_deref(), Some("not yet"));
        let job = db.get_job(unknown).await?.ok_or("job gone")?;
        assert_eq!(job.state, "dead");
        Ok(())
    }

    #[tokio::test]
    async fn an_expired_lease_lets_another_worker_take_over(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (db, _dir) = db().await?;
        let id = db
            .enqueue_job(&NewJob::new("k", serde_json::json!({}), 3))
            .await?;
        let first = db.claim_job("dead-worker", 1).await?.ok_or("no job")?;
        assert_eq!(first.id, id);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let again = db
            .claim_job("other", 60_000)
            .await?
            .ok_or("not reclaimed")?;
        assert_eq!(again.id, id);
        assert_eq!(again.attempts, 2);
        // The first worker lost its lease and can no longer complete the job.
        assert!(db.complete_job(id, "dead-worker").await.is_err());
        db.complete_job(id, "other").await?;
        Ok(())
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Greet {
        name: String,
    }

    impl Job for Greet {
        const KIND: &'static str = "greet";
    }

    struct Greeter {
        seen: std::sync::Mutex<Vec<String>>,
    }

    impl Handler for Arc<Greeter> {
        type Job = Greet;

        fn run<'a>(
            &'a self,
            payload: Greet,
            _job: &'a JobRow,
            _ctx: &'a JobContext,
        ) -> BoxFuture<'a, Result<Completion, JobError>> {
            Box::pin(async move {
                if let Ok(mut seen) = self.seen.lock() {
                    seen.push(payload.name);
                }
                Ok(Completion::Done)
            })
        }
    }

    #[tokio::test]
    async fn typed_jobs_get_their_payload_and_bad_payloads_fail_loudly(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (db, _dir) = db().await?;
        let greeter = Arc::new(Greeter {
            seen: std::sync::Mutex::new(Vec::new()),
        });
        let mut registry = Registry::new();
        registry.add(Arc::clone(&greeter));
        let good = db
            .enqueue_job(&Greet { name: "ada".into() }.to_new_job())
            .await?;
        let bad = db
            .enqueue_job(&NewJob::new("greet", serde_json::json!({"nom": 1}), 3))
            .await?;
        let workers = start(&db, registry);
        assert!(wait_until(|| greeter.seen.lock().is_ok_and(|s| s.len() == 1)).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        workers.shutdown(Duration::from_secs(30)).await;
        assert!(db.get_job(good).await?.is_none(), "the good job ran");
        let job = db.get_job(bad).await?.ok_or("bad job gone")?;
        assert_eq!(job.state, "dead", "a bad payload is not retried");
        assert!(
            job.last_error
                .as_deref()
                .is_some_and(|e| e.contains("bad payload for greet job")),
            "{:?}",
            job.last_error
        );
        assert_eq!(job.attempts, 1);
        Ok(())
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(10);
        assert!(backoff(base, max, 1) < Duration::from_millis(1101));
        assert!(backoff(base, max, 3) >= Duration::from_secs(4));
        assert!(backoff(base, max, 30) <= Duration::from_secs(11));
    }
}
