//! The advisory database and scan results.

use gantry_core::time::now_millis;
use gantry_core::{FormatId, ScanStatus};
use sqlx::FromRow;

use crate::bind::Sql;
use crate::events::NewEvent;
use crate::jobs::{self, NewJob};
use crate::packages::PackageRow;
use crate::{Db, Result};

/// An advisory to store: its id, `modified`, `withdrawn`, the record, and the
/// (ecosystem, normalised name) pairs it affects.
#[derive(Debug, Clone)]
pub struct NewAdvisory {
    pub id: String,
    pub modified: String,
    pub withdrawn: Option<String>,
    pub body: String,
    pub packages: Vec<(String, String)>,
}

/// What an import changed.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// (ecosystem, normalised name) of every added or changed advisory.
    pub touched: Vec<(String, String)>,
}

#[derive(Debug, Clone, FromRow)]
pub struct FindingRow {
    pub advisory_id: String,
    pub severity: String,
    pub finding: String,
}

/// A package as a security summary sees it.
#[derive(Debug, Clone, FromRow)]
pub struct ScanPackageRow {
    pub id: i64,
    pub slug_perm: String,
    /// The repository's name (without the namespace).
    pub repository: String,
    #[sqlx(try_from = "String")]
    pub format: FormatId,
    pub name: String,
    pub version: String,
    pub filename: String,
    #[sqlx(try_from = "String")]
    pub scan_status: ScanStatus,
    pub max_severity: Option<String>,
    pub scanned_at: Option<i64>,
    pub num_vulnerabilities: i64,
}

/// A scan's result to record.
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// `no_vulnerabilities`, `vulnerabilities_found`, `indeterminate`, `not_supported`.
    pub status: String,
    pub reason: Option<String>,
    pub max_severity: Option<String>,
    /// (advisory id, severity, finding JSON).
    pub findings: Vec<(String, String, String)>,
    /// Findings that count (those not excepted as `not_affected` or `fixed`).
    pub num_vulnerabilities: usize,
}

impl Db {
    /// Stores advisories whose `modified` differs from what is stored (new ones included),
    /// in one transaction. Importing the same data again changes nothing.
    pub async fn import_advisories(&self, advisories: &[NewAdvisory]) -> Result<ImportOutcome> {
        let mut outcome = ImportOutcome::default();
        let mut tx = self.pool.begin().await?;
        let now = now_millis();
        for adv in advisories {
            let stored: Option<(String, String)> =
                sqlx::query_as("SELECT modified, body FROM advisories WHERE id = $1")
                    .bind(&adv.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match stored {
                // An older snapshot never replaces a newer record; an equal `modified` with
                // other content does (some sources leave `modified` as a placeholder).
                Some((modified, body))
                    if adv.modified < modified
                        || (adv.modified == modified && adv.body == body) =>
                {
                    outcome.unchanged += 1;
                    continue;
                }
                Some(_) => {
                    outcome.updated += 1;
                    sqlx::query("UPDATE advisories SET modified = $1, withdrawn = $2, body = $3, imported_at = $4 WHERE id = $5")
                        .bind(&adv.modified)
                        .bind(adv.withdrawn.clone())
                        .bind(&adv.body)
                        .bind(now)
                        .bind(&adv.id)
                        .execute(&mut *tx)
                        .await?;
                    // Names it affected before are touched too: they may be resolved now.
                    let before: Vec<(String, String)> = sqlx::query_as(
                        "SELECT ecosystem, name FROM advisory_packages WHERE advisory_id = $1",
                    )
                    .bind(&adv.id)
                    .fetch_all(&mut *tx)
                    .await?;
                    outcome.touched.extend(before);
                    sqlx::query("DELETE FROM advisory_packages WHERE advisory_id = $1")
                        .bind(&adv.id)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    outcome.added += 1;
                    sqlx::query("INSERT INTO advisories (id, modified, withdrawn, body, imported_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&adv.id)
                        .bind(&adv.modified)
                        .bind(adv.withdrawn.clone())
                        .bind(&adv.body)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            for (ecosystem, name) in &adv.packages {
                sqlx::query(
                    "INSERT INTO advisory_packages (ecosystem, name, advisory_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(ecosystem)
                .bind(name)
                .bind(&adv.id)
                .execute(&mut *tx)
                .await?;
                outcome.touched.push((ecosystem.clone(), name.clone()));
            }
        }
        tx.commit().await?;
        outcome.touched.sort();
        outcome.touched.dedup();
        Ok(outcome)
    }

    /// Advisory records that name a package of an ecosystem.
    pub async fn advisories_for(&self, ecosystem: &str, name: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT a.body FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id \
             WHERE p.ecosystem = $1 AND p.name = $2 ORDER BY a.id",
        )
        .bind(ecosystem)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(b,)| b).collect())
    }

    /// The stored records of the given ids (those that exist), for severities borrowed from
    /// aliases.
    pub async fn advisories_by_id(&self, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT body FROM advisories WHERE id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.str(id);
        }
        sql.push(") ORDER BY id");
        let rows: Vec<(String,)> = sql.query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(b,)| b).collect())
    }

    /// Record counts per ecosystem, withdrawn records, and the newest `modified`.
    pub async fn vulndb_status(&self) -> Result<(Vec<(String, i64)>, i64, i64, Option<String>)> {
        let per: Vec<(String, i64)> = sqlx::query_as(
            "SELECT ecosystem, COUNT(DISTINCT advisory_id) FROM advisory_packages GROUP BY ecosystem ORDER BY ecosystem",
        )
        .fetch_all(&self.pool)
        .await?;
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM advisories")
            .fetch_one(&self.pool)
            .await?;
        let (withdrawn,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM advisories WHERE withdrawn IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let newest: Option<(Option<String>,)> =
            sqlx::query_as("SELECT MAX(modified) FROM advisories")
                .fetch_optional(&self.pool)
                .await?;
        Ok((per, total, withdrawn, newest.and_then(|(m,)| m)))
    }

    /// Live packages of the given formats and normalised names (for rescans after an import).
    pub async fn packages_named(
        &self,
        format: &str,
        names: &[String],
    ) -> Result<Vec<(i64, String)>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql =
            Sql::new("SELECT id, slug_perm FROM packages WHERE state <> 'deleted' AND format = ");
        sql.str(format).push(" AND normalized_name IN (");
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.str(n);
        }
        sql.push(")");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    /// Marks packages `awaiting_scan` and queues their scan jobs.
    pub async fn queue_scans(&self, jobs_to_queue: &[(i64, NewJob)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (package_id, job) in jobs_to_queue {
            sqlx::query("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id = $1")
                .bind(package_id)
                .execute(&mut *tx)
                .await?;
            jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_scan_status(&self, package_id: i64, status: ScanStatus) -> Result<()> {
        sqlx::query("UPDATE packages SET scan_status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(package_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn package_findings(&self, package_id: i64) -> Result<Vec<FindingRow>> {
        Ok(sqlx::query_as(
            "SELECT advisory_id, severity, finding FROM package_vulnerabilities WHERE package_id = $1 ORDER BY advisory_id",
        )
        .bind(package_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a package's findings with a scan's, records the event and completes the job,
    /// in one transaction.
    pub async fn record_scan(
        &self,
        package: &PackageRow,
        result: &ScanResult,
        event: &NewEvent,
        job_id: i64,
        worker: &str,
        followups: &[NewJob],
    ) -> Result<()> {
        self.record_scans(
            &[(package, result.clone(), event.clone())],
            job_id,
            worker,
            followups,
        )
        .await
    }

    /// Scan figures of live packages in a namespace, or one repository of it: rows of
    /// (scan_status, max_severity, scanned_at).
    /// The scan fields of every live package of a namespace (or one repository of it), for
    /// security summaries, newest first.
    pub async fn scan_packages(
        &self,
        namespace: &str,
        repository: Option<&str>,
    ) -> Result<Vec<ScanPackageRow>> {
        let mut sql = Sql::new(
            "SELECT p.id, p.slug_perm, r.name AS repository, p.format, p.name, p.version, \
             p.filename, p.scan_status, p.max_severity, p.scanned_at, p.num_vulnerabilities \
             FROM packages p \
             JOIN repositories r ON r.id = p.repository_id JOIN namespaces n ON n.id = r.namespace_id \
             WHERE p.state <> 'deleted' AND n.name = ",
        );
        sql.str(namespace);
        if let Some(repo) = repository {
            sql.push(" AND r.name = ").str(repo);
        }
        sql.push(" ORDER BY p.id DESC");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}
