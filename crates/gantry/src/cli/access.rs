//! Grammar of the access-control verbs (tokens, users, teams, service accounts, privileges,
//! entitlements, the audit log) and of webhooks.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Create a webhook for a repository.
    Create(WebhookCreateArgs),
    /// List a repository's webhooks.
    Ls { repo: String },
    /// Change a webhook; --enable re-enables one disabled after failures.
    Update(WebhookUpdateArgs),
    /// Delete a webhook.
    Delete { repo: String, id: i64 },
    /// Send a ping event now and show the receiver's answer.
    Ping { repo: String, id: i64 },
    /// Show recent deliveries and their attempts.
    Deliveries { repo: String, id: i64 },
    /// Queue a delivery again.
    Redeliver {
        repo: String,
        id: i64,
        /// Numeric delivery id (from `deliveries`).
        delivery: i64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct WebhookCreateArgs {
    /// OWNER/REPO
    pub(crate) repo: String,
    /// URL that receives a POST per event.
    #[arg(long = "target-url")]
    pub(crate) target_url: String,
    /// Comma-separated event types, or * for all.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub(crate) events: Vec<String>,
    #[command(flatten)]
    pub(crate) delivery: WebhookDelivery,
    /// Create it disabled.
    #[arg(long)]
    pub(crate) inactive: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WebhookUpdateArgs {
    pub(crate) repo: String,
    pub(crate) id: i64,
    #[arg(long = "target-url")]
    pub(crate) target_url: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub(crate) events: Option<Vec<String>>,
    #[command(flatten)]
    pub(crate) delivery: WebhookDelivery,
    #[arg(long, conflicts_with = "disable")]
    pub(crate) enable: bool,
    #[arg(long)]
    pub(crate) disable: bool,
}

// How deliveries are signed, filtered and sent; the same options on create and update.
#[derive(Debug, Args)]
pub(crate) struct WebhookDelivery {
    /// Secret for the X-Gantry-Signature-256 HMAC.
    #[arg(long)]
    pub(crate) secret: Option<String>,
    /// Only packages matching this query, e.g. "name:app tag:tested".
    #[arg(long)]
    pub(crate) package_query: Option<String>,
    /// Extra header sent with every delivery, as NAME=VALUE.
    #[arg(long)]
    pub(crate) header: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokensCommand {
    /// Create a token scoped to a namespace or repository; prints the secret once.
    Create {
        /// OWNER or OWNER/REPO
        scope: String,
        #[arg(long, value_parser = ["read", "write", "admin"])]
        privilege: Option<String>,
        /// Make the token act for service:OWNER/NAME or user:NAME (narrowed to the scope).
        #[arg(long)]
        principal: Option<String>,
        #[arg(long, conflicts_with = "expires_in_seconds")]
        expires_in_days: Option<i64>,
        /// For short-lived automation tokens.
        #[arg(long)]
        expires_in_seconds: Option<i64>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List tokens scoped to OWNER[/REPO], or your own: prefix, kind, scope, privilege,
    /// expiry and description (never the secret).
    Ls { scope: Option<String> },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a user; the password is read from standard input (or GANTRY_PASSWORD).
    Create {
        name: String,
        #[arg(long)]
        site_admin: bool,
    },
    /// List users.
    Ls,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TeamsCommand {
    /// Create a team: OWNER/TEAM.
    Create { team: String },
    /// List a namespace's teams and members.
    Ls { owner: String },
    /// Add a user to OWNER/TEAM.
    AddMember { team: String, user: String },
    /// Remove a user from OWNER/TEAM.
    RemoveMember { team: String, user: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceAccountsCommand {
    /// Create a service account: OWNER/NAME.
    Create { account: String },
    /// List a namespace's service accounts.
    Ls { owner: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PrivilegesCommand {
    /// List grants on a namespace and its repositories.
    Ls { owner: String },
    /// Grant PRINCIPAL (user:NAME, team:NAME, service:NAME) a privilege on OWNER or OWNER/REPO.
    Grant {
        scope: String,
        principal: String,
        #[arg(value_parser = ["read", "write", "admin"])]
        privilege: String,
    },
    /// Remove PRINCIPAL's grant on OWNER or OWNER/REPO.
    Revoke { scope: String, principal: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EntitlementsCommand {
    /// Create a read-only token for OWNER/REPO; prints the secret once.
    Create {
        repo: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Downloads allowed in all.
        #[arg(long)]
        max_downloads: Option<i64>,
    },
    /// List OWNER/REPO's entitlements with their expiry and download counts.
    Ls { repo: String },
    /// Revoke an entitlement by id.
    Revoke { id: i64 },
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    pub(crate) owner: String,
    /// Part of the actor's name.
    #[arg(long)]
    pub(crate) actor: Option<String>,
    /// Event type, e.g. package.moved or request.denied.
    #[arg(long)]
    pub(crate) event: Option<String>,
    /// RFC 3339 time (inclusive).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// RFC 3339 time (exclusive).
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Only events older than this event id (to page back).
    #[arg(long)]
    pub(crate) before: Option<i64>,
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: i64,
}
