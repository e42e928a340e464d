//! Scans in batches: the reads a batch of rescans needs in a few queries, and the writes of
//! the whole batch in one transaction (a rescan after an advisory import touches thousands
//! of packages; one round trip per package would bound throughput by latency).

use std::collections::HashMap;

use crate::bind::{Sql, MULTI_ROW_BINDS};
use crate::events::NewEvent;
use crate::jobs::{self, NewJob};
use crate::packages::PackageRow;
use crate::vulns::ScanResult;
use crate::{Db, Result};

/// Names asked about per query (bind parameters stay well under every backend's limit).
const CHUNK: usize = 500;

impl Db {
    /// The advisory records naming any of `names` in `ecosystem`: (name, record) pairs, each
    /// record once per name it names.
    pub async fn advisories_for_names(
        &self,
        ecosystem: &str,
        names: &[String],
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for chunk in names.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT p.name, a.body FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id \
                 WHERE p.ecosystem = ",
            );
            sql.str(ecosystem)
                .push(" AND p.name IN ")
                .str_list(chunk)
                .push(" ORDER BY a.id");
            let rows: Vec<(String, String)> = sql.query_as().fetch_all(&self.read).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// The advisory ids of the stored findings of each package.
    pub async fn finding_ids_of(&self, package_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for chunk in package_ids.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT package_id, advisory_id FROM package_vulnerabilities WHERE package_id IN ",
            );
            sql.int_list(chunk);
            let rows: Vec<(i64, String)> = sql.query_as().fetch_all(&self.read).await?;
            for (id, advisory) in rows {
                out.entry(id).or_default().push(advisory);
            }
        }
        Ok(out)
    }

    /// Marks packages `awaiting_scan` and queues the one job that scans them all.
    pub async fn queue_scan_batch(&self, package_ids: &[i64], job: &NewJob) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for chunk in package_ids.chunks(CHUNK) {
            let mut sql =
                Sql::new("UPDATE packages SET scan_status = 'awaiting_scan' WHERE id IN ");
            sql.int_list(chunk);
            sql.query().execute(&mut *tx).await?;
        }
        jobs::enqueue(&mut tx, job).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the scans of a batch and completes its job, in one transaction; `followups`
    /// are queued with it.
    pub async fn record_scans(
        &self,
        scans: &[(&PackageRow, ScanResult, NewEvent)],
        job_id: i64,
        worker: &str,
        followups: &[NewJob],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        jobs::complete_in(&mut tx, job_id, worker).await?;
        for job in followups {
            jobs::enqueue(&mut tx, job).await?;
        }
        write_scans_in(&mut tx, scans).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Rows per multi-row findings insert (4 values a row; see [`MULTI_ROW_BINDS`]).
const FINDINGS_PER_INSERT: usize = MULTI_ROW_BINDS / 4;

/// Packages per `DELETE` and `UPDATE … FROM VALUES` (5 values a package in the update).
const PACKAGES_PER_WRITE: usize = MULTI_ROW_BINDS / 5;

/// Replaces the findings of every package of `scans`, updates their scan fields and records
/// their events, on `conn` (inside the caller's transaction): a few multi-row statements per
/// [`PACKAGES_PER_WRITE`] packages rather than several round trips per package.
pub(crate) async fn write_scans_in(
    conn: &mut sqlx::AnyConnection,
    scans: &[(&PackageRow, ScanResult, NewEvent)],
) -> Result<()> {
    let now = gantry_core::time::now_millis();
    for chunk in scans.chunks(PACKAGES_PER_WRITE) {
        let ids: Vec<i64> = chunk.iter().map(|(p, _, _)| p.id).collect();
        let mut sql = Sql::new("DELETE FROM package_vulnerabilities WHERE package_id IN ");
        sql.int_list(&ids);
        sql.query().execute(&mut *conn).await?;
        insert_findings(conn, chunk).await?;
        update_scan_fields(conn, chunk, now).await?;
    }
    let events: Vec<NewEvent> = scans
        .iter()
        .map(|(package, _, event)| {
            let mut event = event.clone();
            event.slug_perm = Some(package.slug_perm.clone());
            event.repository = Some(package.repository_slug());
            event.namespace = Some(package.namespace.clone());
            event.checksum_sha256 = Some(package.primary_sha256.clone());
            event
        })
        .collect();
    crate::events::insert_many(conn, &events).await
}

async fn insert_findings(
    conn: &mut sqlx::AnyConnection,
    scans: &[(&PackageRow, ScanResult, NewEvent)],
) -> Result<()> {
    // Collected first: a lazy iterator held across the awaits below is not `Send` enough.
    let mut rows: Vec<(i64, &str, &str, &str)> = Vec::new();
    for (p, result, _) in scans {
        for (advisory, severity, finding) in &result.findings {
            rows.push((p.id, advisory, severity, finding));
        }
    }
    let mut sql: Option<Sql> = None;
    for (id, advisory, severity, finding) in rows {
        let q = sql.get_or_insert_with(|| {
            Sql::new(
                "INSERT INTO package_vulnerabilities (package_id, advisory_id, severity, finding) VALUES ",
            )
        });
        q.push(if q.bound() == 0 { "(" } else { ", (" });
        q.int(id).push(", ").str(advisory).push(", ").str(severity);
        q.push(", ").str(finding).push(")");
        if q.bound() >= FINDINGS_PER_INSERT * 4 {
            q.query().execute(&mut *conn).await?;
            sql = None;
        }
    }
    if let Some(q) = sql {
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One `UPDATE … FROM` a table of values (both backends name a `VALUES` list's columns
/// `column1`, `column2`, …) for the scan fields of every package of `scans`.
async fn update_scan_fields(
    conn: &mut sqlx::AnyConnection,
    scans: &[(&PackageRow, ScanResult, NewEvent)],
    now: i64,
) -> Result<()> {
    let mut sql = Sql::new(
        "UPDATE packages SET scan_status = v.column2, scan_reason = v.column3, \
         max_severity = v.column4, num_vulnerabilities = v.column5, scanned_at = ",
    );
    sql.int(now).push(" FROM (VALUES ");
    for (i, (p, result, _)) in scans.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.int(p.id).push(", ").str(&result.status).push(", ");
        sql.opt_str(result.reason.as_deref()).push(", ");
        sql.opt_str(result.max_severity.as_deref()).push(", ");
        sql.int(i64::try_from(result.num_vulnerabilities).unwrap_or(i64::MAX));
        sql.push(")");
    }
    sql.push(") AS v WHERE packages.id = v.column1");
    sql.query().execute(&mut *conn).await?;
    Ok(())
}
