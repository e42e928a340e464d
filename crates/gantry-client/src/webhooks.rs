//! A repository's webhooks and their deliveries.

use reqwest::Method;
use serde_json::Value;

use crate::{seg, Client, Result};

impl Client {
    fn webhooks_path(owner: &str, repo: &str) -> String {
        format!("/api/v1/webhooks/{}/{}", seg(owner), seg(repo))
    }

    pub async fn create_webhook(&self, owner: &str, repo: &str, body: &Value) -> Result<Value> {
        self.json(
            self.request(Method::POST, &Self::webhooks_path(owner, repo))
                .json(body),
        )
        .await
    }

    pub async fn list_webhooks(&self, owner: &str, repo: &str) -> Result<Vec<Value>> {
        self.json(self.request(Method::GET, &Self::webhooks_path(owner, repo)))
            .await
    }

    pub async fn update_webhook(
        &self,
        owner: &str,
        repo: &str,
        id: i64,
        body: &Value,
    ) -> Result<Value> {
        self.json(
            self.request(
                Method::PATCH,
                &format!("{}/{id}", Self::webhooks_path(owner, repo)),
            )
            .json(body),
        )
        .await
    }

    pub async fn delete_webhook(&self, owner: &str, repo: &str, id: i64) -> Result<()> {
        self.send(self.request(
            Method::DELETE,
            &format!("{}/{id}", Self::webhooks_path(owner, repo)),
        ))
        .await?;
        Ok(())
    }

    pub async fn ping_webhook(&self, owner: &str, repo: &str, id: i64) -> Result<Value> {
        self.json(self.request(
            Method::POST,
            &format!("{}/{id}/ping", Self::webhooks_path(owner, repo)),
        ))
        .await
    }

    pub async fn webhook_deliveries(&self, owner: &str, repo: &str, id: i64) -> Result<Vec<Value>> {
        self.json(self.request(
            Method::GET,
            &format!("{}/{id}/deliveries", Self::webhooks_path(owner, repo)),
        ))
        .await
    }

    pub async fn redeliver(
        &self,
        owner: &str,
        repo: &str,
        id: i64,
        delivery: i64,
    ) -> Result<Value> {
        self.json(self.request(
            Method::POST,
            &format!(
                "{}/{id}/deliveries/{delivery}/redeliver",
                Self::webhooks_path(owner, repo)
            ),
        ))
        .await
    }
}
