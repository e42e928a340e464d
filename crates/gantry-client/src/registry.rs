//! The registry (OCI distribution) API, for `gantry push oci`: blobs are checked with `HEAD`
//! and uploaded with `POST` + streamed `PUT`, manifests put by digest or tag. Requests carry
//! the client's token as a bearer token, which Gantry's registry accepts directly.

use std::path::Path;

use reqwest::{Method, Response};

use crate::{file_body, Client, ClientError, Result};

impl Client {
    /// Reads a registry error (`{"errors": [{"code", "message"}]}`) into a client error.
    async fn registry_send(&self, builder: reqwest::RequestBuilder) -> Result<Response> {
        let (status, body) = match self.exchange(builder).await? {
            Ok(response) => return Ok(response),
            Err(failed) => failed,
        };
        let error = &body["errors"][0];
        Err(ClientError::Api {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"]
                .as_str()
                .map_or_else(|| status.to_string(), str::to_owned),
        })
    }

    /// Whether image `name` (`OWNER/REPO/IMAGE`) already holds blob `digest`.
    pub async fn registry_has_blob(&self, name: &str, digest: &str) -> Result<bool> {
        let response = self
            .request(Method::HEAD, &format!("/v2/{name}/blobs/{digest}"))
            .send()
            .await
            .map_err(|e| ClientError::http(&self.base, e))?;
        Ok(response.status().is_success())
    }

    /// Uploads the file at `path` as blob `digest` of image `name`, streamed.
    pub async fn registry_push_blob(&self, name: &str, digest: &str, path: &Path) -> Result<()> {
        let started = self
            .registry_send(self.request(Method::POST, &format!("/v2/{name}/blobs/uploads/")))
            .await?;
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ClientError::BadUrl("an upload without a location".into()))?
            .to_owned();
        // The location is a path on this server (or a full URL to it).
        let path_part = match location.strip_prefix(&self.base) {
            Some(rest) => rest.to_owned(),
            None if location.starts_with('/') => location,
            None => return Err(ClientError::BadUrl(location)),
        };
        let separator = if path_part.contains('?') { '&' } else { '?' };
        let handle = tokio::fs::File::open(path).await?;
        let size = handle.metadata().await?.len();
        self.registry_send(
            self.request(
                Method::PUT,
                &format!("{path_part}{separator}digest={digest}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, size)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(file_body(handle, None)),
        )
        .await?;
        Ok(())
    }

    /// Puts a manifest of image `name` under `reference` (a digest or a tag).
    pub async fn registry_put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.registry_send(
            self.request(Method::PUT, &format!("/v2/{name}/manifests/{reference}"))
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes),
        )
        .await?;
        Ok(())
    }
}
