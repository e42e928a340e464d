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

const BUCKET: &str = "gantry-blobs";

struct Moto {
    url: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    async fn start() -> TestResult<Self> {
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
    async fn keys(&self, prefix: &str) -> TestResult<Vec<String>> {
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

    fn server(&self) -> TestResult<TestServer> {
        TestServer::builder()
            .arg("--storage-url")
            .arg(format!("s3://{BUCKET}/site-a"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.url)
            .start()
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
