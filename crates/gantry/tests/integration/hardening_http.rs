//! Issue 14, points 4, 8 and 10: connections bounded in time and number, namespaces that do
//! not give themselves away, and the headers every answer carries.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestResult, TestServer, ADMIN};

fn address(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

/// Waits until the server closes `stream` (EOF or reset), or `limit` passes; returns how long
/// that took, or None when the connection was still open.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut buf))
            .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A response (say, 408 or 400) may come first; the close follows.
            Ok(Ok(_)) => {}
        }
    }
}

/// Half a request head, a silent socket, and a body that stops half-way are all cut off;
/// at the connection cap, a new client waits for a slot instead of being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_connections_are_closed() -> TestResult {
    let s = TestServer::builder()
        .arg("--header-timeout-seconds")
        .arg("2")
        .arg("--idle-timeout-seconds")
        .arg("1")
        .arg("--body-timeout-seconds")
        .arg("1")
        .arg("--max-connections")
        .arg("3")
        .start()?;
    s.create_repo("acme", "dev", false).await?;
    let addr = address(&s);

    // Half a head, then a trickle that keeps the idle clock from running out.
    let mut half = TcpStream::connect(&addr).await?;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await?;
    let start = Instant::now();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if half.write_all(b"X-A: b\r\n").await.is_err() {
                break;
            }
        }
    };
    trickle.await;
    let took = closed_within(&mut half, Duration::from_secs(2)).await;
    assert!(
        took.is_some() && start.elapsed() < Duration::from_secs(10),
        "a trickled head was kept open for {:?}",
        start.elapsed()
    );

    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await?;
    let took = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(took.is_some(), "a silent connection stayed open");

    // A body that stops: the upload fails with a client error and the connection goes.
    let mut stalled = TcpStream::connect(&addr).await?;
    let head = format!(
        "POST /api/v1/packages/acme/dev/upload/raw?name=a&version=1&filename=a.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Length: 1000\r\n\r\n0123456789"
    );
    stalled.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), stalled.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "a stalled body kept the connection open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    // At the cap (3), a fourth client waits until a slot frees, then is served.
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(&addr).await?;
        c.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        holders.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let resp = s.req(Method::GET, "/healthz", None).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "served at once although 3 connections were open: {:?}",
        start.elapsed()
    );
    drop(holders);
    Ok(())
}

/// With the default cap, many half-open sockets neither block /healthz nor stay forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_half_open_sockets_do_not_take_healthz_down() -> TestResult {
    let s = TestServer::builder()
        .arg("--header-timeout-seconds")
        .arg("1")
        .start()?;
    let addr = address(&s);
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut c = TcpStream::connect(&addr).await?;
        c.write_all(b"GET / HTTP/1.1\r\n").await?;
        held.push(c);
    }
    let resp = s.req(Method::GET, "/healthz", None).send().await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut open = 0;
    for c in &mut held {
        if closed_within(c, Duration::from_secs(4)).await.is_none() {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "half-open sockets still open after the header timeout"
    );
    Ok(())
}

/// A namespace with only private repositories looks exactly like one that does not exist,
/// unless the caller holds a grant in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_namespaces_are_not_enumerable() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "secret", true).await?;
    s.create_repo("other", "open", false).await?;
    let elsewhere = s.token("other", "read").await?;
    let in_acme = s.token("acme/secret", "read").await?;
    for token in [None, Some(elsewhere.as_str())] {
        let (st, body) = s
            .call(Method::GET, "/api/v1/repos/acme", token, None)
            .await?;
        let (st2, body2) = s
            .call(Method::GET, "/api/v1/repos/nosuchns", token, None)
            .await?;
        assert_eq!((st, st2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
        // The same answer, up to the name.
        assert_eq!(
            body.to_string().replace("acme", "N"),
            body2.to_string().replace("nosuchns", "N")
        );
    }
    let (st, body) = s
        .call(Method::GET, "/api/v1/repos/acme", Some(&in_acme), None)
        .await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    // A public namespace stays listable by anyone.
    let (st, _) = s
        .call(Method::GET, "/api/v1/repos/other", None, None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    Ok(())
}

/// Every answer carries nosniff, a closed CSP and X-Frame-Options; answers to credentialed
/// requests are private to the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_answer() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    for (path, token) in [
        ("/api/v1/repos/acme/dev", Some(ADMIN)),
        ("/api/v1/repos/acme/dev", None),
        ("/api/v1/nothing-here", None),
        ("/acme/dev/python/simple/", Some(ADMIN)),
        ("/healthz", None),
    ] {
        let resp = s.req(Method::GET, path, token).send().await?;
        let h = resp.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert!(
            get("content-security-policy").contains("default-src 'none'"),
            "{path}"
        );
        if token.is_some() {
            assert!(get("cache-control").starts_with("private"), "{path}");
        }
    }
    Ok(())
}

/// Found by the load run on PostgreSQL: concurrent copies of one package into one repository
/// with `republish` collided (unique violation, deadlock) and answered 500. Each now wins or
/// gets 409; none fails with a server error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_republishing_copies_never_answer_5xx() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "staging", false).await?;
    let (st, pkg) = s
        .upload_raw("acme/dev", "race", "1", "race.bin", b"race")
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{pkg}");
    let slug = pkg["slug_perm"].as_str().unwrap_or_default().to_owned();
    s.wait_for_sync("acme/dev", &slug).await?;
    let mut copies = Vec::new();
    for _ in 0..24 {
        let req = s
            .req(
                Method::POST,
                &format!("/api/v1/packages/acme/dev/{slug}/copy"),
                Some(ADMIN),
            )
            .json(&serde_json::json!({"destination": "staging", "republish": true}));
        copies.push(tokio::spawn(req.send()));
    }
    let mut created = 0;
    for copy in copies {
        let status = copy.await??.status();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
    }
    assert!(created >= 1);
    Ok(())
}
