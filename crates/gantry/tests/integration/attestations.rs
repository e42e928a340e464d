//! Signed promotion attestations: a package uploaded to dev, copied to staging through a
//! policy gate and moved to production in bulk verifies offline with `gantry verify`, with
//! the server's keys and with a saved key file; it fails, naming the step, with another key,
//! after a stored attestation is tampered with, and after the stored blob is.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

const BYTES: &[u8] = b"the release build of app 1.0";

/// Runs one SQL statement on the server's database (sqlite3 or psql, whichever it uses).
fn sql(s: &TestServer, statement: &str) -> TestResult {
    let out = match &s.database_url {
        Some(url) if url.starts_with("postgres") => std::process::Command::new("psql")
            .arg(url)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", statement])
            .output()?,
        _ => std::process::Command::new("sqlite3")
            .arg(s.data_dir.path().join("gantry.db"))
            .arg(statement)
            .output()?,
    };
    if !out.status.success() {
        return Err(format!("sql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

fn verify(s: &TestServer, target: &str, extra: &[&str]) -> TestResult<std::process::Output> {
    let mut args = vec!["verify", target];
    args.extend_from_slice(extra);
    s.cli(Some(ADMIN), &args)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_chain_verifies_offline_and_fails_when_tampered() -> TestResult {
    let s = TestServer::start()?;
    for repo in ["dev", "staging", "production"] {
        s.create_repo("acme", repo, true).await?;
    }
    // A gate whose decisions (with their input digests) end up in the statements.
    let (st, body) = s
        .admin(
            Method::POST,
            "/api/v1/policies/acme",
            Some(json!({"name": "no-forbidden",
                "rego": "package gantry\n\ndeny contains \"forbidden\" if input.package.name == \"forbidden\"\n"})),
        )
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, p) = s
        .upload_raw("acme/dev", "app", "1.0", "app.bin", BYTES)
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let dev_slug = p["slug_perm"].as_str().ok_or("slug")?.to_owned();
    let staging_slug = s.cli_ok(
        Some(ADMIN),
        &["cp", &format!("acme/dev/{dev_slug}"), "staging"],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "promote",
            "acme/staging",
            "production",
            &staging_slug,
            "--move",
        ],
    )?;
    let target = format!("acme/production/{staging_slug}");

    let out = verify(&s, &target, &[])?;
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("Trusting the keys"), "{said}");
    assert!(
        said.contains(&format!("upload to acme/dev/{dev_slug}")),
        "{said}"
    );
    assert!(said.contains("copy acme/dev/"), "{said}");
    assert!(said.contains("move acme/staging/"), "{said}");

    // The statements carry the gate's decisions and the files' digests.
    let (_, doc) = s
        .admin(
            Method::GET,
            &format!("/api/v1/packages/{target}/attestations"),
            None,
        )
        .await?;
    let envelopes = doc["attestations"]
        .as_array()
        .ok_or("attestations")?
        .clone();
    assert_eq!(envelopes.len(), 3, "{doc}");
    let statement = |e: &Value| -> TestResult<Value> {
        let payload = STANDARD.decode(e["payload"].as_str().ok_or("payload")?)?;
        Ok(serde_json::from_slice(&payload)?)
    };
    let copy = statement(&envelopes[1])?;
    assert_eq!(copy["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        copy["subject"][0]["digest"]["sha256"],
        crate::common::sha256_hex(BYTES)
    );
    let decision = &copy["predicate"]["policy_decisions"][0];
    assert_eq!(decision["policy"], "no-forbidden", "{copy}");
    assert!(decision["input_digest"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert_eq!(decision["allowed"], true);

    // With a saved copy of the keys; with someone else's key it fails.
    let dir = tempfile::tempdir()?;
    let keys = s.cli_ok(Some(ADMIN), &["keys", "ls"])?;
    let key_file = dir.path().join("keys.json");
    std::fs::write(&key_file, &keys)?;
    let out = verify(&s, &target, &["--key", &key_file.display().to_string()])?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Trusting the keys"));
    let other = gantry_attest::KeyPair::generate().public(0, None);
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, serde_json::to_string(&other)?)?;
    let out = verify(&s, &target, &["--key", &other_file.display().to_string()])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("step 1 (signature)"), "{}", text(&out));

    // A rotated key still verifies what it signed.
    s.cli_ok(Some(ADMIN), &["keys", "rotate"])?;
    let out = verify(&s, &target, &[])?;
    assert!(out.status.success(), "{}", text(&out));

    // A stored statement rewritten (the copy's actor) no longer matches its signature.
    let mut forged = statement(&envelopes[1])?;
    forged["predicate"]["actor"] = json!("mallory");
    let mut envelope = envelopes[1].clone();
    envelope["payload"] = json!(STANDARD.encode(serde_json::to_vec(&forged)?));
    let stored = envelope.to_string().replace('\'', "''");
    sql(
        &s,
        &format!("UPDATE attestations SET envelope = '{stored}' WHERE step = 'copy'"),
    )?;
    let out = verify(&s, &target, &[])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("step 2 (signature)"), "{}", text(&out));
    let original = envelopes[1].to_string().replace('\'', "''");
    sql(
        &s,
        &format!("UPDATE attestations SET envelope = '{original}' WHERE step = 'copy'"),
    )?;
    assert!(verify(&s, &target, &[])?.status.success());

    // Other bytes in the blob store: the download no longer matches the signed digest. (The
    // bytes are replaced on disk, so the run with blobs in S3 stops here.)
    if crate::common::blobs_in_s3() {
        return Ok(());
    }
    let stopped = s.shutdown()?;
    let hex = crate::common::sha256_hex(BYTES);
    let blob = stopped
        .data_dir
        .path()
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(&hex[2..4])
        .join(&hex);
    std::fs::write(&blob, b"the release build of app 6.6")?;
    let s = TestServer::builder().restart_of(stopped).start()?;
    let out = verify(&s, &target, &[])?;
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("step 1 (upload to acme/dev/") && said.contains("not the bytes"),
        "{said}"
    );
    Ok(())
}
