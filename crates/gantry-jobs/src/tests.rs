//! Workers against a real (SQLite) queue.

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
async fn retries_until_success_then_deletes_the_job() -> Result<(), Box<dyn std::error::Error>> {
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
async fn exhausted_jobs_are_dead_with_their_last_error() -> Result<(), Box<dyn std::error::Error>> {
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
async fn an_expired_lease_lets_another_worker_take_over() -> Result<(), Box<dyn std::error::Error>>
{
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
