//! The web interface's administration and what it shows of a repository: changing
//! upstreams and rules in place (a Rego condition too), sizes and formats per repository
//! kept by counters, the upload form's formats, one copy event in a copy's trail, and the
//! periodic sweep of web sessions.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::web_ui::Browser;

async fn signed_in(server: &TestServer) -> TestResult<Browser<'_>> {
    let mut browser = Browser::new(server)?;
    let page = browser.sign_in_with_token(ADMIN).await?;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    Ok(browser)
}

#[tokio::test]
async fn web_changes_upstreams_and_rules_in_place() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    server.create_repo("acme", "staging", true).await?;
    let (status, upstream) = server
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/upstreams",
            Some(
                json!({"format": "python", "name": "mirror", "url": "http://127.0.0.1:9/simple/",
                "password": "s3cret-pass"}),
            ),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{upstream}");
    let id = upstream["id"].as_i64().ok_or("id")?;
    let (status, rule) = server
        .admin(
            Method::POST,
            "/api/v1/repos/acme/dev/rules",
            Some(json!({"name": "to-staging", "condition": "max_severity < high", "destination": "staging"})),
        )
        .await?;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let mut browser = signed_in(&server).await?;
    let csrf = browser.csrf("/ui/acme/dev/-/automation").await?;
    let added = browser
        .post(
            "/ui/acme/dev/-/automation/upstreams",
            &[
                ("csrf", &csrf),
                ("format", "python"),
                ("name", "second"),
                ("url", "http://127.0.0.1:11/simple/"),
                ("mode", "cache"),
                ("priority", "3"),
                ("username", "reader"),
                ("password", "pw-of-reader"),
                ("local_names_only", "1"),
            ],
        )
        .await?;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let (_, all) = server
        .admin(Method::GET, "/api/v1/repos/acme/dev/upstreams", None)
        .await?;
    let second = all
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"] == "second")
        .ok_or("no upstream added")?;
    assert_eq!(
        (
            &second["username"],
            &second["has_password"],
            &second["local_names_only"]
        ),
        (&json!("reader"), &json!(true), &json!(true)),
        "{second}"
    );

    let edit = format!("/ui/acme/dev/-/automation/upstreams/{id}");
    let page = browser.get(&edit).await?;
    assert!(
        page.body.contains("http://127.0.0.1:9/simple/"),
        "{}",
        page.body
    );
    let csrf = browser.csrf(&edit).await?;
    let saved = browser
        .post(
            &format!("{edit}/save"),
            &[
                ("csrf", &csrf),
                ("format", "python"),
                ("name", "mirror"),
                ("url", "http://127.0.0.1:10/simple/"),
                ("mode", "proxy"),
                ("priority", "7"),
                ("index_ttl_seconds", "60"),
                ("password", ""),
            ],
        )
        .await?;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, after) = server
        .admin(
            Method::GET,
            &format!("/api/v1/repos/acme/dev/upstreams/{id}"),
            None,
        )
        .await?;
    assert_eq!(after["url"], "http://127.0.0.1:10/simple/", "{after}");
    assert_eq!(
        (after["priority"].as_i64(), after["mode"].as_str()),
        (Some(7), Some("proxy"))
    );
    assert_eq!(
        after["has_password"], true,
        "an empty password field keeps the stored one"
    );
    // A refused change shows the API's reason with its status and keeps what was typed.
    let refused = browser
        .post(
            &format!("{edit}/save"),
            &[
                ("csrf", &csrf),
                ("format", "python"),
                ("name", "mirror"),
                ("url", "http://127.0.0.1:10/simple/"),
                ("mode", "sideways"),
            ],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("mode must be proxy or cache"),
        "{}",
        refused.body
    );

    let edit = "/ui/acme/dev/-/automation/rules/to-staging";
    let rego = "package gantry\n\npromote if input.package.max_severity == \"none\"\n";
    let csrf = browser.csrf(edit).await?;
    let rule_form = |rego: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "to-staging".into()),
            ("on", "package.synced".into()),
            ("condition", String::new()),
            ("action", "copy".into()),
            ("destination", "staging".into()),
            ("enabled", "0".into()),
            ("rego", rego.into()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let form: Vec<(&str, String)> = form;
        form
    };
    let broken = send(rule_form("package gantry\n\npromote if {\n"));
    let broken: Vec<(&str, &str)> = broken.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = browser.post(&format!("{edit}/save"), &broken).await?;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let (_, rules) = server
        .admin(Method::GET, "/api/v1/repos/acme/dev/rules", None)
        .await?;
    assert_eq!(
        rules[0]["condition"], "max_severity < high",
        "a broken module changes nothing"
    );
    let good = send(rule_form(rego));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = browser.post(&format!("{edit}/save"), &good).await?;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (_, rules) = server
        .admin(Method::GET, "/api/v1/repos/acme/dev/rules", None)
        .await?;
    assert_eq!(rules[0]["condition"]["rego"], rego, "{rules}");
    assert_eq!(
        (rules[0]["on"].as_str(), rules[0]["enabled"].as_bool()),
        (Some("package.synced"), Some(false))
    );
    let (_, audit) = server
        .admin(Method::GET, "/api/v1/audit/acme?event=rule.updated", None)
        .await?;
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
    Ok(())
}

fn totals(repository: &Value) -> (i64, Vec<(String, i64, i64)>) {
    let formats = repository["formats"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["format"].as_str().unwrap_or("").to_owned(),
                f["package_count"].as_i64().unwrap_or(-1),
                f["size"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    (repository["size"].as_i64().unwrap_or(-1), formats)
}

#[tokio::test]
async fn web_repositories_show_sizes_and_formats_kept_by_counters() -> TestResult {
    let server = TestServer::start()?;
    server.create_repo("acme", "dev", true).await?;
    server.create_repo("acme", "staging", true).await?;
    let mut slugs = Vec::new();
    for (name, bytes) in [("one", &b"12345"[..]), ("two", &b"1234567"[..])] {
        let (status, p) = server
            .upload_raw("acme/dev", name, "1.0", &format!("{name}.bin"), bytes)
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{p}");
        let slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
        server.wait_for_sync("acme/dev", &slug).await?;
        slugs.push(slug);
    }
    let repo = |name: &'static str| {
        let server = &server;
        async move {
            let (_, r) = server
                .admin(Method::GET, &format!("/api/v1/repos/acme/{name}"), None)
                .await?;
            TestResult::Ok(totals(&r))
        }
    };
    assert_eq!(repo("dev").await?, (12, vec![("raw".into(), 2, 12)]));
    // A copy counts in its destination; a deleted package stops counting, and counts again
    // when restored.
    let (status, body) = server
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{}/copy", slugs[0]),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert!(status.is_success(), "{body}");
    assert_eq!(repo("staging").await?, (5, vec![("raw".into(), 1, 5)]));
    let (status, _) = server
        .admin(
            Method::DELETE,
            &format!("/api/v1/packages/acme/dev/{}", slugs[1]),
            None,
        )
        .await?;
    assert!(status.is_success());
    assert_eq!(repo("dev").await?, (5, vec![("raw".into(), 1, 5)]));
    let (_, list) = server
        .admin(Method::GET, "/api/v1/repos/acme", None)
        .await?;
    let listed: Vec<_> = list.as_array().into_iter().flatten().map(totals).collect();
    assert_eq!(
        listed,
        vec![
            (5, vec![("raw".into(), 1, 5)]),
            (5, vec![("raw".into(), 1, 5)])
        ]
    );
    let (status, _) = server
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{}/restore", slugs[1]),
            None,
        )
        .await?;
    assert!(status.is_success());
    assert_eq!(repo("dev").await?, (12, vec![("raw".into(), 2, 12)]));

    let mut browser = signed_in(&server).await?;
    let page = browser.get("/ui/acme").await?;
    assert!(page.body.contains("raw 2 · 12 B"), "{}", page.body);
    let page = browser.get("/ui/acme/dev").await?;
    assert!(page.body.contains("2 packages, 12 B"), "{}", page.body);
    let page = browser.get("/ui/acme/dev?q=name%3Atwo").await?;
    assert!(page.body.contains("1 packages match."), "{}", page.body);
    // The upload form offers the formats whose packages are one file, and chooses none.
    let page = browser.get("/ui/acme/dev/-/upload").await?;
    assert!(
        page.body.contains("<option value=\"raw\">raw</option>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<option value=\"python\">"));
    assert!(
        !page.body.contains("value=\"oci\"") && !page.body.contains(" selected"),
        "{}",
        page.body
    );
    // A copy's trail names the copy once (the source's record of it is left out).
    let (_, copies) = server
        .admin(Method::GET, "/api/v1/packages/acme/staging?query=", None)
        .await?;
    let copy = copies[0]["slug_perm"].as_str().ok_or("slug")?;
    let (_, trail) = server
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/staging/{copy}/events"),
            None,
        )
        .await?;
    let copied = trail
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == "package.copied")
        .count();
    assert_eq!(copied, 1, "{trail}");
    Ok(())
}

#[tokio::test]
async fn web_sessions_are_swept_by_a_periodic_job() -> TestResult {
    let server = TestServer::builder()
        .env("GANTRY_WEB_SESSION_SWEEP_SECONDS", "1")
        .start()?;
    // Each sweep schedules the next: the one outstanding job is a new one every second.
    let outstanding = || async {
        let (_, jobs) = server
            .admin(Method::GET, "/api/v1/admin/jobs?state=queued,running", None)
            .await?;
        let ids: Vec<i64> = jobs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|j| j["kind"] == "web.sessions_sweep")
            .filter_map(|j| j["id"].as_i64())
            .collect();
        TestResult::Ok(ids)
    };
    let first = outstanding().await?;
    assert_eq!(first.len(), 1, "one sweep is scheduled at start: {first:?}");
    let mut seen = std::collections::BTreeSet::from([first[0]]);
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let now = outstanding().await?;
        assert!(
            now.len() <= 1,
            "never more than one sweep outstanding: {now:?}"
        );
        seen.extend(now);
        if seen.len() >= 3 {
            return Ok(());
        }
    }
    Err(format!("the sweep did not run twice: {seen:?}").into())
}
