//! Blobs in an S3-compatible bucket (moto's server from the test venv, on 127.0.0.1): uploads
//! stream into the bucket under the configured prefix, downloads and ranges stream out,
//! processing reads the blob back, promotion writes no object, and an outage of the store
//! during an upload is a clean error that records nothing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestResult, TestServer, ADMIN};
use crate::python::tool;

pub(crate) const BUCKET: &str = "gantry-blobs";

/// moto's S3 server on a free port, with the bucket made; killed on drop.
pub(crate) struct Moto {
    pub(crate) url: String,
    pub(crate) child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub(crate) async fn start() -> TestResult<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(tool("moto_server")?)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(&moto.url).send().await.is_ok() {
                let created = http.put(format!("{}/{BUCKET}", moto.url)).send().await?;
                if !created.status().is_success() {
                    return Err(format!("creating the bucket: {}", created.status()).into());
                }
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("moto_server did not start".into())
    }

    /// Keys of the bucket's objects under `prefix`.
    pub(crate) async fn keys(&self, prefix: &str) -> TestResult<Vec<String>> {
        let listing = reqwest::Client::new()
            .get(format!("{}/{BUCKET}?list-type=2&prefix={prefix}", self.url))
            .send()
            .await?
            .text()
            .await?;
        Ok(listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect())
    }

    /// Writes an object with a signed request (boto3 from the test venv), as an operator's
    /// tool would.
    pub(crate) fn put_object(&self, key: &str, bytes: &[u8]) -> TestResult {
        let script = "import sys, boto3\n\
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
            aws_access_key_id='test', aws_secret_access_key='test')\n\
            s3.put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=sys.stdin.buffer.read())\n";
        let mut child = Command::new(tool("python")?)
            .args(["-c", script, &self.url, BUCKET, key])
            .stdin(Stdio::piped())
            .spawn()?;
        std::io::Write::write_all(&mut child.stdin.take().ok_or("stdin")?, bytes)?;
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("writing {key}: {status}").into());
        }
        Ok(())
    }

    /// The storage URL and environment a process needs to use the bucket under `site-a/`.
    pub(crate) fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GANTRY_STORAGE_URL", format!("s3://{BUCKET}/site-a")),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
        ]
    }

    /// A server builder with its blobs in the bucket.
    pub(crate) fn builder(&self) -> crate::common::ServerBuilder {
        self.environment()
            .into_iter()
            .fold(TestServer::builder(), |b, (k, v)| b.env(k, &v))
    }

    fn server(&self) -> TestResult<TestServer> {
        self.builder().start()
    }
}

fn blob_keys(keys: &[String]) -> Vec<&String> {
    keys.iter()
        .filter(|k| k.starts_with("site-a/sha256/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_live_in_an_s3_bucket() -> TestResult {
    let moto = Moto::start().await?;
    let s = moto.server()?;
    s.create_repo("acme", "dev", true).await?;
    s.create_repo("acme", "production", false).await?;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (st, pkg) = s
        .upload_raw("acme/dev", "app", "1.0", "app-1.0.bin", &body)
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{pkg}");
    let keys = moto.keys("site-a/").await?;
    let sha = crate::common::sha256_hex(&body);
    assert!(
        blob_keys(&keys)
            .iter()
            .any(|k| k.ends_with(&format!("/{sha}"))),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| !k.starts_with("site-a/tmp/")),
        "no temporary object is left: {keys:?}"
    );

    // Whole and ranged downloads stream back from the bucket.
    let path = "/acme/dev/raw/app/1.0/app-1.0.bin";
    let whole = s.req(Method::GET, path, Some(ADMIN)).send().await?;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await?.as_ref(), body.as_slice());
    let part = s
        .req(Method::GET, path, Some(ADMIN))
        .header("range", "bytes=1000-1999")
        .send()
        .await?;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await?.as_ref(), &body[1000..2000]);

    // Promotion shares the blob: no object is written.
    let slug = pkg["slug_perm"].as_str().ok_or("slug")?;
    let (st, copied) = s
        .admin(
            Method::POST,
            &format!("/api/v1/packages/acme/dev/{slug}/copy"),
            Some(serde_json::json!({ "destination": "production" })),
        )
        .await?;
    assert!(st.is_success(), "{copied}");
    assert_eq!(moto.keys("site-a/").await?.len(), keys.len());
    let public = s
        .req(
            Method::GET,
            "/acme/production/raw/app/1.0/app-1.0.bin",
            None,
        )
        .send()
        .await?;
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.bytes().await?.len(), body.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_the_store_during_an_upload_records_nothing() -> TestResult {
    let mut moto = Moto::start().await?;
    let s = moto.server()?;
    s.create_repo("acme", "dev", true).await?;
    // A body that keeps coming while the store goes away under it.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let request = s
        .req(
            Method::POST,
            "/api/v1/packages/acme/dev/upload/raw",
            Some(ADMIN),
        )
        .query(&[("name", "big"), ("version", "1.0"), ("filename", "big.bin")])
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let sender = async move {
        let chunk = vec![7u8; 1 << 20];
        for i in 0..64 {
            if i == 10 {
                let _ = moto.child.kill();
                let _ = moto.child.wait();
            }
            if tx.send(Ok(chunk.clone())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        moto
    };
    let (response, _moto) = tokio::join!(request, sender);
    let response = response?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_server_error(), "{status} {body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    let (_, list) = s
        .admin(Method::GET, "/api/v1/packages/acme/dev", None)
        .await?;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    Ok(())
}

/// gc and fsck on a bucket: an object nothing refers to goes, a package's blob stays, a blob
/// changed behind Gantry's back is reported with its package; `/readyz` follows the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_fsck_and_readiness_on_s3() -> TestResult {
    use crate::gc::admin;
    let mut moto = Moto::start().await?;
    let s = moto.server()?;
    s.create_repo("acme", "dev", true).await?;
    let (st, pkg) = s
        .upload_raw("acme/dev", "app", "1.0", "app.bin", b"kept in the bucket")
        .await?;
    assert_eq!(st, StatusCode::CREATED, "{pkg}");
    let orphan = b"an object nothing refers to";
    let sha = crate::common::sha256_hex(orphan);
    let key = format!("site-a/sha256/{}/{}/{sha}", &sha[0..2], &sha[2..4]);
    moto.put_object(&key, orphan)?;

    let (out, report) = admin(&s, &["fsck", "--grace-seconds", "0"])?;
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["unreferenced"], serde_json::json!([sha]), "{report}");
    let (out, report) = admin(&s, &["gc", "--grace-seconds", "0"])?;
    assert!(out.status.success(), "{report}");
    assert_eq!(report["removed"], serde_json::json!([sha]), "{report}");
    let keys = moto.keys("site-a/sha256/").await?;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let (out, report) = admin(&s, &["fsck", "--grace-seconds", "0"])?;
    assert!(out.status.success(), "{report}");
    assert_eq!(report["checked"], 1);

    // Bytes changed behind Gantry's back are reported with the package that holds them.
    moto.put_object(&keys[0], b"not what was uploaded")?;
    let (out, report) = admin(&s, &["fsck"])?;
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(
        report["corrupt"][0]["packages"][0], pkg["slug_perm"],
        "{report}"
    );

    let ready = s.req(Method::GET, "/readyz", None).send().await?;
    assert_eq!(ready.status(), StatusCode::OK);
    let _ = moto.child.kill();
    let _ = moto.child.wait();
    let (st, body) = s.call(Method::GET, "/readyz", None, None).await?;
    crate::common::assert_error(st, &body, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("blob store")),
        "{body}"
    );
    let (st, _) = s.call(Method::GET, "/healthz", None, None).await?;
    assert_eq!(st, StatusCode::OK, "liveness does not depend on the store");
    Ok(())
}
