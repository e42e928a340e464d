//! Retention rules of a repository, and the one query a round needs beyond listings: which
//! packages have a live copy elsewhere (promoted onwards).

use gantry_core::time::now_millis;
use sqlx::FromRow;

use crate::bind::Sql;
use crate::OrConflict;
use crate::{Db, Result};

#[derive(Debug, Clone)]
pub struct NewRetentionRule {
    pub repository_id: i64,
    pub name: String,
    pub keep_last: Option<i64>,
    pub older_than_days: Option<i64>,
    pub query: String,
    pub protect_promoted: bool,
    pub created_by: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct RetentionRuleRow {
    pub id: i64,
    pub repository_id: i64,
    pub name: String,
    pub keep_last: Option<i64>,
    pub older_than_days: Option<i64>,
    pub query: String,
    pub protect_promoted: i64,
    pub created_by: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, repository_id, name, keep_last, older_than_days, query, \
                       protect_promoted, created_by, created_at";
/// Slugs asked about per query (bind parameters stay well under every backend's limit).
const CHUNK: usize = 500;

impl Db {
    pub async fn create_retention_rule(&self, rule: &NewRetentionRule) -> Result<RetentionRuleRow> {
        let sql = format!(
            "INSERT INTO retention_rules (repository_id, name, keep_last, older_than_days, query, \
             protect_promoted, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {COLUMNS}"
        );
        sqlx::query_as(&sql)
            .bind(rule.repository_id)
            .bind(&rule.name)
            .bind(rule.keep_last)
            .bind(rule.older_than_days)
            .bind(&rule.query)
            .bind(i64::from(rule.protect_promoted))
            .bind(&rule.created_by)
            .bind(now_millis())
            .fetch_one(&self.pool)
            .await
            .or_conflict(|| format!("a retention rule named '{}' exists already", rule.name))
    }

    /// A repository's rules, or with `None` every repository's (for the scheduled round).
    pub async fn retention_rules(
        &self,
        repository_id: Option<i64>,
    ) -> Result<Vec<RetentionRuleRow>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM retention_rules"));
        if let Some(id) = repository_id {
            sql.push(" WHERE repository_id = ").int(id);
        }
        sql.push(" ORDER BY id");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Deletes rule `id` of the repository; `false` when there is none.
    pub async fn delete_retention_rule(&self, repository_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM retention_rules WHERE repository_id = $1 AND id = $2")
            .bind(repository_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Which of `slugs` have a copy that is not deleted (in any repository).
    pub async fn promoted_onwards(&self, slugs: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in slugs.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT DISTINCT origin_slug FROM packages WHERE state <> 'deleted' AND origin_slug IN ",
            );
            sql.str_list(chunk);
            let rows: Vec<(String,)> = sql.query_as().fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|(s,)| s));
        }
        Ok(out)
    }
}
