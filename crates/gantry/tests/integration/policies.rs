//! Policies (Rego) as promotion gates and as actions after scans, the decision log, built-in
//! promotion rules, and the brief's workflow end to end — with the documented example
//! policies from docs/policies/ as they are written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, bin, TestResult, TestServer, ADMIN};
use crate::receiver::Receiver;

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(path)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/policies")
        .join(name)
}

fn push(s: &TestServer, repo: &str, fixture: &str) -> TestResult<String> {
    let file = shared(&format!("fixtures/python/{fixture}"));
    s.cli_ok(
        Some(ADMIN),
        &["push", "python", repo, &file.display().to_string()],
    )
}

pub(crate) async fn package(s: &TestServer, repo: &str, slug: &str) -> TestResult<Value> {
    let (st, p) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{p}");
    Ok(p)
}

async fn names_in(s: &TestServer, repo: &str) -> TestResult<Vec<String>> {
    let (st, list) = s
        .admin(Method::GET, &format!("/api/v1/packages/{repo}"), None)
        .await?;
    assert_eq!(st, StatusCode::OK, "{list}");
    let mut names: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

async fn event_types(s: &TestServer, repo: &str, slug: &str) -> TestResult<Vec<String>> {
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{repo}/{slug}/events"),
            None,
        )
        .await?;
    Ok(trail
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect())
}

/// Polls until `pred` holds (at most 60 s).
async fn eventually<F, Fut>(what: &str, mut pred: F) -> TestResult
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = TestResult<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if pred().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn policy_file(dir: &Path, name: &str, text: &str) -> TestResult<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_managed_per_namespace_and_must_compile() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    let broken = policy_file(
        dir.path(),
        "broken.rego",
        "package gantry\ndeny contains x if {\n",
    )?;
    let out = s.cli(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "broken", "--file", &broken,
        ],
    )?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not compile"), "{stderr}");
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "other", "rego": "package other\n"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("package gantry"));

    let threshold = example("severity-threshold.rego").display().to_string();
    let line = s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "severity",
            "--file",
            &threshold,
            "--precedence",
            "10",
        ],
    )?;
    assert!(
        line.contains("severity") && line.contains("enabled"),
        "{line}"
    );
    let (st, _) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "severity", "rego": "package gantry\n"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CONFLICT);
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "later",
            "--file",
            &threshold,
            "--disabled",
        ],
    )?;
    let listed = s.cli_ok(Some(ADMIN), &["policy", "ls", "acme"])?;
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with("severity") && lines[1].contains("disabled"),
        "{listed}"
    );

    // A new source is a new version; enabling and disabling keeps the version.
    let tag = example("required-tag.rego").display().to_string();
    let updated: Value = serde_json::from_str(&s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "update",
            "acme/later",
            "--file",
            &tag,
            "--enable",
            "-F",
            "json",
        ],
    )?)?;
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["enabled"], true);
    let (st, got) = s
        .admin(Method::GET, "/api/v1/policies/acme/later", None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(got["rego"].as_str().unwrap_or_default().contains("tested"));
    s.cli_ok(
        Some(ADMIN),
        &["policy", "update", "acme/later", "--disable"],
    )?;
    s.cli_ok(Some(ADMIN), &["policy", "delete", "acme/later"])?;
    let (st, _) = s
        .admin(Method::GET, "/api/v1/policies/acme/later", None)
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Readers may see policies, only admins change them.
    let read = s.token("acme", "read").await?;
    let (st, list) = s
        .call(Method::GET, "/api/v1/policies/acme", Some(&read), None)
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/policies/acme",
            Some(&read),
            Some(json!({"name": "x", "rego": "package gantry\n"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call(Method::GET, "/api/v1/policies/acme", None, None)
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (_, audit) = s.admin(Method::GET, "/api/v1/audit/acme", None).await?;
    let text = audit.to_string();
    assert!(
        text.contains("policy.created") && text.contains("policy.deleted"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_promotions_with_every_reason_and_logs_each_decision() -> TestResult {
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "production"] {
        s.create_repo("acme", repo, true).await?;
    }
    let six = push(&s, "acme/dev", "six-1.16.0-py2.py3-none-any.whl")?;
    let requests = push(&s, "acme/dev", "requests-2.19.1-py2.py3-none-any.whl")?;
    let idna = push(&s, "acme/dev", "idna-3.7-py3-none-any.whl")?;
    let licences = example("licence-allowlist.rego").display().to_string();
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "licences", "--file", &licences,
        ],
    )?;

    // Licence allow-list: MIT passes, "Apache 2.0" (not the SPDX id) and no licence do not.
    let copied = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{six}"), "staging"])?;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{requests}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_error(st, &body, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "licences: requests 2.19.1 is licensed \"Apache 2.0\", which is not on the allow-list"
        ),
        "{message}"
    );
    let out = s.cli(Some(ADMIN), &["mv", &format!("acme/dev/{idna}"), "staging"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("declares no licence"));
    assert_eq!(names_in(&s, "acme/staging").await?, vec!["six"]);
    assert!(event_types(&s, "acme/dev", &requests)
        .await?
        .contains(&"package.policy_violated".to_owned()));
    assert_eq!(package(&s, "acme/dev", &idna).await?["state"], "available");

    // Bulk: a dry run names every blocked package and its reason; the real run promotes none.
    let body = json!({"source": "acme/dev", "destination": "acme/staging",
                      "slugs": [requests, idna], "dry_run": true});
    let (st, dry) = s
        .admin(Method::POST, "/api/v1/promotions", Some(body.clone()))
        .await?;
    assert_eq!(st, StatusCode::OK, "{dry}");
    assert_eq!(dry["refused"], 2, "{dry}");
    let reasons: Vec<String> = dry["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("blocked by policy: licences:")),
        "{reasons:?}"
    );
    let mut real = body;
    real["dry_run"] = false.into();
    let (st, refused) = s
        .admin(Method::POST, "/api/v1/promotions", Some(real))
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["result"]["refused"], 2);
    assert_eq!(names_in(&s, "acme/staging").await?, vec!["six"]);

    // The decision log: every evaluation, with the policy version and the input's digest.
    let (st, log) = s
        .admin(
            Method::GET,
            &format!("/api/v1/policies/acme/decisions?policy=licences&slug_perm={requests}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let entries = log.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{log}");
    for d in &entries {
        assert_eq!(d["denied"], true);
        assert_eq!(d["policy_version"], 1);
        assert_eq!(d["trigger"], "promotion");
        assert_eq!(d["destination"], "acme/staging");
        assert_eq!(d["input_digest"].as_str().map(str::len), Some(64));
    }
    let text = s.cli_ok(Some(ADMIN), &["policy", "decisions", "acme/licences"])?;
    assert!(text.contains("DENY") && text.contains("allow"), "{text}");

    // Simulation evaluates without acting.
    let sim = s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "simulate",
            "acme/licences",
            "--repo",
            "dev",
            "--destination",
            "staging",
        ],
    )?;
    assert!(sim.contains(&format!("allow {six}")), "{sim}");
    assert!(sim.contains(&format!("DENY  {requests}")), "{sim}");
    // Without --repo, every repository of the namespace: the copy in staging too.
    let all = s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "simulate",
            "acme/licences",
            "-q",
            "name:six",
            "--destination",
            "production",
        ],
    )?;
    assert_eq!(
        all.lines().filter(|l| l.starts_with("allow")).count(),
        2,
        "{all}"
    );
    let before = log.as_array().map(Vec::len);
    let (_, after) = s
        .admin(
            Method::GET,
            &format!("/api/v1/policies/acme/decisions?policy=licences&slug_perm={requests}"),
            None,
        )
        .await?;
    assert_eq!(after.as_array().map(Vec::len), before);

    // Required tag for production: refused until the package is tagged `tested`.
    s.cli_ok(
        Some(ADMIN),
        &["policy", "update", "acme/licences", "--disable"],
    )?;
    let tag = example("required-tag.rego").display().to_string();
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "tested", "--file", &tag,
        ],
    )?;
    let out = s.cli(
        Some(ADMIN),
        &["cp", &format!("acme/staging/{copied}"), "production"],
    )?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not tagged 'tested'"));
    s.cli_ok(
        Some(ADMIN),
        &["tags", "add", &format!("acme/staging/{copied}"), "tested"],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/staging/{copied}"), "production"],
    )?;
    assert_eq!(names_in(&s, "acme/production").await?, vec!["six"]);

    // Minimum age, with the documented policy's day shortened to three seconds.
    s.cli_ok(Some(ADMIN), &["policy", "delete", "acme/tested"])?;
    let text = std::fs::read_to_string(example("minimum-age.rego"))?;
    assert!(text.contains("min_age_seconds := 86400"));
    let dir = tempfile::tempdir()?;
    let aged = policy_file(
        dir.path(),
        "age.rego",
        &text.replace("min_age_seconds := 86400", "min_age_seconds := 3"),
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "cool-down",
            "--file",
            &aged,
        ],
    )?;
    let fresh = s
        .upload_raw("acme/dev", "notes", "1", "notes.txt", b"hello")
        .await?
        .1["slug_perm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = Instant::now();
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{fresh}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("packages wait 3 seconds"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed())).await;
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{fresh}/copy"),
            Some(json!({"destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    // A policy that runs away is stopped and fails closed.
    s.cli_ok(Some(ADMIN), &["policy", "delete", "acme/cool-down"])?;
    let runaway = policy_file(
        dir.path(),
        "runaway.rego",
        "package gantry\n\ndeny contains \"never\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j == -1\n}\n",
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "runaway", "--file", &runaway,
        ],
    )?;
    let t = Instant::now();
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{fresh}/copy"),
            Some(json!({"destination": "production"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("could not be evaluated"),
        "{body}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    // One that allocates without bound fails in its evaluator process, not in the server;
    // unconditionally so, it is refused when created.
    s.cli_ok(Some(ADMIN), &["policy", "delete", "acme/runaway"])?;
    let bomb = "count(numbers.range(1, 100000000000)) == 0";
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "hog", "rego": format!("package gantry\n\ndeny contains \"x\" if {{\n\t{bomb}\n}}\n")})),
        )
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "hog", "rego": format!("package gantry\n\ndeny contains \"x\" if {{\n\tinput.destination != null\n\t{bomb}\n}}\n")})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{fresh}/copy"),
            Some(json!({"destination": "production"})),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The evaluator's memory cap stops it; on a loaded machine its time limit may come first.
    // Either way the gate fails closed and the server stays up.
    let text = body.to_string();
    assert!(
        text.contains("memory limit") || text.contains("time limit"),
        "{body}"
    );
    let (st, _) = s.call(Method::GET, "/healthz", None, None).await?;
    assert_eq!(st, StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_promote_through_the_gate_with_shorthand_or_rego_conditions() -> TestResult {
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "qa"] {
        s.create_repo("acme", repo, true).await?;
    }
    let bad = s.cli(
        Some(ADMIN),
        &[
            "rules",
            "create",
            "acme/dev",
            "--name",
            "x",
            "--condition",
            "max_severity < severe",
            "--destination",
            "staging",
        ],
    )?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a severity"));
    s.cli_ok(
        Some(ADMIN),
        &[
            "rules",
            "create",
            "acme/dev",
            "--name",
            "clean-to-staging",
            "--condition",
            "max_severity < high and num_vulnerabilities == 0",
            "--destination",
            "staging",
        ],
    )?;
    let dir = tempfile::tempdir()?;
    let rego = policy_file(
        dir.path(),
        "rule.rego",
        "package gantry\n\npromote if input.package.name == \"six\"\n",
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "rules",
            "create",
            "acme/dev",
            "--name",
            "six-to-qa",
            "--rego-file",
            &rego,
            "--on",
            "package.synced",
            "--destination",
            "qa",
        ],
    )?;
    let listed = s.cli_ok(Some(ADMIN), &["rules", "ls", "acme/dev"])?;
    assert!(
        listed.contains("clean-to-staging") && listed.contains("(rego)"),
        "{listed}"
    );
    // A rule is changed in place: disabled, then enabled again with the same condition.
    for disabled in [true, false] {
        let mut args = vec![
            "rules",
            "update",
            "acme/dev/six-to-qa",
            "--rego-file",
            &rego,
            "--on",
            "package.synced",
            "--destination",
            "qa",
            "-F",
            "json",
        ];
        if disabled {
            args.push("--disabled");
        }
        let updated: Value = serde_json::from_str(&s.cli_ok(Some(ADMIN), &args)?)?;
        assert_eq!(updated["enabled"], !disabled, "{updated}");
    }

    let six = push(&s, "acme/dev", "six-1.16.0-py2.py3-none-any.whl")?;
    let idna = push(&s, "acme/dev", "idna-3.7-py3-none-any.whl")?;
    eventually("six in staging and qa, idna in staging", || async {
        Ok(names_in(&s, "acme/staging").await? == vec!["idna", "six"]
            && names_in(&s, "acme/qa").await? == vec!["six"])
    })
    .await?;
    // A rule's promotion is an ordinary copy, by the rule.
    let (_, staged) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/staging?query=name:six",
            None,
        )
        .await?;
    let copy = staged[0]["slug_perm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, trail) = s
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
        .find(|e| e["event"] == "package.copied" && e["repository"] == "acme/staging")
        .cloned()
        .unwrap_or_default();
    assert_eq!(copied["actor"], "rule:clean-to-staging", "{trail}");
    let _ = (six, idna);

    s.cli_ok(Some(ADMIN), &["rules", "delete", "acme/dev/six-to-qa"])?;
    let listed = s.cli_ok(Some(ADMIN), &["rules", "ls", "acme/dev"])?;
    assert!(!listed.contains("six-to-qa"), "{listed}");
    // Creating a rule needs the policies privilege.
    let write = s.token("acme/dev", "write").await?;
    let (st, _) = s
        .call(
            Method::POST,
            "/api/v1/repos/acme/dev/rules",
            Some(&write),
            Some(json!({"name": "y", "condition": "tag == ok", "destination": "staging"})),
        )
        .await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    Ok(())
}

/// State of the receiver that runs `gantry mv` itself.
struct Mover {
    url: String,
    token: String,
    runs: std::sync::Mutex<Vec<String>>,
}

async fn mover_hook(State(m): State<Arc<Mover>>, body: Bytes) -> AxumStatus {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let clean = payload["event"] == "package.security_scanned"
        && payload["repository"] == "acme/dev"
        && payload["context"]["num_vulnerabilities"] == 0;
    if !clean {
        return AxumStatus::OK;
    }
    let slug = payload["package"]["slug_perm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (url, token) = (m.url.clone(), m.token.clone());
    let target = format!("acme/dev/{slug}");
    let result = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin())
            .args(["mv", &target, "staging"])
            .env("GANTRY_URL", url)
            .env("GANTRY_TOKEN", token)
            .output()
    })
    .await;
    match result {
        Ok(Ok(out)) if out.status.success() => {
            if let Ok(mut runs) = m.runs.lock() {
                runs.push(slug);
            }
            AxumStatus::OK
        }
        _ => AxumStatus::INTERNAL_SERVER_ERROR,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_briefs_workflow_end_to_end() -> TestResult {
    // A second Gantry serves as dev's Python upstream; staging has none.
    let upstream = TestServer::start()?;
    upstream.create_repo("mirror", "pypi", false).await?;
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "upstream",
            "python",
            "create",
            "acme/dev",
            "--name",
            "public",
            "--url",
            &format!("{}/mirror/pypi/python/simple/", upstream.url),
            "--mode",
            "cache",
        ],
    )?;
    // Changed in place through the CLI: the same id, the new priority.
    let (_, ups) = s
        .admin(Method::GET, "/api/v1/repos/acme/dev/upstreams", None)
        .await?;
    let id = ups[0]["id"].to_string();
    let updated: Value = serde_json::from_str(&s.cli_ok(
        Some(ADMIN),
        &[
            "upstream",
            "python",
            "update",
            "acme/dev",
            &id,
            "--name",
            "public",
            "--url",
            &format!("{}/mirror/pypi/python/simple/", upstream.url),
            "--priority",
            "2",
            "-F",
            "json",
        ],
    )?)?;
    assert_eq!(
        (updated["id"].to_string(), &updated["priority"]),
        (id, &json!(2))
    );
    let (_, ups) = s
        .admin(Method::GET, "/api/v1/repos/acme/staging/upstreams", None)
        .await?;
    assert_eq!(ups.as_array().map(Vec::len), Some(0));
    s.cli_ok(
        Some(ADMIN),
        &[
            "vulndb",
            "import",
            &shared("osv/PyPI").display().to_string(),
        ],
    )?;

    let receiver = Receiver::start(&[]).await?;
    let (st, _) = s
        .admin(
            Method::POST,
            "/api/v1/webhooks/acme/dev",
            Some(json!({"target_url": receiver.url, "events": ["package.security_scanned"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let threshold = example("severity-threshold.rego").display().to_string();
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "severity", "--file", &threshold,
        ],
    )?;
    // Policies also act after scans: this one tags what the scanner has seen.
    let dir = tempfile::tempdir()?;
    let tagger = policy_file(
        dir.path(),
        "tag.rego",
        "package gantry\n\nadd_tags contains \"scanned\" if input.event == \"package.security_scanned\"\n",
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy",
            "create",
            "acme",
            "--name",
            "tag-scanned",
            "--file",
            &tagger,
        ],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "rules",
            "create",
            "acme/dev",
            "--name",
            "dev-to-staging",
            "--on",
            "package.security_scanned",
            "--condition",
            "format == python",
            "--destination",
            "staging",
        ],
    )?;

    let vulnerable = push(&s, "acme/dev", "Jinja2-2.10-py2.py3-none-any.whl")?;
    let clean = push(&s, "acme/dev", "six-1.16.0-py2.py3-none-any.whl")?;
    let hits = receiver
        .wait_for("two scans", |hits| {
            hits.iter()
                .filter(|h| h.event() == "package.security_scanned")
                .count()
                >= 2
        })
        .await?;
    let scanned = |slug: &str| {
        hits.iter()
            .map(|h| h.json())
            .find(|p| p["package"]["slug_perm"] == slug)
            .unwrap_or_default()
    };
    let v = scanned(&vulnerable);
    assert_eq!(v["context"]["num_vulnerabilities"], 2, "{v}");
    let worst = v["context"]["max_severity"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        ["high", "critical", "unknown"].contains(&worst.as_str()),
        "{v}"
    );
    let c = scanned(&clean);
    assert_eq!(c["context"]["num_vulnerabilities"], 0, "{c}");
    assert_eq!(c["context"]["max_severity"], "none", "{c}");

    eventually(
        "the clean package in staging, the vulnerable one quarantined",
        || async {
            Ok(names_in(&s, "acme/staging").await? == vec!["six"]
                && package(&s, "acme/dev", &vulnerable).await?["state"] == "quarantined")
        },
    )
    .await?;
    let v = package(&s, "acme/dev", &vulnerable).await?;
    let reason = v["status_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("policy severity")
            && reason.contains("Jinja2 2.10 has 2 known vulnerabilities"),
        "{v}"
    );
    let types = event_types(&s, "acme/dev", &vulnerable).await?;
    assert!(
        types.contains(&"package.policy_violated".to_owned()),
        "{types:?}"
    );
    assert!(
        types.contains(&"package.quarantined".to_owned()),
        "{types:?}"
    );
    let (_, trail) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{vulnerable}/events"),
            None,
        )
        .await?;
    let violation = trail
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["event"] == "package.policy_violated")
        .cloned()
        .unwrap_or_default();
    assert_eq!(violation["actor"], "rule:dev-to-staging", "{violation}");
    assert_eq!(violation["destination_repository"], "acme/staging");
    // The vulnerable package's files are refused now, naming the reason.
    let (_, pkg) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{vulnerable}"),
            None,
        )
        .await?;
    let url = pkg["files"][0]["download_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(ADMIN)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The after-scan policy tagged both packages; its decisions are in the log.
    assert!(package(&s, "acme/dev", &clean).await?["tags"]
        .to_string()
        .contains("scanned"));
    let (_, log) = s
        .admin(
            Method::GET,
            "/api/v1/policies/acme/decisions?policy=tag-scanned",
            None,
        )
        .await?;
    assert!(log.as_array().is_some_and(|l| l.len() >= 2), "{log}");

    // The same flow driven from outside: the receiver runs `gantry mv` for clean packages.
    s.cli_ok(Some(ADMIN), &["rules", "delete", "acme/dev/dev-to-staging"])?;
    let mover = Arc::new(Mover {
        url: s.url.clone(),
        token: ADMIN.to_owned(),
        runs: std::sync::Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(mover_hook))
        .with_state(Arc::clone(&mover));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (st, _) = s
        .admin(
            Method::POST,
            "/api/v1/webhooks/acme/dev",
            Some(json!({"target_url": hook_url, "events": ["package.security_scanned"]})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED);
    let idna = push(&s, "acme/dev", "idna-3.7-py3-none-any.whl")?;
    let requests = push(&s, "acme/dev", "requests-2.19.1-py2.py3-none-any.whl")?;
    eventually("the receiver moved idna", || async {
        Ok(mover
            .runs
            .lock()
            .map(|r| r.contains(&idna))
            .unwrap_or(false))
    })
    .await?;
    // Moved: the same slug_perm, now in staging and gone from dev.
    let moved = package(&s, "acme/staging", &idna).await?;
    assert_eq!(moved["repository"], "acme/staging");
    let (st, _) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/acme/dev/{idna}"),
            None,
        )
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    receiver
        .wait_for("the scan of requests", |hits| {
            hits.iter()
                .any(|h| h.json()["package"]["slug_perm"] == requests.as_str())
        })
        .await?;
    server.abort();
    assert_eq!(names_in(&s, "acme/staging").await?, vec!["idna", "six"]);
    Ok(())
}

/// A format without a scanner is `not_supported`, not `awaiting_scan`, when the namespace has
/// policies: the README's severity policy then lets raw packages through the gate (it blocked
/// them as "not scanned" forever), and the policies still run after sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_packages_pass_the_severity_gate_when_policies_exist() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "staging", true).await?;
    let threshold = example("severity-threshold.rego").display().to_string();
    s.cli_ok(
        Some(ADMIN),
        &[
            "policy", "create", "acme", "--name", "severity", "--file", &threshold,
        ],
    )?;
    let tagger =
        "package gantry\n\nadd_tags contains \"seen\" if input.event == \"package.synced\"\n";
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "tagger", "rego": tagger})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), b"release 1.0")?;
    let slug = s.cli_ok(
        Some(ADMIN),
        &[
            "push",
            "raw",
            "acme/dev",
            &file.path().display().to_string(),
            "--name",
            "app",
            "--version",
            "1.0",
        ],
    )?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let p = loop {
        let p = package(&s, "acme/dev", &slug).await?;
        let tagged = p["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "seen"));
        if tagged || Instant::now() > deadline {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(p["security_scan_status"], "not_supported", "{p}");
    assert!(
        p["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "seen")),
        "policies still run after sync: {p}"
    );
    let staged = s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "staging"])?;
    let copy = package(&s, "acme/staging", &staged).await?;
    assert_eq!(copy["security_scan_status"], "not_supported", "{copy}");
    Ok(())
}
