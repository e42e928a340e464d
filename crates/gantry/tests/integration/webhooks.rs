//! Webhooks with a real receiver: payloads, signatures, retries, restarts, filters.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::{assert_error, files_under, TestResult, TestServer, ADMIN};
use crate::receiver::{Hit, Receiver};

async fn create_webhook(s: &TestServer, repo: &str, body: Value) -> TestResult<Value> {
    let (st, hook) = s
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/{repo}"),
            Some(body),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    Ok(hook)
}

fn verify(secret: &str, hit: &Hit) -> bool {
    let Some(sig) = hit.header("x-gantry-signature-256") else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(&hit.body);
    mac.verify_slice(&expected).is_ok()
}

fn count(hits: &[Hit], event: &str) -> usize {
    hits.iter().filter(|h| h.event() == event).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_carry_the_contract_payload() -> TestResult {
    let receiver = Receiver::start(&[]).await?;
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "production"] {
        s.create_repo("acme", repo, true).await?;
    }
    create_webhook(
        &s,
        "acme/dev",
        json!({
            "target_url": receiver.url, "events": ["*"], "secret": "s3cret",
            "extra_header": {"name": "X-CI-Token", "value": "ci-123"},
        }),
    )
    .await?;
    create_webhook(
        &s,
        "acme/staging",
        json!({"target_url": receiver.url, "events": ["package.copied", "package.moved", "package.deleted"]}),
    )
    .await?;

    let (_, p) = s
        .upload_raw("acme/dev", "app", "1.0", "app.bin", b"v1")
        .await?;
    let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, copy) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let copy_slug = copy["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/staging/{copy_slug}/move"),
            Some(json!({"destination": "production"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{slug}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // A failing sync: the declared checksum does not match.
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw",
            Some(ADMIN),
        )
        .query(&[
            ("name", "bad"),
            ("version", "1"),
            ("filename", "b.bin"),
            ("checksum_sha256", "00"),
        ])
        .body("zz")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let hits = receiver
        .wait_for("all events", |h| {
            count(h, "package.created") == 2
                && count(h, "package.synced") == 1
                && count(h, "package.failed") == 1
                && count(h, "package.copied") == 2
                && count(h, "package.moved") == 1
                && count(h, "package.deleted") == 1
        })
        .await?;

    for hit in hits.iter().filter(|h| h.header("x-ci-token").is_some()) {
        // Every delivery of the dev webhook is signed and carries its extra header.
        assert!(verify("s3cret", hit), "bad signature on {}", hit.event());
        assert_eq!(hit.header("x-ci-token").as_deref(), Some("ci-123"));
    }
    for hit in &hits {
        let body = hit.json();
        assert_eq!(hit.header("x-gantry-event"), Some(hit.event()));
        assert_eq!(
            hit.header("x-gantry-delivery").as_deref(),
            body["delivery_id"].as_str(),
            "{body}"
        );
        assert!(body["occurred_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        assert!(body["repository"]
            .as_str()
            .is_some_and(|r| r.starts_with("acme/")));
        assert!(body["package"]["slug_perm"].is_string(), "{body}");
        assert!(body["package"]["checksum_sha256"].is_string(), "{body}");
        assert!(body["context"].is_object());
    }
    let by_event = |e: &str| {
        hits.iter()
            .find(|h| h.event() == e)
            .map(Hit::json)
            .unwrap_or_default()
    };
    assert_eq!(
        by_event("package.synced")["package"]["sync_status"],
        "completed"
    );
    assert_eq!(by_event("package.synced")["package"]["name"], "app");
    let failed = by_event("package.failed");
    assert!(
        failed["context"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("checksum")),
        "{failed}"
    );
    let moved = by_event("package.moved");
    assert_eq!(moved["repository"], "acme/production");
    assert_eq!(moved["context"]["source_repository"], "acme/staging");
    assert_eq!(
        moved["context"]["destination_repository"],
        "acme/production"
    );
    assert_eq!(moved["package"]["slug_perm"], copy_slug);
    let deleted = by_event("package.deleted");
    assert_eq!(deleted["package"]["state"], "deleted");
    // The staging webhook got the copy into staging and the move out of it, nothing else.
    let staging_hits: Vec<String> = hits
        .iter()
        .filter(|h| h.header("x-ci-token").is_none())
        .map(Hit::event)
        .collect();
    assert_eq!(staging_hits.len(), 2, "{staging_hits:?}");
    assert!(staging_hits.contains(&"package.copied".to_owned()));
    assert!(staging_hits.contains(&"package.moved".to_owned()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_it_on_the_third_attempt() -> TestResult {
    let receiver = Receiver::start(&[500, 500]).await?;
    let s = TestServer::builder()
        .arg("--webhook-retry-schedule")
        .arg("0.2,0.2,0.2")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let hook = create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": receiver.url, "events": ["package.created"]}),
    )
    .await?;
    s.upload_raw("acme/dev", "app", "1", "a.bin", b"x").await?;
    let hits = receiver
        .wait_for("three attempts", |h| h.len() >= 3)
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.hits().len(),
        3,
        "no attempt after the successful one"
    );
    // All three attempts are the same delivery.
    let ids: Vec<_> = hits.iter().map(|h| h.header("x-gantry-delivery")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");

    let id = hook["id"].as_i64().ok_or("id")?;
    let (st, deliveries) = s
        .admin(
            Method::GET,
            &format!("/api/v1/webhooks/acme/dev/{id}/deliveries"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let d = &deliveries[0];
    assert_eq!(d["state"], "delivered", "{d}");
    assert_eq!(d["attempts"], 3);
    let codes: Vec<_> = d["attempt_log"]
        .as_array()
        .ok_or("log")?
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(500), json!(500), json!(200)]);
    assert!(d["attempt_log"][0]["latency_ms"].is_i64());
    assert!(d["attempt_log"][0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("500")));

    // Redelivery sends it again as a new delivery.
    let delivery = d["id"].as_i64().ok_or("id")?;
    let (st, again) = s
        .admin(
            Method::POST,
            &format!("/api/v1/webhooks/acme/dev/{id}/deliveries/{delivery}/redeliver"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::ACCEPTED, "{again}");
    let hits = receiver
        .wait_for("the redelivery", |h| h.len() >= 4)
        .await?;
    let last = hits.last().ok_or("no hit")?;
    assert_eq!(last.event(), "package.created");
    assert_ne!(last.header("x-gantry-delivery"), ids[0]);
    assert_eq!(last.json()["context"]["redelivery_of"], d["delivery_id"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_queued_before_a_restart_arrives_after_it() -> TestResult {
    let receiver = Receiver::start(&[]).await?;
    let s = TestServer::builder().arg("--workers").arg("0").start()?;
    s.create_repo("acme", "dev", true).await?;
    create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": receiver.url, "events": ["package.created"]}),
    )
    .await?;
    let (st, _) = s
        .upload_raw_nowait(ADMIN, "acme/dev", "app", "1", "a.bin", b"x")
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits().is_empty(), "no worker ran yet");
    let stopped = s.shutdown()?;
    let _s = TestServer::builder().restart_of(stopped).start()?;
    let hits = receiver
        .wait_for("the queued delivery", |h| !h.is_empty())
        .await?;
    assert_eq!(hits[0].event(), "package.created");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_webhooks_and_unmatched_filters_send_nothing() -> TestResult {
    let receiver = Receiver::start(&[]).await?;
    let control = Receiver::start(&[]).await?;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": receiver.url, "events": ["*"], "is_active": false}),
    )
    .await?;
    create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": receiver.url, "events": ["*"], "package_query": "name:other"}),
    )
    .await?;
    create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": control.url, "events": ["package.synced"], "package_query": "name:app tag:ci"}),
    )
    .await?;
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw",
            Some(ADMIN),
        )
        .query(&[
            ("name", "app"),
            ("version", "1"),
            ("filename", "a"),
            ("tags", "ci"),
        ])
        .body("x")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The control webhook proves events went out; the other two stay silent.
    control
        .wait_for("the control delivery", |h| !h.is_empty())
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.hits().is_empty(),
        "{:?}",
        receiver.hits().iter().map(Hit::event).collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_disable_a_webhook_until_re_enabled() -> TestResult {
    let receiver = Receiver::start(&[503, 503, 503, 503, 503, 503]).await?;
    let s = TestServer::builder()
        .arg("--webhook-retry-schedule")
        .arg("0.1,0.1,0.1,0.1,0.1")
        .arg("--webhook-disable-after")
        .arg("3")
        .start()?;
    s.create_repo("acme", "dev", true).await?;
    let hook = create_webhook(
        &s,
        "acme/dev",
        json!({"target_url": receiver.url, "events": ["package.created"]}),
    )
    .await?;
    let id = hook["id"].as_i64().ok_or("id")?;
    s.upload_raw("acme/dev", "app", "1", "a", b"x").await?;
    receiver
        .wait_for("three failures", |h| h.len() >= 3)
        .await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.hits().len(), 3, "nothing is sent once disabled");
    let (_, got) = s
        .admin(
            Method::GET,
            &format!("/api/v1/webhooks/acme/dev/{id}"),
            None,
        )
        .await?;
    assert_eq!(got["is_active"], false, "{got}");
    assert!(
        got["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("3 consecutive")),
        "{got}"
    );

    // Re-enabled, it sends again.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "webhooks",
            "update",
            "acme/dev",
            &id.to_string(),
            "--enable",
            "-F",
            "json",
        ],
    )?;
    let updated: Value = serde_json::from_str(&out)?;
    assert_eq!(updated["is_active"], true);
    assert_eq!(updated["consecutive_failures"], 0);
    s.upload_raw("acme/dev", "app", "2", "a", b"y").await?;
    receiver
        .wait_for("a delivery after re-enabling", |h| h.len() >= 4)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_the_cli() -> TestResult {
    let receiver = Receiver::start(&[]).await?;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "webhooks",
            "create",
            "acme/dev",
            "--target-url",
            &receiver.url,
            "--events",
            "package.synced,package.moved",
            "--secret",
            "k",
            "--header",
            "X-Team=core",
            "-F",
            "json",
        ],
    )?;
    let hook: Value = serde_json::from_str(&out)?;
    assert_eq!(hook["has_secret"], true);
    assert!(hook.get("secret").is_none(), "the secret is never shown");
    assert_eq!(hook["extra_header_name"], "X-Team");
    let id = hook["id"].as_i64().ok_or("id")?.to_string();
    let listed = s.cli_ok(Some(ADMIN), &["webhooks", "ls", "acme/dev"])?;
    assert!(
        listed.contains(&receiver.url) && listed.contains("active"),
        "{listed}"
    );

    let out = s.cli_ok(
        Some(ADMIN),
        &["webhooks", "ping", "acme/dev", &id, "-F", "json"],
    )?;
    let ping: Value = serde_json::from_str(&out)?;
    assert_eq!(ping["success"], true, "{ping}");
    assert_eq!(ping["status_code"], 200);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "ping is sent at once");
    assert_eq!(hits[0].event(), "ping");
    assert!(verify("k", &hits[0]));
    assert_eq!(hits[0].header("x-team").as_deref(), Some("core"));
    let deliveries = s.cli_ok(Some(ADMIN), &["webhooks", "deliveries", "acme/dev", &id])?;
    assert!(
        deliveries.contains("ping") && deliveries.contains("delivered"),
        "{deliveries}"
    );

    // Bad definitions get clear errors.
    for (body, why) in [
        (json!({"target_url": "ftp://x", "events": ["*"]}), "scheme"),
        (
            json!({"target_url": "http://169.254.169.254/", "events": ["*"]}),
            "metadata",
        ),
        (
            json!({"target_url": receiver.url, "events": ["package.exploded"]}),
            "event",
        ),
        (
            json!({"target_url": receiver.url, "events": []}),
            "no events",
        ),
        (
            json!({"target_url": receiver.url, "events": ["*"], "package_query": "colour:red"}),
            "filter",
        ),
        (
            json!({"target_url": receiver.url, "events": ["*"], "extra_header": {"name": "X-Gantry-Event", "value": "x"}}),
            "header",
        ),
    ] {
        let (st, body) = s
            .admin(Method::POST, "/api/v1/webhooks/acme/dev", Some(body))
            .await?;
        assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
        let _ = why;
    }
    let write = s.token("acme", "write").await?;
    let (st, _) = s
        .call(Method::GET, "/api/v1/webhooks/acme/dev", Some(&write), None)
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "webhooks need admin");
    s.cli_ok(Some(ADMIN), &["webhooks", "delete", "acme/dev", &id])?;
    let (_, list) = s
        .admin(Method::GET, "/api/v1/webhooks/acme/dev", None)
        .await?;
    assert_eq!(list, json!([]));
    let _ = files_under;
    Ok(())
}
