//! Issue 14, points 3 and 9: hostile archives and odd names, through the native publish
//! routes, where the client gets the error inline.

use std::io::Write;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{TestResult, TestServer, ADMIN};

/// Largest error body any of these refusals may send.
const SMALL: usize = 4 * 1024;

/// A raw tar header block.
fn header(name: &[u8], kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(kind));
    let field = h.as_old_mut().name.as_mut();
    let n = name.len().min(field.len());
    field[..n].copy_from_slice(&name[..n]);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn padded(mut body: Vec<u8>) -> Vec<u8> {
    body.resize(body.len().div_ceil(512) * 512, 0);
    body
}

/// A gzip tar whose first entry is a GNU long name of `len` bytes that really is there (it
/// compresses to almost nothing), followed by `rest`.
fn long_name_tgz(len: usize, rest: &[u8]) -> TestResult<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&header(b"././@LongLink", b'L', len as u64 + 1))?;
    let chunk = vec![b'a'; 1024 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        gz.write_all(&chunk[..n])?;
        left -= n;
    }
    // The NUL that ends the name, and the padding to a whole block.
    gz.write_all(&vec![0u8; 1 + (512 - (len + 1) % 512) % 512])?;
    gz.write_all(rest)?;
    gz.write_all(&[0u8; 1024])?;
    Ok(gz.finish()?)
}

fn tgz(tar: &[u8]) -> TestResult<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(tar)?;
    gz.write_all(&[0u8; 1024])?;
    Ok(gz.finish()?)
}

fn file(name: &str, body: &[u8]) -> Vec<u8> {
    let mut out = header(name.as_bytes(), b'0', body.len() as u64);
    out.extend(padded(body.to_vec()));
    out
}

fn npm_doc(name: &str, version: &str, tgz: &[u8]) -> Value {
    json!({
        "_id": name,
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {version: {"name": name, "version": version, "dist": {}}},
        "_attachments": {format!("{name}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tgz),
            "length": tgz.len(),
        }},
    })
}

/// Peak resident memory of a process, from /proc (Linux only; 0 elsewhere).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn text_of(resp: reqwest::Response) -> TestResult<(StatusCode, String)> {
    let status = resp.status();
    Ok((status, resp.text().await?))
}

/// A long-name or PAX header is refused on its declared size, before its body is read: a
/// 256 MiB long name (present in full, a few hundred KB of gzip) no longer raises the server's
/// peak memory by its size, and no error echoes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_tar_extension_headers_are_refused_without_reading_them() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;
    let pid = s.child.id();
    let before = peak_rss_kib(pid);

    let manifest = file(
        "package/package.json",
        br#"{"name":"big","version":"1.0.0"}"#,
    );
    let npm = long_name_tgz(256 * 1024 * 1024, &manifest)?;
    // Small on the wire (how small depends on the gzip backend), 256 MiB unpacked.
    assert!(npm.len() < 4 * 1024 * 1024, "{}", npm.len());
    let (st, body) = text_of(
        s.req(Method::PUT, "/acme/dev/npm/big", Some(ADMIN))
            .json(&npm_doc("big", "1.0.0", &npm))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("extended header") && body.len() < SMALL,
        "{body:.300}"
    );

    // A .crate whose long name (1 MiB, escaping) would once have been quoted whole.
    let krate = long_name_tgz(1024 * 1024, &file("big-1.0.0/Cargo.toml", b""))?;
    let meta = json!({"name": "big", "vers": "1.0.0", "deps": [], "features": {}, "links": null})
        .to_string();
    let mut publish = Vec::new();
    publish.extend_from_slice(&u32::try_from(meta.len())?.to_le_bytes());
    publish.extend_from_slice(meta.as_bytes());
    publish.extend_from_slice(&u32::try_from(krate.len())?.to_le_bytes());
    publish.extend_from_slice(&krate);
    let (st, body) = text_of(
        s.req(Method::PUT, "/acme/dev/cargo/api/v1/crates/new", None)
            .header("authorization", ADMIN)
            .body(publish)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(
        body.contains("extended header") && body.len() < SMALL,
        "{body:.300}"
    );

    // An sdist, the same way.
    let sdist = long_name_tgz(1024 * 1024, &file("big-1.0/PKG-INFO", b"Name: big\n"))?;
    let (st, body) = text_of(python_upload(&s, "big-1.0.tar.gz", sdist).await?).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(
        body.contains("extended header") && body.len() < SMALL,
        "{body:.300}"
    );

    let after = peak_rss_kib(pid);
    // Reading the long name would cost at least its 256 MiB; a bound of 64 MiB of growth
    // leaves room for the uploads' own buffers.
    if before > 0 {
        assert!(
            after.saturating_sub(before) < 64 * 1024,
            "peak RSS grew from {before} KiB to {after} KiB"
        );
    }
    Ok(())
}

async fn python_upload(
    s: &TestServer,
    filename: &str,
    bytes: Vec<u8>,
) -> TestResult<reqwest::Response> {
    let form = reqwest::multipart::Form::new()
        .text(":action", "file_upload")
        .part(
            "content",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
    Ok(s.http
        .post(format!("{}/acme/dev/python/", s.url))
        .basic_auth("__token__", Some(ADMIN))
        .multipart(form)
        .send()
        .await?)
}

/// Names that disguise themselves or lost their bytes, special files and links in packages,
/// and absurd versions are refused with 400 like the other bad names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_devices_links_and_huge_versions_are_refused() -> TestResult {
    let s = TestServer::start()?;
    s.create_repo("acme", "dev", true).await?;

    // Raw: a right-to-left override, and invalid UTF-8 (which would arrive as U+FFFD).
    let (st, body) = s
        .upload_raw("acme/dev", "app", "1.0", "invoice\u{202E}fdp.exe", b"x")
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let resp = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw?name=app&version=1.0&filename=a%FF%FEb.bin",
            Some(ADMIN),
        )
        .body("x")
        .send()
        .await?;
    let (st, body) = text_of(resp).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid UTF-8"), "{body}");

    // npm: a character device, a block device and a FIFO.
    for kind in [b'3', b'4', b'6'] {
        let mut tar = file(
            "package/package.json",
            br#"{"name":"dev","version":"1.0.0"}"#,
        );
        tar.extend(header(b"package/node", kind, 0));
        let (st, body) = text_of(
            s.req(Method::PUT, "/acme/dev/npm/dev", Some(ADMIN))
                .json(&npm_doc("dev", "1.0.0", &tgz(&tar)?))
                .send()
                .await?,
        )
        .await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("device, FIFO"), "{body}");
    }

    // npm: a 10,000-character prerelease.
    let version = format!("1.0.0-{}", "a".repeat(10_000));
    let manifest = json!({"name": "long", "version": version}).to_string();
    let tar = file("package/package.json", manifest.as_bytes());
    let (st, body) = text_of(
        s.req(Method::PUT, "/acme/dev/npm/long", Some(ADMIN))
            .json(&npm_doc("long", &version, &tgz(&tar)?))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body:.300}");
    assert!(body.len() < SMALL, "{}", body.len());

    // A wheel with a symlink entry.
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default();
        w.add_symlink("evil/passwd", "/etc/passwd", opts)?;
        w.start_file("evil-1.0.dist-info/METADATA", opts)?;
        w.write_all(b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")?;
        w.finish()?;
    }
    let (st, body) =
        text_of(python_upload(&s, "evil-1.0-py3-none-any.whl", out.into_inner()).await?).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("symbolic link"), "{body}");
    Ok(())
}
