//! Packages: upload, listing, status, promotion and the lifecycle verbs.

use std::path::Path;

use gantry_core::{Event, Package};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{file_body, seg, Client, ClientError, Progress, Result};

/// Options of an upload.
#[derive(Clone, Default)]
pub struct UploadOptions {
    pub name: Option<String>,
    pub version: Option<String>,
    /// Defaults to the file's name.
    pub filename: Option<String>,
    pub republish: bool,
    pub tags: Vec<String>,
    pub checksum_sha256: Option<String>,
    /// Format-specific query parameters (deb: `distribution`, `component`).
    pub attributes: Vec<(String, String)>,
    /// Told about every chunk sent, for a progress bar.
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("filename", &self.filename)
            .field("republish", &self.republish)
            .field("tags", &self.tags)
            .field("checksum_sha256", &self.checksum_sha256)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

/// One page of a package listing.
#[derive(Debug, Clone)]
pub struct PackagePage {
    pub packages: Vec<Package>,
    pub total: i64,
    pub page: i64,
    pub page_total: i64,
}

impl Client {
    /// Streams a file from disk as a package upload.
    pub async fn upload(
        &self,
        format: &str,
        owner: &str,
        repo: &str,
        file: &Path,
        options: &UploadOptions,
    ) -> Result<Package> {
        let handle = tokio::fs::File::open(file).await?;
        let size = handle.metadata().await?.len();
        let filename = options.filename.clone().unwrap_or_else(|| {
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let mut query: Vec<(&str, String)> = vec![("filename", filename)];
        for (key, value) in &options.attributes {
            query.push((key, value.clone()));
        }
        if let Some(n) = &options.name {
            query.push(("name", n.clone()));
        }
        if let Some(v) = &options.version {
            query.push(("version", v.clone()));
        }
        if options.republish {
            query.push(("republish", "true".into()));
        }
        if !options.tags.is_empty() {
            query.push(("tags", options.tags.join(",")));
        }
        if let Some(s) = &options.checksum_sha256 {
            query.push(("checksum_sha256", s.clone()));
        }
        let body = file_body(handle, options.progress.clone());
        self.json(
            self.request(
                Method::POST,
                &format!(
                    "/api/v1/packages/{}/{}/upload/{}",
                    seg(owner),
                    seg(repo),
                    seg(format)
                ),
            )
            .query(&query)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body),
        )
        .await
    }

    pub async fn list_packages(
        &self,
        owner: &str,
        repo: &str,
        query: Option<&str>,
        page: i64,
        page_size: i64,
    ) -> Result<PackagePage> {
        let mut params = vec![
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
        ];
        if let Some(q) = query {
            params.push(("query", q.to_owned()));
        }
        let response = self
            .send(
                self.request(
                    Method::GET,
                    &format!("/api/v1/packages/{}/{}", seg(owner), seg(repo)),
                )
                .query(&params),
            )
            .await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let (total, page, page_total) = (
            header("x-pagination-count"),
            header("x-pagination-page"),
            header("x-pagination-pagetotal"),
        );
        let packages = response
            .json()
            .await
            .map_err(|e| ClientError::http(&self.base, e))?;
        Ok(PackagePage {
            packages,
            total,
            page,
            page_total,
        })
    }

    fn package_path(owner: &str, repo: &str, slug: &str) -> String {
        format!(
            "/api/v1/packages/{}/{}/{}",
            seg(owner),
            seg(repo),
            seg(slug)
        )
    }

    pub async fn get_package(&self, owner: &str, repo: &str, slug: &str) -> Result<Package> {
        self.json(self.request(Method::GET, &Self::package_path(owner, repo, slug)))
            .await
    }

    pub async fn package_status(&self, owner: &str, repo: &str, slug: &str) -> Result<Value> {
        self.json(self.request(
            Method::GET,
            &format!("{}/status", Self::package_path(owner, repo, slug)),
        ))
        .await
    }

    pub async fn events(&self, owner: &str, repo: &str, slug: &str) -> Result<Vec<Event>> {
        self.json(self.request(
            Method::GET,
            &format!("{}/events", Self::package_path(owner, repo, slug)),
        ))
        .await
    }

    /// `action` is `copy` or `move`.
    pub async fn promote(
        &self,
        action: &str,
        owner: &str,
        repo: &str,
        slug: &str,
        destination: &str,
        republish: bool,
    ) -> Result<Package> {
        self.json(
            self.request(
                Method::POST,
                &format!("{}/{action}", Self::package_path(owner, repo, slug)),
            )
            .json(&json!({ "destination": destination, "republish": republish })),
        )
        .await
    }

    pub async fn delete_package(&self, owner: &str, repo: &str, slug: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, &Self::package_path(owner, repo, slug)))
            .await?;
        Ok(())
    }

    pub async fn restore_package(&self, owner: &str, repo: &str, slug: &str) -> Result<Package> {
        self.json(self.request(
            Method::POST,
            &format!("{}/restore", Self::package_path(owner, repo, slug)),
        ))
        .await
    }

    pub async fn resync(&self, owner: &str, repo: &str, slug: &str) -> Result<Package> {
        self.json(self.request(
            Method::POST,
            &format!("{}/resync", Self::package_path(owner, repo, slug)),
        ))
        .await
    }
}
