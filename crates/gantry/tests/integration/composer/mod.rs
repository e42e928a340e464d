//! Composer with the real client: `gantry push composer` of a package directory and dist
//! zips uploaded through the REST API, then `composer install` of projects that require them
//! with Composer's default public repository switched off; the metadata files as Composer
//! reads them (`packages.json`, `p2/…json`, `~dev`); yank, quarantine, delete and promotion as
//! Composer sees them, with Gantry's message printed on a refusal; hostile zips refused with
//! nothing stored; private repositories with `http-basic` tokens, and entitlement budgets.

pub(crate) mod client;
mod index;
mod scan;
mod upstream;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};
use crate::policies::package;
use client::{get_json, listed, package_dir, run_php, upload_zip, zip_of, ComposerClient};

/// `gantry push composer REPO DIR [--version V]`: the slug.
fn push_dir(
    s: &TestServer,
    repo: &str,
    dir: &std::path::Path,
    version: Option<&str>,
) -> TestResult<String> {
    let dir = dir.display().to_string();
    let mut args = vec!["push", "composer", repo, dir.as_str()];
    if let Some(v) = version {
        args.extend(["--version", v]);
    }
    s.cli_ok(Some(ADMIN), &args)
}

/// The dist zip of acme/hello `version` (in one top-level directory, as archives from a
/// forge are), requiring acme/util.
fn hello_zip(version: &str, greeting: &str) -> TestResult<Vec<u8>> {
    let manifest = json!({
        "name": "acme/hello", "version": version, "license": "MIT",
        "require": {"php": ">=7.0", "acme/util": "^1.0"},
        "autoload": {"psr-4": {"Acme\\Hello\\": "src/"}},
    })
    .to_string();
    let source = client::greeter("Acme\\Hello", greeting);
    zip_of(&[
        ("hello-1a2b3c/composer.json", manifest.as_bytes()),
        ("hello-1a2b3c/src/Greeter.php", source.as_bytes()),
    ])
}

const GREET_BOTH: &str =
    "echo \\Acme\\Hello\\Greeter::greet(), ' ', \\Acme\\Util\\Greeter::greet(), PHP_EOL;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_installs_packages_published_to_gantry() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    s.create_repo("acme", "prod", false).await?;
    let composer = ComposerClient::new(&format!("{}/acme/dev/composer", s.url))?;
    let root = composer.work.path().to_path_buf();

    // A package directory, packed and pushed by the CLI with the version given.
    let util = package_dir(&root, "acme/util", "Acme\\Util", "util 1.0", json!({}))?;
    let util_slug = push_dir(&s, "acme/dev", &util, Some("v1.0.0"))?;
    let p = package(&s, "acme/dev", &util_slug).await?;
    assert_eq!(
        (p["name"].as_str(), p["version"].as_str()),
        (Some("acme/util"), Some("v1.0.0"))
    );
    assert_eq!(p["metadata"]["version_normalized"], "1.0.0.0");
    assert!(
        p["files"][0]["download_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/acme/dev/composer/dists/acme/util/v1.0.0.zip")),
        "{p}"
    );

    // A CI job uploads zips; the version comes from composer.json. A dev branch goes to the
    // ~dev file only.
    let (st, hello) = upload_zip(
        &s,
        "acme/dev",
        ADMIN,
        hello_zip("1.2.0", "hello 1.2")?,
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{hello}");
    assert_eq!(hello["sync_status"], "completed", "{hello}");
    let hello_slug = hello["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let (st, dev) = upload_zip(
        &s,
        "acme/dev",
        ADMIN,
        hello_zip("dev-main", "hello main")?,
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{dev}");

    let (st, root_doc) = get_json(&s, "/acme/dev/composer/packages.json").await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        root_doc["metadata-url"],
        "/acme/dev/composer/p2/%package%.json"
    );
    assert_eq!(
        root_doc["available-packages"],
        json!(["acme/hello", "acme/util"])
    );
    let (_, meta) = get_json(&s, "/acme/dev/composer/p2/acme/hello.json").await?;
    let v = &meta["packages"]["acme/hello"][0];
    assert_eq!(
        (v["version"].as_str(), v["version_normalized"].as_str()),
        (Some("1.2.0"), Some("1.2.0.0"))
    );
    assert_eq!(v["dist"]["shasum"].as_str().map(str::len), Some(40), "{v}");
    assert_eq!(v["require"]["acme/util"], "^1.0");
    assert_eq!(
        listed(
            &s,
            "/acme/dev/composer/p2/acme/hello~dev.json",
            "acme/hello"
        )
        .await?,
        ["dev-main"]
    );
    let (st, _) = get_json(&s, "/acme/dev/composer/p2/acme/nonesuch.json").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // composer installs and autoloads them; the lock records Gantry's shasum.
    let app = composer.project("app", &[("acme/hello", "^1.2")])?;
    composer.ok(&app, "1", &["install", "-vvv"])?;
    assert_eq!(run_php(&app, GREET_BOTH)?, "hello 1.2 util 1.0\n");
    let lock: Value = serde_json::from_str(&std::fs::read_to_string(app.join("composer.lock"))?)?;
    let locked = lock["packages"].as_array().ok_or("lock")?;
    assert!(
        locked
            .iter()
            .any(|p| p["dist"]["shasum"] == v["dist"]["shasum"]),
        "{lock}"
    );

    // Copied to prod before it is yanked in dev (a copy keeps the yank).
    s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{hello_slug}"), "prod"],
    )?;

    // Yanked: gone from the metadata, still installed from a lock that pins it.
    let (st, _) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{hello_slug}/yank"),
            Some(json!({"yanked": true})),
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    assert!(
        listed(&s, "/acme/dev/composer/p2/acme/hello.json", "acme/hello")
            .await?
            .is_empty()
    );
    std::fs::remove_dir_all(app.join("vendor"))?;
    composer.ok(&app, "2", &["install"])?;

    // Quarantined: the lock's download is refused, and composer prints Gantry's reason.
    s.cli_ok(
        Some(ADMIN),
        &[
            "quarantine",
            "add",
            &format!("acme/dev/{util_slug}"),
            "--reason",
            "held for review PHP-1",
        ],
    )?;
    assert!(
        listed(&s, "/acme/dev/composer/p2/acme/util.json", "acme/util")
            .await?
            .is_empty()
    );
    std::fs::remove_dir_all(app.join("vendor"))?;
    let refused = composer.fails(&app, "3", &["install"])?;
    assert!(
        refused.contains("held for review PHP-1") && refused.contains("403"),
        "{refused}"
    );
    s.cli_ok(
        Some(ADMIN),
        &["quarantine", "remove", &format!("acme/dev/{util_slug}")],
    )?;

    // Promoted: hello was copied to prod, util moves there in a bulk promotion; prod installs.
    let (st, moved) = s
        .admin(Method::POST, "/api/v1/promotions",
               Some(json!({"source": "acme/dev", "destination": "acme/prod", "slugs": [util_slug], "mode": "move"})))
        .await?;
    assert_eq!(st, StatusCode::OK, "{moved}");
    let (st, _) = get_json(&s, "/acme/dev/composer/p2/acme/util.json").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, root_doc) = get_json(&s, "/acme/dev/composer/packages.json").await?;
    assert_eq!(root_doc["available-packages"], json!(["acme/hello"]));
    let from_prod = ComposerClient::new(&format!("{}/acme/prod/composer", s.url))?;
    let app = from_prod.project("app", &[("acme/hello", "1.2.0")])?;
    from_prod.ok(&app, "1", &["install"])?;
    assert_eq!(run_php(&app, GREET_BOTH)?, "hello 1.2 util 1.0\n");

    // Deleted: gone from the metadata and the list of names.
    let (_, copies) = s
        .admin(
            Method::GET,
            "/api/v1/packages/acme/prod?query=name:acme/hello",
            None,
        )
        .await?;
    let copy = copies[0]["slug_perm"].as_str().ok_or("copy")?;
    s.cli_ok(Some(ADMIN), &["delete", &format!("acme/prod/{copy}")])?;
    let (st, _) = get_json(&s, "/acme/prod/composer/p2/acme/hello.json").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, root_doc) = get_json(&s, "/acme/prod/composer/packages.json").await?;
    assert_eq!(root_doc["available-packages"], json!(["acme/util"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_or_malformed_composer_zips_are_refused_with_nothing_stored() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", false).await?;
    let good = br#"{"name":"acme/evil","version":"1.0.0"}"#;
    let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
        (
            zip_of(&[("composer.json", good), ("../../etc/cron.d/x", b"")])?,
            None,
            "escapes",
        ),
        (zip_of(&[("src/a.php", b"")])?, None, "no composer.json"),
        (
            zip_of(&[(
                "composer.json",
                br#"{"name":"Acme/Evil","version":"1.0.0"}"#,
            )])?,
            None,
            "lower case",
        ),
        (
            zip_of(&[("composer.json", br#"{"name":"acme/evil"}"#)])?,
            None,
            "--version",
        ),
        (
            zip_of(&[("composer.json", good)])?,
            Some("2.0.0"),
            "says version",
        ),
        (
            zip_of(&[("composer.json", b"{\"name\":")])?,
            None,
            "not valid JSON",
        ),
        (
            zip_of(&[("composer.json", good)])?,
            Some("not-a-version"),
            "not a Composer version",
        ),
        (b"PK\x03\x04 not a zip".to_vec(), None, "not a valid zip"),
    ];
    for (zip, version, why) in cases {
        let (st, body) = upload_zip(&s, "acme/dev", ADMIN, zip, version).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{why}: {body}"
        );
    }
    let (_, all) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(all.as_array().map(Vec::len), Some(0), "{all}");
    let (st, _) = get_json(&s, "/acme/dev/composer/p2/acme/evil.json").await?;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // One package per Composer version: 1.0 is 1.0.0 (both 1.0.0.0).
    let (st, _) = upload_zip(
        &s,
        "acme/dev",
        ADMIN,
        zip_of(&[("composer.json", good)])?,
        None,
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED);
    let plain = br#"{"name":"acme/evil"}"#;
    let (st, body) = upload_zip(
        &s,
        "acme/dev",
        ADMIN,
        zip_of(&[("composer.json", plain)])?,
        Some("v1.0"),
    )
    .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(
        body.to_string().contains("same Composer version (1.0.0.0)"),
        "{body}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composer_reads_private_repositories_with_http_basic_tokens() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "private", true).await?;
    s.create_repo("acme", "other", true).await?;
    let url = format!("{}/acme/private/composer", s.url);
    let root = tempfile::tempdir()?;
    let util = package_dir(
        root.path(),
        "acme/util",
        "Acme\\Util",
        "secret util",
        json!({"version": "1.0.0"}),
    )?;
    push_dir(&s, "acme/private", &util, None)?;
    let check = "echo \\Acme\\Util\\Greeter::greet(), PHP_EOL;";

    let read = s.token("acme/private", "read").await?;
    let composer = ComposerClient::new(&url)?.with_token(&read);
    let app = composer.project("app", &[("acme/util", "^1.0")])?;
    composer.ok(&app, "1", &["install"])?;
    assert_eq!(run_php(&app, check)?, "secret util\n");

    // A wrong token: composer prints Gantry's reason.
    let stranger = ComposerClient::new(&url)?.with_token("gty_not_a_token_000000000000000000000");
    let app = stranger.project("app", &[("acme/util", "^1.0")])?;
    let refused = stranger.fails(&app, "1", &["install"])?;
    assert!(
        refused.contains("Warning from") && refused.contains("token"),
        "{refused}"
    );
    // Another repository's token: the repository does not exist for it.
    let other = s.token("acme/other", "read").await?;
    let outsider = ComposerClient::new(&url)?.with_token(&other);
    let app = outsider.project("app", &[("acme/util", "^1.0")])?;
    let refused = outsider.fails(&app, "1", &["install"])?;
    assert!(refused.contains("404"), "{refused}");

    // An entitlement token's budget counts dists served; once spent, composer prints why.
    let out = s.cli_ok(
        Some(ADMIN),
        &[
            "entitlements",
            "create",
            "acme/private",
            "--max-downloads",
            "1",
            "-F",
            "json",
        ],
    )?;
    let entitlement: Value = serde_json::from_str(&out)?;
    let customer =
        ComposerClient::new(&url)?.with_token(entitlement["token"].as_str().ok_or("token")?);
    let app = customer.project("app", &[("acme/util", "^1.0")])?;
    customer.ok(&app, "1", &["install"])?;
    std::fs::remove_dir_all(app.join("vendor"))?;
    let spent = customer.fails(&app, "2", &["install"])?;
    assert!(spent.contains("used its 1 downloads"), "{spent}");
    Ok(())
}
