//! Repositories: create, list, show, update, delete.

use gantry_core::Repository;
use reqwest::Method;
use serde_json::json;

use crate::{seg, Client, Result};

impl Client {
    pub async fn create_repo(
        &self,
        owner: &str,
        name: &str,
        description: &str,
        private: bool,
    ) -> Result<Repository> {
        let body = json!({ "name": name, "description": description, "private": private });
        self.json(
            self.request(Method::POST, &format!("/api/v1/repos/{}", seg(owner)))
                .json(&body),
        )
        .await
    }

    pub async fn list_repos(&self, owner: &str) -> Result<Vec<Repository>> {
        self.json(self.request(Method::GET, &format!("/api/v1/repos/{}", seg(owner))))
            .await
    }

    pub async fn get_repo(&self, owner: &str, repo: &str) -> Result<Repository> {
        self.json(self.request(
            Method::GET,
            &format!("/api/v1/repos/{}/{}", seg(owner), seg(repo)),
        ))
        .await
    }

    pub async fn update_repo(
        &self,
        owner: &str,
        repo: &str,
        description: Option<&str>,
        private: Option<bool>,
    ) -> Result<Repository> {
        let mut body = serde_json::Map::new();
        if let Some(d) = description {
            body.insert("description".into(), json!(d));
        }
        if let Some(p) = private {
            body.insert("private".into(), json!(p));
        }
        self.json(
            self.request(
                Method::PATCH,
                &format!("/api/v1/repos/{}/{}", seg(owner), seg(repo)),
            )
            .json(&body),
        )
        .await
    }

    pub async fn delete_repo(&self, owner: &str, repo: &str, force: bool) -> Result<()> {
        self.send(self.request(
            Method::DELETE,
            &format!("/api/v1/repos/{}/{}?force={force}", seg(owner), seg(repo)),
        ))
        .await?;
        Ok(())
    }
}
