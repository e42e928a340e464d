//! What the CLI's listings show: tokens with their expiry, entitlements with their download
//! counts, packages with their filenames and every documented field in the query language.

use crate::common::{TestResult, TestServer, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_help_and_listings_show_what_a_user_needs() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let help = s.cli_ok(None, &["tokens", "--help"])?;
    let about = help.lines().next().unwrap_or_default().to_lowercase();
    assert!(about.contains("list") && about.contains("revoke"), "{help}");
    s.cli_ok(
        Some(ADMIN),
        &[
            "tokens",
            "create",
            "acme/dev",
            "--privilege",
            "read",
            "--expires-in-days",
            "30",
            "--description",
            "thirty days",
        ],
    )?;
    s.cli_ok(
        Some(ADMIN),
        &[
            "entitlements",
            "create",
            "acme/dev",
            "--max-downloads",
            "5",
            "--description",
            "customer",
        ],
    )?;
    let tokens = s.cli_ok(Some(ADMIN), &["tokens", "ls", "acme/dev"])?;
    let line = tokens
        .lines()
        .find(|l| l.contains("thirty days"))
        .ok_or_else(|| format!("no token line in {tokens}"))?;
    let year = chrono_year();
    assert!(line.contains("expires ") && line.contains(&year), "{line}");
    let ents = s.cli_ok(Some(ADMIN), &["entitlements", "ls", "acme/dev"])?;
    assert!(ents.contains("downloads 0/5"), "{ents}");
    assert!(ents.contains("expires never"), "{ents}");
    Ok(())
}

/// The year 30 days from now, as the expiry shows it (this year or the next).
fn chrono_year() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 30 * 86_400;
    // Days since 1970 to a civil year (proleptic Gregorian), enough for a year check.
    let days = (secs / 86_400) as i64;
    let (mut year, mut left) = (1970i64, days);
    loop {
        let len = if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
            366
        } else {
            365
        };
        if left < len {
            return format!("expires {year}-");
        }
        left -= len;
        year += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_pkgs_shows_filenames_and_queries_cover_package_fields() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let dir = tempfile::tempdir()?;
    for (file, version) in [
        ("app-1.0.tar.gz", "1.0"),
        ("app-1.0-linux.bin", "1.0-linux"),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, file.as_bytes())?;
        s.cli_ok(
            Some(ADMIN),
            &[
                "push",
                "raw",
                "acme/dev",
                path.to_str().ok_or("path")?,
                "--name",
                "app",
                "--version",
                version,
            ],
        )?;
    }
    let listing = s.cli_ok(Some(ADMIN), &["ls", "pkgs", "acme/dev"])?;
    assert!(listing.contains("app-1.0.tar.gz"), "{listing}");
    assert!(listing.contains("app-1.0-linux.bin"), "{listing}");
    let upstream = s.cli_ok(
        Some(ADMIN),
        &["ls", "pkgs", "acme/dev", "-q", "source:upstream"],
    )?;
    assert!(upstream.is_empty(), "{upstream}");
    let uploaded = s.cli_ok(
        Some(ADMIN),
        &["ls", "pkgs", "acme/dev", "-q", "source:upload"],
    )?;
    assert_eq!(uploaded.lines().count(), 2, "{uploaded}");
    let one = s.cli_ok(
        Some(ADMIN),
        &[
            "ls",
            "pkgs",
            "acme/dev",
            "-q",
            "filename:app-1.0.tar.gz sync_status:completed",
        ],
    )?;
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(one.contains("app-1.0.tar.gz"), "{one}");
    let none = s.cli_ok(
        Some(ADMIN),
        &["ls", "pkgs", "acme/dev", "-q", "is_yanked:true"],
    )?;
    assert!(none.is_empty(), "{none}");
    let sized = s.cli_ok(Some(ADMIN), &["ls", "pkgs", "acme/dev", "-q", "size:14"])?;
    assert_eq!(sized.lines().count(), 1, "{sized}");
    assert!(sized.contains("app-1.0.tar.gz"), "{sized}");
    let out = s.cli(Some(ADMIN), &["ls", "pkgs", "acme/dev", "-q", "colour:red"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown query field 'colour'") && err.contains("source"),
        "{err}"
    );
    Ok(())
}
