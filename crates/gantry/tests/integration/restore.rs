//! The restore drill of docs/deployment.md: back up a running server (the database first —
//! SQLite's online backup or `pg_dump` — then the blob directory), wipe it, restore into a
//! fresh data directory and database, and every package downloads with its digest; fsck is
//! clean. Both backends.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};

use crate::common::{backend, files_under, sha256_hex, TestResult, TestServer, ADMIN};

fn run(cmd: &mut Command) -> TestResult {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// Copies every file under `from` to the same place under `to`.
fn copy_tree(from: &Path, to: &Path) -> TestResult {
    for file in files_under(from) {
        let dest = to.join(file.strip_prefix(from)?);
        std::fs::create_dir_all(dest.parent().ok_or("no parent")?)?;
        std::fs::copy(&file, &dest)?;
    }
    Ok(())
}

/// Backs the database of `s` up into `backup` while it runs.
fn back_up_database(s: &TestServer, backup: &Path) -> TestResult {
    match &s.database_url {
        Some(url) => run(Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(backup.join("gantry.dump"))
            .arg(url)),
        // SQLite's online backup, as `sqlite3 gantry.db ".backup FILE"` does it.
        None => run(Command::new("python3").args([
            "-c",
            "import sqlite3, sys\n\
             src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2])\n\
             src.backup(dst); dst.close()",
            &s.data_dir.path().join("gantry.db").display().to_string(),
            &backup.join("gantry.db").display().to_string(),
        ])),
    }
}

/// Restores the database backup into `data_dir` (SQLite) or a new database; returns its URL.
fn restore_database(backup: &Path, data_dir: &Path) -> TestResult<Option<String>> {
    let Ok(base) = std::env::var("GANTRY_TEST_DATABASE_URL") else {
        std::fs::copy(backup.join("gantry.db"), data_dir.join("gantry.db"))?;
        return Ok(None);
    };
    let url = crate::common::fresh_postgres_database(&base)?;
    run(Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&url)
        .arg(backup.join("gantry.dump")))?;
    Ok(Some(url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_a_fresh_installation() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "production", false).await?;
    let mut files = Vec::new();
    for i in 0..4u32 {
        let body: Vec<u8> = (0..50_000u32).map(|n| ((n ^ i) % 241) as u8).collect();
        let (st, p) = s
            .upload_raw("acme/dev", "app", &i.to_string(), "app.bin", &body)
            .await?;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        files.push((format!("/acme/dev/raw/app/{i}/app.bin"), sha256_hex(&body)));
    }
    // A promoted copy and a deleted (restorable) package come back too.
    let (_, first) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:0",
            None,
        )
        .await?;
    let slug = first[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(serde_json::json!({"destination": "production"})),
        )
        .await?;
    assert!(st.is_success());
    files.push((
        "/acme/production/raw/app/0/app.bin".into(),
        files[0].1.clone(),
    ));
    let (_, last) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=version:3",
            None,
        )
        .await?;
    let deleted = last[0]["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{deleted}"),
            None,
        )
        .await?;
    assert!(st.is_success());

    // Back up while the server runs: the database first, then the blobs (a blob stored after
    // the dump is only unreferenced in the restore; the reverse order could miss one).
    let backup = tempfile::tempdir()?;
    back_up_database(&s, backup.path())?;
    copy_tree(&s.blobs_dir(), &backup.path().join("blobs"))?;

    // Wipe: the server, its data directory and its database are gone.
    let stopped = s.shutdown()?;
    drop(stopped.data_dir);
    if let Some(url) = &stopped.database_url {
        let (base, name) = url.rsplit_once('/').ok_or("database URL")?;
        run(Command::new("psql").arg(format!("{base}/postgres")).args([
            "-q",
            "-c",
            &format!("DROP DATABASE {name}"),
        ]))?;
    }

    // Restore into a fresh installation.
    let data_dir = tempfile::tempdir()?;
    copy_tree(&backup.path().join("blobs"), &data_dir.path().join("blobs"))?;
    let database_url = restore_database(backup.path(), data_dir.path())?;
    let mut restored = TestServer::builder().data_dir(data_dir);
    if let Some(url) = database_url {
        restored = restored.database_url(url);
    }
    let r = restored.start()?;
    // Package 3 was deleted: it downloads once restored, below.
    for (path, sha256) in files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, f)| f)
    {
        let resp = r.req(Method::GET, path, Some(ADMIN)).send().await?;
        assert_eq!(resp.status(), StatusCode::OK, "{path} ({})", backend());
        assert_eq!(&sha256_hex(&resp.bytes().await?), sha256, "{path}");
    }
    let (st, _) = r
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{deleted}/restore"),
            None,
        )
        .await?;
    assert!(st.is_success(), "the deleted package is still restorable");
    let resp = r
        .req(Method::GET, "/acme/dev/raw/app/3/app.bin", Some(ADMIN))
        .send()
        .await?;
    assert_eq!(&sha256_hex(&resp.bytes().await?), &files[3].1);
    crate::gc::assert_fsck_clean(&r).await?;
    Ok(())
}
