//! Typed client for Gantry's REST API, used by the `gantry` CLI and by tests. Uploads stream
//! from disk; nothing holds a whole artifact in memory.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod native;
mod packages;
pub mod push;
mod registry;
mod repos;
mod webhooks;

pub use packages::{PackagePage, UploadOptions};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error envelope.
    #[error("{message} (HTTP {status}, {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The exchange failed below HTTP; `what` says at which step. The cause (with the
    /// operating system's reason) is the error's source, so it is not repeated here.
    #[error("{what} {url}")]
    Http {
        what: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("invalid server URL '{0}'")]
    BadUrl(String),
}

impl ClientError {
    /// Wraps a transport error. reqwest's own message names the URL too; it is dropped so
    /// the URL appears once.
    pub fn http(url: &str, source: reqwest::Error) -> Self {
        let what = if source.is_connect() {
            "cannot reach"
        } else if source.is_timeout() {
            "timed out talking to"
        } else if source.is_decode() || source.is_body() && !source.is_request() {
            "cannot read the answer of"
        } else {
            "the connection broke while sending the request to"
        };
        ClientError::Http {
            what,
            url: url.to_owned(),
            source: source.without_url(),
        }
    }

    /// The error envelope's code: the server's for an API error, a local one otherwise.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api { code, .. } => code,
            ClientError::Http { .. } => "connection_failed",
            ClientError::Io(_) => "io_error",
            ClientError::BadUrl(_) => "bad_url",
        }
    }
}

/// Appended to a 401, 403 or 404 answer when the request carried no token: a private
/// repository answers 404 to anonymous callers, which otherwise reads as "it does not exist".
pub const NOT_SIGNED_IN_HINT: &str =
    "or you are not signed in: set GANTRY_TOKEN or run gantry login";

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Called with the size of each chunk of an upload as it is handed to the connection.
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// A streamed request body from a file, reporting chunks to `progress`.
fn file_body(handle: tokio::fs::File, progress: Option<Progress>) -> reqwest::Body {
    use futures::StreamExt;
    let stream =
        tokio_util::io::ReaderStream::with_capacity(handle, 256 * 1024).inspect(move |chunk| {
            if let (Some(report), Ok(bytes)) = (&progress, chunk) {
                report(bytes.len() as u64);
            }
        });
    reqwest::Body::wrap_stream(stream)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: String,
    pub id: i64,
    pub scope: Option<String>,
    pub privilege: Option<String>,
    pub principal: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Percent-encodes one path segment.
fn seg(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Client {
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_owned();
        url::Url::parse(&base).map_err(|_| ClientError::BadUrl(base.clone()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("gantry-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::http(&base, e))?;
        Ok(Self { base, token, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    /// Sends a request: the response when it succeeded, else its status and JSON body.
    async fn exchange(
        &self,
        builder: RequestBuilder,
    ) -> Result<std::result::Result<Response, (StatusCode, Value)>> {
        let response = builder
            .send()
            .await
            .map_err(|e| ClientError::http(&self.base, e))?;
        if response.status().is_success() {
            return Ok(Ok(response));
        }
        let status = response.status();
        Ok(Err((status, response.json().await.unwrap_or(Value::Null))))
    }

    async fn send(&self, builder: RequestBuilder) -> Result<Response> {
        let (status, body) = match self.exchange(builder).await? {
            Ok(response) => return Ok(response),
            Err(failed) => failed,
        };
        let error = &body["error"];
        let mut message = error["message"]
            .as_str()
            .map_or_else(|| status_text(status), str::to_owned);
        if self.token.is_none() && matches!(status.as_u16(), 401 | 403 | 404) {
            message = format!("{}, {NOT_SIGNED_IN_HINT}", message.trim_end_matches('.'));
        }
        Err(ClientError::Api {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message,
        })
    }

    async fn json<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T> {
        let response = self.send(builder).await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::http(&self.base, e))
    }

    /// Downloads `url` (a package file's `download_url`) as a stream and returns the hex
    /// sha256 of the bytes received. The token goes only to this client's server.
    pub async fn download_sha256(&self, url: &str) -> Result<String> {
        use futures::StreamExt as _;
        use sha2::Digest as _;
        let mut builder = self.http.get(url);
        if let (Some(token), true) = (&self.token, url.starts_with(&format!("{}/", self.base))) {
            builder = builder.bearer_auth(token);
        }
        let response = self.send(builder).await?;
        let mut hasher = sha2::Sha256::new();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            hasher.update(chunk.map_err(|e| ClientError::http(&self.base, e))?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// GET of any API path, with query parameters.
    pub async fn get_value(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.json(self.request(Method::GET, path).query(query))
            .await
    }

    /// A request with a JSON body; the JSON answer, or null for an empty one.
    pub async fn send_value(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| ClientError::BadUrl(method.into()))?;
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = self.send(req).await?;
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::http(&self.base, e))?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POSTs a file's bytes (streamed) to `path` and returns the JSON answer.
    pub async fn upload_bytes(
        &self,
        path: &str,
        file: &Path,
        progress: Option<Progress>,
    ) -> Result<Value> {
        let handle = tokio::fs::File::open(file).await?;
        let size = handle.metadata().await?.len();
        let body = file_body(handle, progress);
        let content_type = if file.extension().is_some_and(|e| e == "json") {
            "application/octet-stream"
        } else {
            "application/zip"
        };
        self.json(
            self.request(Method::POST, path)
                .header(reqwest::header::CONTENT_LENGTH, size)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    pub async fn whoami(&self) -> Result<Value> {
        self.json(self.request(Method::GET, "/api/v1/whoami")).await
    }

    pub async fn admin_jobs(&self, states: Option<&str>) -> Result<Vec<Value>> {
        let mut req = self.request(Method::GET, "/api/v1/admin/jobs");
        if let Some(s) = states {
            req = req.query(&[("state", s)]);
        }
        self.json(req).await
    }

    pub async fn create_token(
        &self,
        scope: Option<&str>,
        privilege: Option<&str>,
        principal: Option<&str>,
        expires_in_days: Option<i64>,
        description: Option<&str>,
    ) -> Result<CreatedToken> {
        let mut body = json!({ "scope": scope, "privilege": privilege, "principal": principal });
        if let Some(days) = expires_in_days {
            body["expires_in_days"] = json!(days);
        }
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        self.json(self.request(Method::POST, "/api/v1/tokens").json(&body))
            .await
    }
}

fn status_text(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("request failed")
        .to_owned()
}
