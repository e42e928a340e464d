//! Policies of namespaces, the decision log, promotion rules, and the package actions a
//! decision may ask for (quarantine, tags), applied in the transaction that logs it.

use gantry_core::time::now_millis;
use gantry_core::EventType;
use sqlx::{AnyConnection, FromRow};

use crate::bind::Sql;
use crate::events::NewEvent;
use crate::packages::{insert_package_event, PackageRow};
use crate::OrConflict;
use crate::{Db, DbError, Result};

#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub rego: String,
    pub enabled: i64,
    pub precedence: i64,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const POLICY_COLUMNS: &str =
    "id, namespace, name, rego, enabled, precedence, version, created_by, created_at, updated_at";

/// Changes to a policy; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    pub rego: Option<String>,
    pub enabled: Option<bool>,
    pub precedence: Option<i64>,
}

/// What one evaluation was about and who asked: the columns a decision to log and a logged
/// decision share.
#[derive(Debug, Clone, FromRow)]
pub struct DecisionSubject {
    pub namespace: String,
    pub policy_id: Option<i64>,
    pub policy_name: String,
    pub policy_version: i64,
    /// `package.synced`, `package.security_scanned` or `promotion`.
    pub trigger_event: String,
    pub slug_perm: Option<String>,
    pub repository: Option<String>,
    pub destination: Option<String>,
    pub input_digest: String,
    pub error: Option<String>,
    pub actor: String,
}

/// One evaluation to log; reads its [`DecisionSubject`] fields through it.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub subject: DecisionSubject,
    pub denied: bool,
    pub output: serde_json::Value,
    pub actions: serde_json::Value,
}

/// A logged evaluation; reads its [`DecisionSubject`] fields through it.
#[derive(Debug, Clone, FromRow)]
pub struct DecisionRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub subject: DecisionSubject,
    pub denied: i64,
    pub output: String,
    pub actions: String,
    pub occurred_at: i64,
}

const DECISION_COLUMNS: &str = "id, namespace, policy_id, policy_name, policy_version, \
     trigger_event, slug_perm, repository, destination, input_digest, denied, output, actions, \
     error, actor, occurred_at";

/// What decisions asked to be done to a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageActions {
    /// Quarantine with this reason.
    pub quarantine: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

impl PackageActions {
    pub fn is_empty(&self) -> bool {
        self.quarantine.is_none() && self.add_tags.is_empty() && self.remove_tags.is_empty()
    }
}

/// What a promotion rule does: the columns a rule to create and a stored rule share.
#[derive(Debug, Clone, FromRow)]
pub struct RuleSpec {
    pub repository_id: i64,
    pub name: String,
    pub on_event: String,
    /// `shorthand` or `rego`.
    pub condition_kind: String,
    pub condition: String,
    /// `copy` or `move`.
    pub action: String,
    pub destination_repository_id: i64,
    pub created_by: String,
}

/// A stored rule; reads its [`RuleSpec`] fields through it.
#[derive(Debug, Clone, FromRow)]
pub struct RuleRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub spec: RuleSpec,
    /// `OWNER/REPO` of the destination.
    pub destination: String,
    pub enabled: i64,
    pub created_at: i64,
}

/// A rule to create; reads its [`RuleSpec`] fields through it.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub spec: RuleSpec,
    pub enabled: bool,
}

const RULE_SELECT: &str = "SELECT r.id, r.repository_id, r.name, r.on_event, r.condition_kind, \
     r.condition, r.action, r.destination_repository_id, n.name || '/' || d.name AS destination, \
     r.enabled, r.created_by, r.created_at FROM promotion_rules r \
     JOIN repositories d ON d.id = r.destination_repository_id \
     JOIN namespaces n ON n.id = d.namespace_id";

pub(crate) async fn insert_decision(conn: &mut AnyConnection, d: &NewDecision) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO policy_decisions (namespace, policy_id, policy_name, policy_version, \
         trigger_event, slug_perm, repository, destination, input_digest, denied, output, \
         actions, error, actor, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(&d.namespace)
    .bind(d.policy_id)
    .bind(&d.policy_name)
    .bind(d.policy_version)
    .bind(&d.trigger_event)
    .bind(d.slug_perm.clone())
    .bind(d.repository.clone())
    .bind(d.destination.clone())
    .bind(&d.input_digest)
    .bind(i64::from(d.denied))
    .bind(d.output.to_string())
    .bind(d.actions.to_string())
    .bind(d.error.clone())
    .bind(&d.actor)
    .bind(now_millis())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Applies `actions` to the package with `package_id` (whose row, for events, is `package`)
/// and writes an event for each change. Returns whether anything changed.
pub(crate) async fn apply_actions_in(
    conn: &mut AnyConnection,
    package_id: i64,
    package: &PackageRow,
    actions: &PackageActions,
    template: &NewEvent,
) -> Result<bool> {
    let mut changed = false;
    let mut added = Vec::new();
    for tag in &actions.add_tags {
        let done = sqlx::query(
            "INSERT INTO package_tags (package_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(package_id)
        .bind(tag)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            added.push(tag.clone());
        }
    }
    let mut removed = Vec::new();
    for tag in &actions.remove_tags {
        let done = sqlx::query("DELETE FROM package_tags WHERE package_id = $1 AND tag = $2")
            .bind(package_id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() > 0 {
            removed.push(tag.clone());
        }
    }
    if !added.is_empty() || !removed.is_empty() {
        changed = true;
        let mut event = template.clone();
        event.event_type = EventType::PackageTagsUpdated;
        event.context =
            serde_json::json!({ "added": added, "removed": removed, "by": template.context });
        insert_package_event(conn, package, &event).await?;
    }
    if let Some(reason) = &actions.quarantine {
        let done = sqlx::query(
            "UPDATE packages SET state = 'quarantined', status_reason = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'available'",
        )
        .bind(reason)
        .bind(now_millis())
        .bind(package_id)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            changed = true;
            let mut event = template.clone();
            event.event_type = EventType::PackageQuarantined;
            event.context = serde_json::json!({ "reason": reason, "by": template.context });
            insert_package_event(conn, package, &event).await?;
        }
    }
    Ok(changed)
}

impl Db {
    pub async fn create_policy(
        &self,
        namespace: &str,
        name: &str,
        rego: &str,
        enabled: bool,
        precedence: i64,
        actor: &str,
    ) -> Result<PolicyRow> {
        let now = now_millis();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO policies (namespace, name, rego, enabled, precedence, version, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) \
             RETURNING id",
        )
        .bind(namespace)
        .bind(name)
        .bind(rego)
        .bind(i64::from(enabled))
        .bind(precedence)
        .bind(actor)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .or_conflict(|| format!("a policy named {name} already exists in {namespace}"))?;
        self.get_policy_by_id(id)
            .await?
            .ok_or(DbError::NotFound("policy"))
    }

    pub async fn get_policy_by_id(&self, id: i64) -> Result<Option<PolicyRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn get_policy(&self, namespace: &str, name: &str) -> Result<Option<PolicyRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE namespace = $1 AND name = $2"
        ))
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The namespace's policies, in evaluation order (precedence, then name).
    pub async fn list_policies(
        &self,
        namespace: &str,
        enabled_only: bool,
    ) -> Result<Vec<PolicyRow>> {
        let filter = if enabled_only { " AND enabled = 1" } else { "" };
        Ok(sqlx::query_as(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE namespace = $1{filter} \
             ORDER BY precedence, name"
        ))
        .bind(namespace)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn update_policy(&self, id: i64, update: &PolicyUpdate) -> Result<PolicyRow> {
        let mut sql = Sql::new("UPDATE policies SET updated_at = ");
        sql.int(now_millis());
        if let Some(rego) = &update.rego {
            sql.push(", rego = ")
                .str(rego)
                .push(", version = version + 1");
        }
        if let Some(enabled) = update.enabled {
            sql.push(", enabled = ").int(i64::from(enabled));
        }
        if let Some(precedence) = update.precedence {
            sql.push(", precedence = ").int(precedence);
        }
        sql.push(" WHERE id = ").int(id);
        sql.query().execute(&self.pool).await?;
        self.get_policy_by_id(id)
            .await?
            .ok_or(DbError::NotFound("policy"))
    }

    /// Deletes a policy; its logged decisions stay (they name it).
    pub async fn delete_policy(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether anything would evaluate a package of this repository after sync or scan.
    pub async fn has_policies_or_rules(&self, namespace: &str, repository_id: i64) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM policies WHERE namespace = $1 AND enabled = 1) + \
             (SELECT COUNT(*) FROM promotion_rules WHERE repository_id = $2 AND enabled = 1)",
        )
        .bind(namespace)
        .bind(repository_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Logs decisions and applies their actions to `package` in one transaction, with a
    /// `package.policy_violated` event when `violation` is given.
    pub async fn record_decisions(
        &self,
        package: &PackageRow,
        decisions: &[NewDecision],
        actions: &PackageActions,
        template: &NewEvent,
        violation: Option<&NewEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        for d in decisions {
            insert_decision(&mut tx, d).await?;
        }
        if let Some(event) = violation {
            insert_package_event(&mut tx, package, event).await?;
        }
        let changed = apply_actions_in(&mut tx, package.id, package, actions, template).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Adds and removes tags of a package (with a `package.tags_updated` event).
    pub async fn update_tags(
        &self,
        package: &PackageRow,
        add: &[String],
        remove: &[String],
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let actions = PackageActions {
            quarantine: None,
            add_tags: add.to_vec(),
            remove_tags: remove.to_vec(),
        };
        let changed = apply_actions_in(&mut tx, package.id, package, &actions, event).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// The decision log, newest first, filtered by policy or package.
    pub async fn list_decisions(
        &self,
        namespace: &str,
        policy_id: Option<i64>,
        slug_perm: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DecisionRow>> {
        let mut sql = Sql::new(&format!(
            "SELECT {DECISION_COLUMNS} FROM policy_decisions WHERE namespace = "
        ));
        sql.str(namespace);
        if let Some(id) = policy_id {
            sql.push(" AND policy_id = ").int(id);
        }
        if let Some(slug) = slug_perm {
            sql.push(" AND slug_perm = ").str(slug);
        }
        if let Some(id) = before_id {
            sql.push(" AND id < ").int(id);
        }
        sql.push(" ORDER BY id DESC LIMIT ").int(limit);
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn create_rule(&self, new: &NewRule) -> Result<RuleRow> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO promotion_rules (repository_id, name, on_event, condition_kind, \
             condition, action, destination_repository_id, enabled, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(new.repository_id)
        .bind(&new.name)
        .bind(&new.on_event)
        .bind(&new.condition_kind)
        .bind(&new.condition)
        .bind(&new.action)
        .bind(new.destination_repository_id)
        .bind(i64::from(new.enabled))
        .bind(&new.created_by)
        .bind(now_millis())
        .fetch_one(&self.pool)
        .await
        .or_conflict(|| {
            format!(
                "a rule named {} already exists on this repository",
                new.name
            )
        })?;
        self.rule_by_id(id).await
    }

    async fn rule_by_id(&self, id: i64) -> Result<RuleRow> {
        let mut sql = Sql::new(RULE_SELECT);
        sql.push(" WHERE r.id = ").int(id);
        sql.query_as()
            .fetch_optional(&self.pool)
            .await?
            .ok_or(DbError::NotFound("rule"))
    }

    /// Replaces the rule `id`'s name, trigger, condition, action, destination and state.
    pub async fn update_rule(&self, id: i64, rule: &NewRule) -> Result<RuleRow> {
        sqlx::query(
            "UPDATE promotion_rules SET name = $1, on_event = $2, condition_kind = $3, \
             condition = $4, action = $5, destination_repository_id = $6, enabled = $7 \
             WHERE id = $8",
        )
        .bind(&rule.name)
        .bind(&rule.on_event)
        .bind(&rule.condition_kind)
        .bind(&rule.condition)
        .bind(&rule.action)
        .bind(rule.destination_repository_id)
        .bind(i64::from(rule.enabled))
        .bind(id)
        .execute(&self.pool)
        .await
        .or_conflict(|| {
            format!(
                "a rule named {} already exists on this repository",
                rule.name
            )
        })?;
        self.rule_by_id(id).await
    }

    /// Rules of a repository; with `on_event`, only the enabled ones listening for it.
    pub async fn list_rules(
        &self,
        repository_id: i64,
        on_event: Option<&str>,
    ) -> Result<Vec<RuleRow>> {
        let mut sql = Sql::new(RULE_SELECT);
        sql.push(" WHERE r.repository_id = ").int(repository_id);
        if let Some(event) = on_event {
            sql.push(" AND r.enabled = 1 AND r.on_event = ").str(event);
        }
        sql.push(" ORDER BY r.name");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn delete_rule(&self, repository_id: i64, name: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM promotion_rules WHERE repository_id = $1 AND name = $2")
                .bind(repository_id)
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

reads_through!(
    RuleRow => spec: RuleSpec,
    NewRule => spec: RuleSpec,
    NewDecision => subject: DecisionSubject,
    DecisionRow => subject: DecisionSubject,
);
