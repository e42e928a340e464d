//! Go modules with the real go command: `gantry push go` of a module directory and module
//! zips uploaded through the REST API, then `go mod download` and `go build` of programs that
//! depend on them; the `h1:` checksums Gantry shows against the ones go writes to `go.sum`;
//! pseudo-versions, `+incompatible` and case-encoded paths; yank, quarantine, delete and
//! promotion as go sees them; `GOPROXY` lists moving past a 404 and stopping at a refusal,
//! with Gantry's message printed; private repositories over HTTPS with `.netrc`, and
//! entitlement budgets.

mod client;
mod scan;
mod upstream;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::policies::package;
use client::{get_text, module_dir, module_zip, upload_zip, GoClient, TlsFront};

const PSEUDO: &str = "v1.2.4-0.20240102150405-abcdef123456";

/// `gantry push go REPO DIR --version V`: the slug, and the go.sum lines it showed.
fn push_dir(
    s: &TestServer,
    repo: &str,
    dir: &std::path::Path,
    version: &str,
) -> TestResult<(String, Vec<String>)> {
    let out = s.cli(
        Some(ADMIN),
        &[
            "push",
            "go",
            repo,
            &dir.display().to_string(),
            "--version",
            version,
        ],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("push failed: {stderr}").into());
    }
    let sums = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(" h1:"))
        .map(str::to_owned)
        .collect();
    Ok((String::from_utf8(out.stdout)?.trim().to_owned(), sums))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_builds_programs_from_modules_published_to_gantry() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "prod", false).await?;
    let go = GoClient::new(&format!("{}/acme/dev/go", s.url))?;
    let root = go.work.path().to_path_buf();

    // A module directory (upper case in its path), packed and pushed by the CLI, which shows
    // the go.sum lines of what it published.
    let hello = module_dir(&root, "hello", Some("example.com/Hello"), "hello v1.2.3")?;
    std::fs::create_dir_all(hello.join(".git"))?;
    std::fs::write(hello.join(".git/HEAD"), "ref: refs/heads/main\n")?;
    let (slug, shown) = push_dir(&s, "acme/dev", &hello, "v1.2.3")?;
    assert_eq!(shown.len(), 2, "{shown:?}");
    let p = package(&s, "acme/dev", &slug).await?;
    assert_eq!(p["name"], "example.com/Hello");
    assert_eq!(p["files"].as_array().map(Vec::len), Some(2), "{p}");
    assert!(p["files"][0]["download_url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/acme/dev/go/example.com/!hello/@v/v1.2.3.zip")));

    // A CI job uploads zips through the REST API: a pseudo-version, and a v2 module from
    // before modules (no go.mod, +incompatible).
    let pseudo = module_zip(
        &format!("example.com/Hello@{PSEUDO}/"),
        &[
            ("go.mod", b"module example.com/Hello\n"),
            ("greet.go", client::greeter("hello pseudo").as_bytes()),
        ],
    )?;
    let (st, pseudo_pkg) = upload_zip(&s, "acme/dev", ADMIN, pseudo).await?;
    assert_eq!(st, StatusCode::CREATED, "{pseudo_pkg}");
    assert_eq!(pseudo_pkg["sync_status"], "completed", "{pseudo_pkg}");
    let legacy = module_zip(
        "example.com/legacy@v2.0.0+incompatible/",
        &[("greet.go", client::greeter("legacy v2").as_bytes())],
    )?;
    let legacy_file = root.join("legacy-v2.0.0.zip");
    std::fs::write(&legacy_file, legacy)?;
    let legacy_slug = s.cli_ok(
        Some(ADMIN),
        &["push", "go", "acme/dev", &legacy_file.display().to_string()],
    )?;

    // The protocol: pseudo-versions are not listed; @latest is the release.
    let (st, list) = get_text(&s, "/acme/dev/go/example.com/!hello/@v/list").await?;
    assert_eq!((st, list.as_str()), (StatusCode::OK, "v1.2.3\n"));
    let (_, latest) = get_text(&s, "/acme/dev/go/example.com/!hello/@latest").await?;
    assert_eq!(serde_json::from_str::<Value>(&latest)?["Version"], "v1.2.3");
    let (_, info) = get_text(
        &s,
        &format!("/acme/dev/go/example.com/!hello/@v/{PSEUDO}.info"),
    )
    .await?;
    assert_eq!(
        serde_json::from_str::<Value>(&info)?,
        json!({"Version": PSEUDO, "Time": "2024-01-02T15:04:05Z"})
    );
    let (_, go_mod) = get_text(
        &s,
        "/acme/dev/go/example.com/legacy/@v/v2.0.0+incompatible.mod",
    )
    .await?;
    assert_eq!(go_mod, "module example.com/legacy\n");
    // The path as sent, not case-encoded, is no module of this proxy.
    let (st, _) = get_text(&s, "/acme/dev/go/example.com/Hello/@v/list").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // go builds a program that depends on them, and its go.sum holds what Gantry showed.
    let app = go.program(
        "app",
        &[
            ("example.com/Hello", "v1.2.3"),
            ("example.com/legacy", "v2.0.0+incompatible"),
        ],
    )?;
    let printed = go.ok(&app, "a", &["run", "."])?;
    assert_eq!(printed, "hello v1.2.3\nlegacy v2\n");
    let go_sum = std::fs::read_to_string(app.join("go.sum"))?;
    for line in &shown {
        assert!(go_sum.contains(line.as_str()), "{line} not in\n{go_sum}");
    }
    let downloaded: Value = serde_json::from_str(&go.ok(
        &app,
        "b",
        &[
            "mod",
            "download",
            "-json",
            &format!("example.com/Hello@{PSEUDO}"),
        ],
    )?)?;
    let pseudo_pkg = package(
        &s,
        "acme/dev",
        pseudo_pkg["slug_perm"].as_str().unwrap_or_default(),
    )
    .await?;
    assert_eq!(downloaded["Sum"], pseudo_pkg["metadata"]["h1"]);
    assert_eq!(downloaded["GoModSum"], pseudo_pkg["metadata"]["go_mod_h1"]);

    // Yanked: no longer listed nor latest, still served to whoever pins it.
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/yank"),
            Some(json!({"yanked": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let (_, list) = get_text(&s, "/acme/dev/go/example.com/!hello/@v/list").await?;
    assert_eq!(list, "");
    let (_, latest) = get_text(&s, "/acme/dev/go/example.com/!hello/@latest").await?;
    assert_eq!(serde_json::from_str::<Value>(&latest)?["Version"], PSEUDO);
    go.ok(&app, "c", &["mod", "download", "example.com/Hello@v1.2.3"])?;

    // Promoted to prod (the same bytes), it builds from there alike.
    s.cli_ok(Some(ADMIN), &["cp", &format!("acme/dev/{slug}"), "prod"])?;
    // The legacy module moves in a bulk promotion: gone from dev, served by prod.
    let (st, moved) = s
        .admin(
            Method::POST,
            "/api/v1/promotions",
            Some(json!({"source": "acme/dev", "destination": "acme/prod", "slugs": [legacy_slug], "mode": "move"})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{moved}");
    let (st, _) = get_text(&s, "/acme/dev/go/example.com/legacy/@v/list").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let from_prod = GoClient::new(&format!("{}/acme/prod/go", s.url))?;
    let app = from_prod.program(
        "app",
        &[
            ("example.com/Hello", "v1.2.3"),
            ("example.com/legacy", "v2.0.0+incompatible"),
        ],
    )?;
    assert_eq!(
        from_prod.ok(&app, "a", &["run", "."])?,
        "hello v1.2.3\nlegacy v2\n"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goproxy_lists_move_past_a_404_and_stop_at_a_refusal() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "mirror", false).await?;
    let go = GoClient::new(&format!("{0}/acme/dev/go,{0}/acme/mirror/go", s.url))?;
    let root = go.work.path().to_path_buf();
    let a_dev = module_dir(&root, "a-dev", Some("example.com/a"), "a from dev")?;
    let a_mirror = module_dir(&root, "a-mirror", Some("example.com/a"), "a from mirror")?;
    let b = module_dir(&root, "b", Some("example.com/b"), "b from mirror")?;
    let (a_slug, _) = push_dir(&s, "acme/dev", &a_dev, "v1.0.0")?;
    push_dir(&s, "acme/mirror", &a_mirror, "v1.0.0")?;
    push_dir(&s, "acme/mirror", &b, "v1.0.0")?;

    // b is not in dev (404): go moves on to the mirror.
    let app = go.program(
        "app",
        &[("example.com/a", "v1.0.0"), ("example.com/b", "v1.0.0")],
    )?;
    assert_eq!(
        go.ok(&app, "1", &["run", "."])?,
        "a from dev\nb from mirror\n"
    );

    // Quarantined in dev: a refusal stops go, which prints Gantry's reason; the mirror's copy
    // is not used behind the gate's back.
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/dev/{a_slug}"),
            "--reason",
            "held for review GO-1",
        ],
    )?;
    std::fs::remove_file(app.join("go.sum"))?;
    let refused = go.fails(&app, "2", &["run", "."])?;
    assert!(
        refused.contains("403 Forbidden") && refused.contains("held for review GO-1"),
        "{refused}"
    );

    // Deleted from dev: gone (404), so the mirror serves it.
    s.cli_ok(
        Some(ADMIN),
        &["quarantine", "remove", &format!("acme/dev/{a_slug}")],
    )?;
    s.cli_ok(Some(ADMIN), &["delete", &format!("acme/dev/{a_slug}")])?;
    std::fs::remove_file(app.join("go.sum")).ok();
    assert_eq!(
        go.ok(&app, "3", &["run", "."])?,
        "a from mirror\nb from mirror\n"
    );

    // Hostile or malformed zips are refused with the reason, and nothing is stored.
    let p = "example.com/evil@v1.0.0/";
    let gm: &[u8] = b"module example.com/evil\n";
    for (zip, why) in [
        (
            module_zip(p, &[("go.mod", gm), ("../../etc/x", b"")])?,
            "escapes",
        ),
        (
            module_zip(p, &[("go.mod", gm), ("sub/go.mod", gm)])?,
            "another module",
        ),
        (
            module_zip(p, &[("go.mod", gm), ("vendor/x.org/y/y.go", b"")])?,
            "vendored",
        ),
        (
            module_zip(p, &[("go.mod", b"module example.com/other\n")])?,
            "declares module",
        ),
        (
            module_zip("example.com/evil@v2.0.0/", &[("go.mod", gm)])?,
            "does not fit",
        ),
        (b"not a zip".to_vec(), "not a valid zip"),
    ] {
        let (st, body) = upload_zip(&s, "acme/dev", ADMIN, zip).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{why}: {body}"
        );
    }
    let (_, listed) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/dev?query=name:example.com/evil",
            None,
        )
        .await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_reads_private_repositories_over_https_with_netrc() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "private", true).await?;
    let front = TlsFront::start(&s.url)?;
    let proxy = format!("{}/acme/private/go", front.url);
    let root = tempfile::tempdir()?;
    let m = module_dir(
        root.path(),
        "m",
        Some("example.com/secret"),
        "private module",
    )?;
    push_dir(&s, "acme/private", &m, "v0.1.0")?;

    let read = s.token("acme/private", "read").await?;
    let go = GoClient::new(&proxy)?.with_credentials(&read, &front.cert)?;
    let app = go.program("app", &[("example.com/secret", "v0.1.0")])?;
    assert_eq!(go.ok(&app, "1", &["run", "."])?, "private module\n");

    // Without credentials the repository does not exist.
    let anonymous = GoClient::new(&proxy)?
        .with_credentials("gty_not_a_token_000000000000000000000", &front.cert)?;
    let app = anonymous.program("app", &[("example.com/secret", "v0.1.0")])?;
    let refused = anonymous.fails(&app, "1", &["run", "."])?;
    assert!(
        refused.contains("401") && refused.contains("token"),
        "{refused}"
    );

    // An entitlement token's budget counts files served (a module is its .mod and its .zip);
    // once spent, go prints why.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "entitlements",
            "create",
            "acme/private",
            "--max-downloads",
            "2",
            "-F",
            "json",
        ],
    )?;
    let entitlement: Value = serde_json::from_str(&out)?;
    let customer = GoClient::new(&proxy)?
        .with_credentials(entitlement["token"].as_str().ok_or("token")?, &front.cert)?;
    let app = customer.program("app", &[("example.com/secret", "v0.1.0")])?;
    assert_eq!(customer.ok(&app, "1", &["run", "."])?, "private module\n");
    std::fs::remove_file(app.join("go.sum"))?;
    let spent = customer.fails(&app, "2", &["run", "."])?;
    assert!(
        spent.contains("403") && spent.contains("used its 2 downloads"),
        "{spent}"
    );
    Ok(())
}
