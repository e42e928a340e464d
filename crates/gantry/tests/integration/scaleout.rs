//! The scale-out topology as processes: one PostgreSQL database, one S3 bucket (moto), two
//! `gantry server` replicas without in-process workers, and `gantry worker` processes.
//! Uploads alternate between the replicas and download from the other one; a revoked token
//! is refused by both within the replica bound; a worker killed (SIGKILL) mid-job loses its
//! lease and another finishes the job exactly once; fsck is clean afterwards and every
//! package's bytes match on both replicas. PostgreSQL only: SQLite is one machine's database.

use std::process::Child;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{backend, sha256_hex, TestResult, TestServer, ADMIN};
use crate::s3::Moto;

/// Jobs of a killed worker are taken over once their lease lapses.
const LEASE_SECONDS: &str = "1";

struct Topology {
    moto: Moto,
    a: TestServer,
    b: TestServer,
}

impl Topology {
    async fn start() -> TestResult<Self> {
        let moto = Moto::start().await?;
        let replica = |builder: crate::common::ServerBuilder| {
            builder
                .arg("--workers")
                .arg("0")
                .arg("--job-lease-seconds")
                .arg(LEASE_SECONDS)
        };
        let a = replica(moto.builder()).start()?;
        let url = a.database_url.clone().ok_or("no database URL")?;
        let b = replica(moto.builder()).database_url(url).start()?;
        Ok(Self { moto, a, b })
    }

    /// A `gantry worker` on the shared database and bucket, with extra environment.
    fn worker(&self, extra: &[(&str, &str)]) -> TestResult<Child> {
        let env = self.moto.environment();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.push(("GANTRY_JOB_LEASE_SECONDS", LEASE_SECONDS));
        all.extend_from_slice(extra);
        self.a.spawn_worker(&all)
    }

    fn servers(&self) -> [&TestServer; 2] {
        [&self.a, &self.b]
    }
}

fn kill(mut child: Child) -> TestResult {
    child.kill()?;
    child.wait()?;
    Ok(())
}

async fn wait_status(s: &TestServer, slug: &str, want: &str) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = s
            .admin(
                Method::GET,
                &format!("/api/v1/packages/acme/dev/{slug}"),
                None,
            )
            .await?;
        if body["sync_status"] == want {
            return Ok(body);
        }
        if Instant::now() > deadline {
            return Err(format!("{slug} never reached {want}: {body}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn download(s: &TestServer, path: &str, token: &str) -> TestResult<(StatusCode, Vec<u8>)> {
    let resp = s.req(Method::GET, path, Some(token)).send().await?;
    Ok((resp.status(), resp.bytes().await?.to_vec()))
}

/// Time from `start` until `s` refuses `token` on `path`.
async fn refused_after(
    s: &TestServer,
    path: &str,
    token: &str,
    start: Instant,
) -> TestResult<Duration> {
    loop {
        let (status, _) = download(s, path, token).await?;
        if status == StatusCode::UNAUTHORIZED {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!("{} still answers {status} to a revoked token", s.url).into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_and_workers_share_postgres_and_a_bucket() -> TestResult {
    if backend() != "postgres" {
        eprintln!("scale-out suite: runs on PostgreSQL only (set GANTRY_TEST_DATABASE_URL)");
        return Ok(());
    }
    let t = Topology::start().await?;
    t.a.create_repo("acme", "dev", true).await?;
    let worker = t.worker(&[])?;

    // Uploads alternate between the replicas; each is synced by the worker and downloads,
    // byte for byte, from the other replica.
    let mut packages = Vec::new();
    for i in 0..6u32 {
        let [up, down] = if i % 2 == 0 {
            [&t.a, &t.b]
        } else {
            [&t.b, &t.a]
        };
        let body: Vec<u8> = (0..200_000u32).map(|n| ((n * 7 + i) % 253) as u8).collect();
        let (st, p) = up
            .upload_raw_nowait(ADMIN, "acme/dev", "app", &i.to_string(), "app.bin", &body)
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
        let done = wait_status(down, &slug, "completed").await?;
        assert_eq!(done["checksum_sha256"], sha256_hex(&body));
        let path = format!("/acme/dev/raw/app/{i}/app.bin");
        let (st, bytes) = download(down, &path, ADMIN).await?;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(bytes, body, "package {i} read through the other replica");
        packages.push((path, body));
    }

    // A token revoked on one replica is refused by both within a second.
    let (st, created) =
        t.a.admin(
            Method::POST,
            "/api/v1/tokens",
            Some(serde_json::json!({"scope": "acme", "privilege": "read"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().ok_or("token")?.to_owned();
    let (path, _) = &packages[0];
    for s in t.servers() {
        assert_eq!(download(s, path, &token).await?.0, StatusCode::OK);
    }
    let (st, _) =
        t.b.admin(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", created["id"]),
            None,
        )
        .await?;
    assert!(st.is_success(), "{st}");
    let revoked = Instant::now();
    for s in t.servers() {
        let took = refused_after(s, path, &token, revoked).await?;
        eprintln!(
            "scale-out: {} refused the revoked token after {took:?}",
            s.url
        );
        assert!(took < Duration::from_secs(1), "{} took {took:?}", s.url);
    }

    // A worker killed mid-job: its lease lapses, another worker finishes the job, once.
    kill(worker)?;
    let slow = t.worker(&[("GANTRY_FAULT_SYNC_DELAY_MS", "60000")])?;
    let body = b"synced exactly once".to_vec();
    let (st, p) =
        t.a.upload_raw_nowait(ADMIN, "acme/dev", "crash", "1", "crash.bin", &body)
            .await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    wait_status(&t.b, &slug, "syncing").await?;
    kill(slow)?;
    let worker = t.worker(&[])?;
    let done = wait_status(&t.b, &slug, "completed").await?;
    assert_eq!(done["sync_progress"], 100);
    let (_, trail) =
        t.a.admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{slug}/events"),
            None,
        )
        .await?;
    let types: Vec<&str> = trail
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["event"].as_str()).collect())
        .unwrap_or_default();
    let count = |t: &str| types.iter().filter(|x| **x == t).count();
    assert_eq!(count("package.synced"), 1, "{types:?}");
    assert_eq!(count("package.syncing"), 2, "{types:?}");
    let (_, jobs) = t.b.admin(Method::GET, "/api/v1/admin/jobs", None).await?;
    assert_eq!(
        crate::common::package_work(&jobs),
        Vec::<serde_json::Value>::new()
    );
    packages.push(("/acme/dev/raw/crash/1/crash.bin".into(), body));

    // The store agrees with the database, and every package reads back on both replicas.
    let report = crate::gc::assert_fsck_clean(&t.a).await?;
    assert_eq!(report["checked"], 7, "{report}");
    for (path, body) in &packages {
        for s in t.servers() {
            let (st, bytes) = download(s, path, ADMIN).await?;
            assert_eq!((st, &bytes), (StatusCode::OK, body), "{path} on {}", s.url);
        }
    }
    kill(worker)?;
    Ok(())
}

/// A worker stopped with SIGTERM mid-job stops within its drain time and hands the job back:
/// the next worker takes it at once, not when the (here 60 s) lease would have lapsed. Both
/// backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_a_running_job_back_to_the_queue() -> TestResult {
    let s = TestServer::builder().arg("--workers").arg("0").start()?;
    s.create_repo("acme", "dev", true).await?;
    let lease = ("GANTRY_JOB_LEASE_SECONDS", "60");
    let slow = s.spawn_worker(&[lease, ("GANTRY_FAULT_SYNC_DELAY_MS", "60000")])?;
    let (_, p) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "app", "1", "app.bin", b"handed back")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    wait_status(&s, &slug, "syncing").await?;
    let stopping = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &slow.id().to_string()])
        .status()?;
    let mut slow = slow;
    loop {
        if slow.try_wait()?.is_some() {
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "the worker did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, jobs) = s
        .admin(Method::GET, "/api/v1/admin/jobs?state=running", None)
        .await?;
    assert_eq!(jobs, serde_json::json!([]), "no job is left leased");
    let next = Instant::now();
    let worker = s.spawn_worker(&[lease])?;
    wait_status(&s, &slug, "completed").await?;
    assert!(
        next.elapsed() < Duration::from_secs(30),
        "{:?}",
        next.elapsed()
    );
    eprintln!(
        "worker stopped {:?} after SIGTERM; the job completed {:?} after the next worker started",
        next - stopping,
        next.elapsed()
    );
    kill(worker)?;
    Ok(())
}
