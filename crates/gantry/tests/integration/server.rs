//! Process-level behaviour: start-up, configuration, bootstrap, health, metrics, OpenAPI,
//! graceful shutdown.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::common::{TestResult, TestServer, ADMIN};

/// A request body that sends `chunks` pieces of `size` bytes with `pause` between them.
fn chunked_body(chunks: usize, size: usize, pause: Duration) -> reqwest::Body {
    let stream = futures::stream::unfold(0, move |sent| async move {
        if sent == chunks {
            return None;
        }
        if sent > 0 {
            tokio::time::sleep(pause).await;
        }
        Some((Ok::<_, std::io::Error>(vec![b'x'; size]), sent + 1))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi() -> TestResult {
    let server = TestServer::start()?;
    let resp = server.req(Method::GET, "/healthz", None).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);

    server.create_repo("acme", "dev", true).await?;
    let (status, _) = server
        .upload_raw("acme/dev", "app", "1.0", "app.bin", b"payload")
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    let _ = server
        .req(Method::GET, "/acme/dev/raw/app/1.0/app.bin", Some(ADMIN))
        .send()
        .await?
        .bytes()
        .await?;

    let metrics = server
        .req(Method::GET, "/metrics", None)
        .send()
        .await?
        .text()
        .await?;
    for needle in [
        "gantry_http_requests_total{",
        "route=\"/api/v1/packages/{owner}/{repo}/upload/{format}\"",
        "status=\"201\"",
        "gantry_http_request_duration_seconds_bucket{",
        "gantry_bytes_received_total 7",
        "gantry_bytes_sent_total 7",
        "gantry_packages{state=\"available\"} 1",
        "gantry_packages{state=\"deleted\"} 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    let (status, doc) = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    for path in [
        "/api/v1/repos/{owner}",
        "/api/v1/repos/{owner}/{repo}",
        "/api/v1/packages/{owner}/{repo}",
        "/api/v1/packages/{owner}/{repo}/upload/{format}",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/status",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/events",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/copy",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/move",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/restore",
        "/api/v1/tokens",
        "/api/v1/whoami",
        "/api/v1/packages/{owner}/{repo}/{slug_perm}/vulnerabilities",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    assert!(paths["/api/v1/repos/{owner}/{repo}"]["patch"].is_object());
    assert!(paths["/api/v1/packages/{owner}/{repo}/{slug_perm}"]["delete"].is_object());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_an_admin_token_once() -> TestResult {
    let server = TestServer::builder().without_admin_token().start()?;
    let path = server.data_dir.path().join("admin-token");
    let token = std::fs::read_to_string(&path)?.trim().to_owned();
    assert!(token.starts_with("gty_") && token.len() >= 40, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(
        server.stdout_lines.iter().any(|l| l.contains(&token)),
        "token printed once"
    );
    let (status, who) = server
        .call(Method::GET, "/api/v1/whoami", Some(&token), None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["site_admin"], true);

    // A restart on the same data finds the token and prints no new one.
    let data = server.stop()?;
    let again = TestServer::builder()
        .without_admin_token()
        .data_dir(data)
        .start();
    // On PostgreSQL each start gets a fresh database, so only SQLite can show the restart.
    if crate::common::backend() == "sqlite" {
        let again = again?;
        assert!(!again.stdout_lines.iter().any(|l| l.starts_with("gty_")));
        assert_eq!(std::fs::read_to_string(&path)?.trim(), token);
        let (status, _) = again
            .call(Method::GET, "/api/v1/whoami", Some(&token), None)
            .await?;
        assert_eq!(status, StatusCode::OK);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_and_environment_are_layered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("gantry.toml");
    // The file sets a tiny upload limit; the environment overrides the public URL.
    std::fs::write(
        &config,
        "max_upload_size = 10\npublic_url = \"http://from-file.invalid\"\n",
    )?;
    let server = TestServer::builder()
        .arg("--config")
        .arg(config.display().to_string())
        .env("GANTRY_PUBLIC_URL", "http://from-env.invalid")
        .start()?;
    server.create_repo("acme", "dev", true).await?;
    let (status, body) = server
        .upload_raw("acme/dev", "app", "1", "a.bin", b"0123456789abc")
        .await?;
    crate::common::assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let (status, body) = server
        .upload_raw("acme/dev", "app", "1", "a.bin", b"small")
        .await?;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        body["files"][0]["download_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://from-env.invalid/acme/dev/raw/")),
        "{body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_file_is_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("gantry.toml");
    std::fs::write(&config, "colour = \"red\"\n")?;
    let out = std::process::Command::new(crate::common::bin())
        .args(["server", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid config file") && stderr.contains("colour"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_uploads_finish() -> TestResult {
    let mut server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    let url = format!(
        "{}/api/v1/packages/acme/dev/upload/raw?name=slow&version=1&filename=slow.bin",
        server.url
    );
    let http = server.http.clone();
    // 20 chunks, 100 ms apart: the upload is in flight for about two seconds.
    let upload = tokio::spawn(async move {
        http.post(url)
            .bearer_auth(ADMIN)
            .body(chunked_body(20, 1024, Duration::from_millis(100)))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    })
    .await?;
    let (exit, _server) = status;
    let response = upload.await??;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["size"], 20 * 1024);
    assert!(exit?.success(), "server exits cleanly after draining");
    Ok(())
}
