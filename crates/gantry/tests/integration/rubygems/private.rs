//! Private repositories as gem and Bundler reach them: credentials in the source URL (a
//! read token as the password), strangers and tokens for other repositories seeing nothing,
//! and an entitlement token's download budget.

use reqwest::StatusCode;
use serde_json::Value;

use super::client::{get_text, Ruby};
use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_gems_need_a_token_for_their_repository() -> TestResult {
    if crate::common::native_client_suite_skipped() {
        return Ok(());
    }
    let s = TestServer::start()?;
    s.create_repo("acme", "private", true).await?;
    s.create_repo("acme", "other", true).await?;
    let ruby = Ruby::new()?;
    let root = ruby.work.path().to_path_buf();
    let secret = ruby.build("secret", "0.1.0", &[])?;
    let write = s.token("acme/private", "write").await?;
    let host = format!("{}/acme/private/rubygems", s.url);
    ruby.push(true, &host, &write, &secret)?;

    // Anonymous callers and tokens for another repository see no repository at all.
    let other = s.token("acme/other", "read").await?;
    for token in [None, Some(other.as_str())] {
        for path in [
            "versions",
            "info/secret",
            "specs.4.8.gz",
            "gems/secret-0.1.0.gem",
        ] {
            let (st, body) = get_text(&s, &format!("/acme/private/rubygems/{path}"), token).await?;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {body}");
            assert!(!body.contains("secret"), "{body}");
        }
    }
    let with = |token: &str| host.replacen("http://", &format!("http://gem:{token}@"), 1) + "/";
    let stranger = ruby.push(false, &host, &other, &secret)?;
    assert!(stranger.contains("not found"), "{stranger}");

    // A read token in the source URL: bundler and gem install.
    let read = s.token("acme/private", "read").await?;
    let app = ruby.project("1", &with(&read), &[("secret", "0.1.0")])?;
    let out = ruby.bundle_run(&app, "b", "require 'secret'; puts Secret.hi")?;
    assert_eq!(out, "secret 0.1.0\n");
    // gem yank prints the answer whatever its status.
    let refused = ruby.yank(&host, &read, "secret", "0.1.0")?;
    assert!(
        refused.contains("yank needs the write privilege on acme/private"),
        "{refused}"
    );

    // An entitlement token's budget counts .gem downloads; once spent, the download is refused.
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
    let customer = entitlement["token"].as_str().ok_or("token")?.to_owned();
    ruby.ok(
        &root,
        "d",
        None,
        "gem",
        &[
            "install",
            "secret",
            "--clear-sources",
            "--source",
            &with(&customer),
        ],
    )?;
    let spent = ruby.fails(
        &root,
        "e",
        None,
        "gem",
        &[
            "install",
            "secret",
            "--clear-sources",
            "--source",
            &with(&customer),
        ],
    )?;
    assert!(spent.contains("403"), "{spent}");
    let (st, body) = get_text(
        &s,
        "/acme/private/rubygems/gems/secret-0.1.0.gem",
        Some(&customer),
    )
    .await?;
    assert!(
        st == StatusCode::FORBIDDEN && body.contains("used its 1 downloads"),
        "{st} {body}"
    );
    Ok(())
}
