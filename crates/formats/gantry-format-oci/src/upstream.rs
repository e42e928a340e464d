//! Another registry upstream of a repository: manifests and blobs fetched with the toolkit's
//! upstream client (outbound rules, the checked address pinned), with the bearer-token flow
//! registries ask for. An upstream's URL is the registry's root, optionally with a path that
//! prefixes image names there (`http://host:5000/library`: image `app` is `library/app`).

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use futures::StreamExt;
use gantry_db::UpstreamRow;
use gantry_protocol::app::App;

use crate::pure::challenge::{parse_bearer, Challenge};
use crate::pure::manifest::{
    DOCKER_LIST, DOCKER_MANIFEST, MAX_MANIFEST_SIZE, OCI_INDEX, OCI_MANIFEST,
};

/// Redirects followed for one request (registries send blob downloads to storage).
const MAX_REDIRECTS: usize = 3;
/// How long an upstream may take to answer before the body starts.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest token response read.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// An upstream failure, said for logs and the 502 a client may see.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UpstreamError(pub(crate) String);

type Result<T> = std::result::Result<T, UpstreamError>;

fn fail(message: impl Into<String>) -> UpstreamError {
    UpstreamError(message.into())
}

/// A manifest read from an upstream.
pub(crate) struct RemoteManifest {
    pub(crate) bytes: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

/// One image at one upstream registry.
pub(crate) struct Remote<'a> {
    app: &'a App,
    upstream: &'a UpstreamRow,
    /// `scheme://host[:port]`.
    origin: String,
    /// The image's name at the upstream.
    name: String,
    /// What the upstream asked for, once it answered 401.
    auth: Auth,
}

/// How requests to the registry authenticate, as registry clients do: anonymously first,
/// then as its 401 asked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    None,
    /// A token its token service handed out (for the configured credentials, if any).
    Bearer(String),
    /// The configured credentials, for a registry that asked for Basic.
    Basic,
}

impl<'a> Remote<'a> {
    pub(crate) fn new(app: &'a App, upstream: &'a UpstreamRow, image: &str) -> Result<Self> {
        let url = url::Url::parse(&upstream.url)
            .map_err(|e| fail(format!("upstream {}: bad url: {e}", upstream.name)))?;
        let origin = url.origin().ascii_serialization();
        let prefix = url.path().trim_matches('/');
        let name = if prefix.is_empty() {
            image.to_owned()
        } else {
            format!("{prefix}/{image}")
        };
        Ok(Self {
            app,
            upstream,
            origin,
            name,
            auth: Auth::None,
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.origin, self.name)
    }

    /// GETs `url`, following redirects and answering one 401: a bearer challenge with a
    /// token from its realm, any other with the configured credentials.
    async fn get(&mut self, url: &str, accept: Option<&str>) -> Result<reqwest::Response> {
        let response = self.send(url, accept).await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED || self.auth != Auth::None {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_bearer);
        self.auth = match challenge {
            Some(challenge) => Auth::Bearer(self.fetch_token(&challenge).await?),
            None if self.upstream.username.is_some() => Auth::Basic,
            None => return Ok(response),
        };
        self.send(url, accept).await
    }

    async fn send(&self, url: &str, accept: Option<&str>) -> Result<reqwest::Response> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let same_origin = url.starts_with(&format!("{}/", self.origin));
            let mut request = gantry_protocol::upstream::pinned(self.app, &url)
                .await
                .map_err(|e| fail(format!("upstream {}: {e}", self.upstream.name)))?
                .timeout(TIMEOUT);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            // Credentials go to the registry only, never to where it redirects.
            match (&self.auth, &self.upstream.username) {
                _ if !same_origin => {}
                (Auth::Bearer(token), _) => {
                    request = request.header(AUTHORIZATION, format!("Bearer {token}"));
                }
                (Auth::Basic, Some(user)) => {
                    request = request.basic_auth(user, self.upstream.password.as_deref());
                }
                _ => {}
            }
            let response = request
                .send()
                .await
                .map_err(|e| fail(format!("upstream {} failed: {e}", self.upstream.name)))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .ok_or_else(|| fail("a redirect without a location"))?;
            url = next.to_string();
        }
        Err(fail(format!(
            "upstream {} redirected more than {MAX_REDIRECTS} times",
            self.upstream.name
        )))
    }

    /// A token from the challenge's realm, for pulling this image, with the upstream's
    /// credentials when it has some (the realm is the registry's own token service).
    async fn fetch_token(&self, challenge: &Challenge) -> Result<String> {
        let mut realm = url::Url::parse(&challenge.realm)
            .map_err(|e| fail(format!("upstream token realm: {e}")))?;
        {
            let mut query = realm.query_pairs_mut();
            if let Some(service) = &challenge.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &format!("repository:{}:pull", self.name));
        }
        let mut request = gantry_protocol::upstream::pinned(self.app, realm.as_str())
            .await
            .map_err(|e| fail(format!("upstream token realm: {e}")))?
            .timeout(TIMEOUT);
        // The realm is the registry's token service: it is where registry clients send their
        // credentials (the upstream's admin configured both).
        if let Some(user) = &self.upstream.username {
            request = request.basic_auth(user, self.upstream.password.as_deref());
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("upstream token realm failed: {e}")))?;
        if !response.status().is_success() {
            return Err(fail(format!(
                "upstream {} refused a token: HTTP {}",
                self.upstream.name,
                response.status()
            )));
        }
        let body = read_bounded(response, MAX_TOKEN_RESPONSE).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| fail(format!("token response: {e}")))?;
        doc["token"]
            .as_str()
            .or_else(|| doc["access_token"].as_str())
            .filter(|t| !t.is_empty() && t.len() < 16 * 1024)
            .map(str::to_owned)
            .ok_or_else(|| fail("the token response holds no token"))
    }

    /// The manifest `reference` (tag or digest); `None` when the upstream has no such one.
    pub(crate) async fn manifest(&mut self, reference: &str) -> Result<Option<RemoteManifest>> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let response = self
            .get(&self.url(&format!("manifests/{reference}")), Some(&accept))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.check(&response, reference)?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_bounded(response, MAX_MANIFEST_SIZE).await?;
        Ok(Some(RemoteManifest {
            bytes,
            content_type,
        }))
    }

    /// The blob `digest`, as a response whose body is to be streamed; `None` when missing.
    pub(crate) async fn blob(&mut self, digest: &str) -> Result<Option<reqwest::Response>> {
        let response = self
            .get(&self.url(&format!("blobs/{digest}")), None)
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.check(&response, digest)?;
        Ok(Some(response))
    }

    fn check(&self, response: &reqwest::Response, what: &str) -> Result<()> {
        if response.status().is_success() {
            return Ok(());
        }
        self.app.metrics.upstream_failure(&self.upstream.name);
        Err(fail(format!(
            "upstream {} answered HTTP {} for {}:{what}",
            self.upstream.name,
            response.status(),
            self.name
        )))
    }
}

async fn read_bounded(response: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail(format!("reading from an upstream: {e}")))?;
        if body.len() + chunk.len() > max {
            return Err(fail(format!("an upstream sent more than {max} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
