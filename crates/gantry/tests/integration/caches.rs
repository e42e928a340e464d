//! The in-memory caches of the hot path (callers, repositories, packages, index validators)
//! never serve a change's old state: on the server that made the change at once, on a
//! replica sharing the database within a second (the documented bound). Each scenario warms
//! the reader's caches, changes something on the writer and reads again on the reader. Run
//! with `GANTRY_TEST_DATABASE_URL` for PostgreSQL; on SQLite the replica shares the file.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

/// The documented bound for another replica to see a change, with no slack: a replica that
/// could not read the change counter within it stops trusting its caches.
const REPLICA_BOUND: Duration = Duration::from_millis(1000);

const FILE: &str = "/acme/dev/raw/app/1/app.txt";

/// The server that writes and the one that reads (the same one, or a replica).
struct Pair {
    writer: TestServer,
    reader: Option<TestServer>,
}

impl Pair {
    async fn start(replica: bool) -> TestResult<Self> {
        let writer = TestServer::start()?;
        writer.create_repo("acme", "dev", true).await?;
        writer.create_repo("acme", "prod", true).await?;
        let reader = if replica {
            Some(TestServer::builder().replica_of(&writer).start()?)
        } else {
            None
        };
        Ok(Self { writer, reader })
    }

    fn reader(&self) -> &TestServer {
        self.reader.as_ref().unwrap_or(&self.writer)
    }

    /// After a change on the writer: nothing to wait for on the same server, the bound on a
    /// replica.
    async fn settle(&self) {
        if self.reader.is_some() {
            tokio::time::sleep(REPLICA_BOUND).await;
        }
    }

    async fn upload(&self) -> TestResult<String> {
        let (status, p) = self
            .writer
            .upload_raw("acme/dev", "app", "1", "app.txt", b"cached bytes\n")
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{p}");
        Ok(p["slug_perm"].as_str().ok_or("no slug")?.to_owned())
    }

    async fn get(&self, path: &str, token: Option<&str>) -> TestResult<StatusCode> {
        Ok(self
            .reader()
            .req(Method::GET, path, token)
            .send()
            .await?
            .status())
    }

    async fn text(&self, path: &str) -> TestResult<String> {
        let resp = self
            .reader()
            .req(Method::GET, path, Some(ADMIN))
            .send()
            .await?;
        Ok(resp.text().await?)
    }

    /// Reads twice so that the second answer comes from the reader's caches.
    async fn warm(&self, path: &str, token: Option<&str>, want: StatusCode) -> TestResult {
        for _ in 0..2 {
            assert_eq!(
                self.get(path, token).await?,
                want,
                "{path} before the change"
            );
        }
        Ok(())
    }

    async fn change(&self, method: Method, path: &str, body: Option<Value>) -> TestResult {
        let (status, out) = self.writer.admin(method, path, body).await?;
        assert!(status.is_success(), "{path}: {status} {out}");
        self.settle().await;
        Ok(())
    }
}

async fn revoked_token(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    p.upload().await?;
    let (status, created) = p
        .writer
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"scope": "acme/dev", "privilege": "read"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().ok_or("no token")?;
    let id = created["id"].as_i64().ok_or("no id")?;
    p.warm(FILE, Some(token), StatusCode::OK).await?;
    p.change(Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await?;
    assert_eq!(p.get(FILE, Some(token)).await?, StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn removed_privilege(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    p.upload().await?;
    let w = &p.writer;
    let (status, out) = w
        .admin(
            Method::POST,
            "/api/v1/service-accounts/acme",
            Some(json!({"name": "ci"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let (status, out) = w
        .admin(
            Method::PUT,
            "/api/v1/privileges/acme",
            Some(json!({"principal": "service:acme/ci", "privilege": "read"})),
        )
        .await?;
    assert!(status.is_success(), "{out}");
    let (status, created) = w
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"principal": "service:acme/ci"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().ok_or("no token")?;
    p.warm(FILE, Some(token), StatusCode::OK).await?;
    p.change(
        Method::DELETE,
        "/api/v1/privileges/acme?principal=service:acme/ci",
        None,
    )
    .await?;
    // Without read, a private repository does not exist for the caller.
    assert_eq!(p.get(FILE, Some(token)).await?, StatusCode::NOT_FOUND);
    Ok(())
}

async fn moved_package(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    let slug = p.upload().await?;
    p.warm(FILE, Some(ADMIN), StatusCode::OK).await?;
    p.change(
        Method::POST,
        &format!("/api/v1/packages/acme/dev/{slug}/move"),
        Some(json!({"destination": "prod"})),
    )
    .await?;
    assert_eq!(p.get(FILE, Some(ADMIN)).await?, StatusCode::NOT_FOUND);
    let moved = FILE.replace("/dev/", "/prod/");
    assert_eq!(p.get(&moved, Some(ADMIN)).await?, StatusCode::OK);
    Ok(())
}

async fn quarantined_package(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    let slug = p.upload().await?;
    p.warm(FILE, Some(ADMIN), StatusCode::OK).await?;
    p.change(
        Method::POST,
        &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
        Some(json!({"reason": "under review"})),
    )
    .await?;
    assert_eq!(p.get(FILE, Some(ADMIN)).await?, StatusCode::FORBIDDEN);
    p.change(
        Method::POST,
        &format!("/api/v1/packages/acme/dev/{slug}/quarantine"),
        Some(json!({"release": true})),
    )
    .await?;
    assert_eq!(p.get(FILE, Some(ADMIN)).await?, StatusCode::OK);
    Ok(())
}

async fn deleted_package(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    let slug = p.upload().await?;
    p.warm(FILE, Some(ADMIN), StatusCode::OK).await?;
    p.change(
        Method::DELETE,
        &format!("/api/v1/packages/acme/dev/{slug}"),
        None,
    )
    .await?;
    assert_eq!(p.get(FILE, Some(ADMIN)).await?, StatusCode::NOT_FOUND);
    Ok(())
}

async fn repository_made_private(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    p.change(
        Method::PATCH,
        "/api/v1/repos/acme/dev",
        Some(json!({"private": false})),
    )
    .await?;
    p.upload().await?;
    p.warm(FILE, None, StatusCode::OK).await?;
    p.change(
        Method::PATCH,
        "/api/v1/repos/acme/dev",
        Some(json!({"private": true})),
    )
    .await?;
    assert_ne!(p.get(FILE, None).await?, StatusCode::OK);
    Ok(())
}

/// Install indexes: the project page's validator is kept per epoch, so a yank must reach it.
async fn yanked_package(replica: bool) -> TestResult {
    let p = Pair::start(replica).await?;
    let wheel = crate::python::fixture("six-1.16.0-py2.py3-none-any.whl");
    let slug = p.writer.cli_ok(
        Some(ADMIN),
        &["push", "python", "acme/dev", &wheel.display().to_string()],
    )?;
    let page = "/acme/dev/python/simple/six/";
    p.warm(page, Some(ADMIN), StatusCode::OK).await?;
    assert!(!p.text(page).await?.contains("data-yanked"));
    p.change(
        Method::POST,
        &format!("/api/v1/packages/acme/dev/{slug}/yank"),
        Some(json!({"yanked": true, "reason": "broken"})),
    )
    .await?;
    assert!(p.text(page).await?.contains("data-yanked=\"broken\""));
    Ok(())
}

macro_rules! both {
    ($scenario:ident, $here:ident, $replica:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $here() -> TestResult {
            $scenario(false).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $replica() -> TestResult {
            $scenario(true).await
        }
    };
}

both!(
    revoked_token,
    revoked_token_is_refused_at_once,
    revoked_token_is_refused_by_a_replica_within_the_bound
);
both!(
    removed_privilege,
    removed_privilege_is_refused_at_once,
    removed_privilege_is_refused_by_a_replica_within_the_bound
);
both!(
    moved_package,
    moved_package_is_served_from_its_new_place_at_once,
    moved_package_is_served_from_its_new_place_by_a_replica_within_the_bound
);
both!(
    quarantined_package,
    quarantine_and_release_take_effect_at_once,
    quarantine_and_release_reach_a_replica_within_the_bound
);
both!(
    deleted_package,
    deleted_package_is_gone_at_once,
    deleted_package_is_gone_on_a_replica_within_the_bound
);
both!(
    repository_made_private,
    repository_made_private_is_hidden_at_once,
    repository_made_private_is_hidden_by_a_replica_within_the_bound
);
both!(
    yanked_package,
    yank_shows_in_the_project_page_at_once,
    yank_shows_in_a_replicas_project_page_within_the_bound
);

/// Hits and misses of each cache are on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_and_misses_are_counted_on_metrics() -> TestResult {
    let p = Pair::start(false).await?;
    p.upload().await?;
    // Writes that follow a sync (its attestation, say) may still invalidate the first entries,
    // more so when blobs are in S3; read until a second lookup had something to hit.
    let mut text = String::new();
    for _ in 0..20 {
        p.warm(FILE, Some(ADMIN), StatusCode::OK).await?;
        text = p
            .writer
            .req(Method::GET, "/metrics", None)
            .send()
            .await?
            .text()
            .await?;
        if text.contains("gantry_cache_lookups_total{cache=\"packages\",result=\"hit\"}") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for cache in ["callers", "repositories", "packages", "blobs"] {
        let hits = format!("gantry_cache_lookups_total{{cache=\"{cache}\",result=\"hit\"}}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&hits))
            .ok_or_else(|| format!("no {hits} in {text}"))?;
        let n: f64 = line.rsplit(' ').next().unwrap_or("0").parse()?;
        assert!(n >= 1.0, "{line}");
    }
    assert!(text.contains("gantry_cache_lookups_total{cache=\"packages\",result=\"miss\"}"));
    Ok(())
}
