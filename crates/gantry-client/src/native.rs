//! Plain requests to a format's native routes, for verbs that speak a protocol directly
//! (`gantry push maven` deploys through the Maven layout as `mvn deploy` does).

use std::path::Path;

use reqwest::Method;

use crate::{file_body, Client, ClientError, Result};

impl Client {
    /// PUTs a file's bytes (streamed) to a native path.
    pub async fn put_native_file(&self, path: &str, file: &Path) -> Result<()> {
        let handle = tokio::fs::File::open(file).await?;
        let size = handle.metadata().await?.len();
        self.send(
            self.request(Method::PUT, path)
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(file_body(handle, None)),
        )
        .await?;
        Ok(())
    }

    /// PUTs a small document to a native path.
    pub async fn put_native_text(&self, path: &str, body: String) -> Result<()> {
        self.send(self.request(Method::PUT, path).body(body))
            .await?;
        Ok(())
    }

    /// GETs a small document from a native path; `None` when there is none (404).
    pub async fn get_native_text(&self, path: &str) -> Result<Option<String>> {
        let response = match self.send(self.request(Method::GET, path)).await {
            Ok(response) => response,
            Err(ClientError::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::http(self.base_url(), e))?;
        Ok(Some(text))
    }
}
