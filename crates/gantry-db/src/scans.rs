//! Scans in batches: the reads a batch of rescans needs in a few queries, and the writes of
//! the whole batch in one transaction (a rescan after an advisory import touches thousands
//! of packages; one round trip per package would bound throughput by latency).

use std::collections::HashMap;

use crate::bind::Sql;
use crate::events::NewEvent;
use crate::jobs::{self, NewJob};
use crate::packages::PackageRow;
use crate::vulns::{write_scan_in, ScanResult};
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
        for (package, result, event) in scans {
            write_scan_in(&mut tx, package, result, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
