//! Command-line grammar. Verbs follow the cloudsmith CLI that users of promotion workflows
//! already know.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod access;
mod evidence;
mod exceptions;
mod policy;

pub(crate) use access::{
    AuditArgs, EntitlementsCommand, PrivilegesCommand, ServiceAccountsCommand, TeamsCommand,
    TokensCommand, UsersCommand, WebhookCreateArgs, WebhookDelivery, WebhookUpdateArgs,
    WebhooksCommand,
};
pub(crate) use evidence::{KeysCommand, RetentionCommand, SbomArgs, VerifyArgs};
pub(crate) use exceptions::{ExceptArgs, ExceptionsCommand, VulnerabilitiesArgs};
pub(crate) use policy::{
    PolicyCommand, PolicyCreateArgs, PolicySimulateArgs, PolicyUpdateArgs, RuleFields,
    RulesCommand, SecurityCommand, TagsCommand, VulndbCommand,
};

#[derive(Debug, Parser)]
#[command(
    name = "gantry",
    version,
    about = "Gantry: a self-hosted package repository with gated, auditable promotion",
    long_about = "Gantry stores packages of many formats, and promotes the identical bytes from \
dev to staging to production with a provenance trail.\n\nRun `gantry server` to start a server on \
the embedded default (SQLite and blobs in ./gantry-data). Client verbs talk to GANTRY_URL \
(default http://127.0.0.1:8080) with GANTRY_TOKEN, or with what `gantry login` saved."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Server URL for client verbs.
    #[arg(long = "api-url", env = "GANTRY_URL", global = true)]
    pub(crate) api_url: Option<String>,
    /// API token for client verbs.
    #[arg(long, env = "GANTRY_TOKEN", global = true, hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Output format: human-readable text, or JSON on stdout.
    #[arg(
        short = 'F',
        long = "output-format",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP server (with in-process job workers unless --workers 0).
    Server(ServerArgs),
    /// Run job workers only, against the same database and storage as the servers.
    Worker(ServerArgs),
    /// Site administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Save a server URL and token for later commands (in the user's config file, mode 0600).
    Login(LoginArgs),
    /// Show who the current token belongs to.
    Whoami,
    /// Create, list, show, update and delete repositories.
    #[command(subcommand)]
    Repos(ReposCommand),
    /// Upload a file as a package (oci: an OCI image layout directory as LAYOUT_DIR:TAG,
    /// pushed through the registry API; the image is named by --name or the directory).
    Push(PushArgs),
    /// List things.
    #[command(subcommand)]
    Ls(LsCommand),
    /// Show a package's sync status.
    Status(PackageRef),
    /// Copy a package to another repository (new slug_perm, same bytes).
    Cp(PromoteArgs),
    /// Move a package to another repository (same slug_perm, same bytes).
    Mv(PromoteArgs),
    /// Re-run processing of a package (e.g. after a failed sync) and wait for it.
    Resync(ResyncArgs),
    /// Quarantine a package (its files are refused everywhere) or release it.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Yank a package (resolvers skip it; exact pins still install), or undo that.
    Yank {
        /// OWNER/REPO/SLUG
        package: String,
        #[arg(long)]
        reason: Option<String>,
        /// Un-yank.
        #[arg(long)]
        undo: bool,
    },
    /// Promote packages in bulk, atomically: all selected packages are copied (or moved), or
    /// none is.
    Promote(BulkPromoteArgs),
    /// Soft-delete a package (restorable).
    Delete(PackageRef),
    /// Restore a soft-deleted package.
    Restore(PackageRef),
    /// Show a package's provenance trail.
    Events(PackageRef),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage a repository's webhooks and their deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Manage users (site admins).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage a namespace's teams.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// Manage a namespace's service accounts.
    #[command(subcommand, name = "service-accounts")]
    ServiceAccounts(ServiceAccountsCommand),
    /// Grant and revoke privileges.
    #[command(subcommand)]
    Privileges(PrivilegesCommand),
    /// Read-only distribution tokens for a repository's consumers.
    #[command(subcommand)]
    Entitlements(EntitlementsCommand),
    /// Show a namespace's audit log: every mutation and denied request.
    Audit(AuditArgs),
    /// Manage a repository's upstreams for one format: `gantry upstream python|npm create …`.
    Upstream(UpstreamArgs),
    /// The vulnerability database.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// List a package's vulnerabilities (OWNER/REPO/SLUG), or manage exceptions (VEX):
    /// except, exceptions, withdraw, openvex.
    Vulnerabilities(VulnerabilitiesArgs),
    /// Rescan a package for vulnerabilities.
    Scan(PackageRef),
    /// Security summaries.
    #[command(subcommand)]
    Security(SecurityCommand),
    /// Rego policies of a namespace: gates on promotion, actions after sync and scan.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Built-in promotion rules of a repository.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Add or remove tags of a package.
    #[command(subcommand)]
    Tags(TagsCommand),
    /// Print a package's (OWNER/REPO/SLUG) or a repository's (OWNER/REPO) software bill of
    /// materials as CycloneDX 1.5 JSON.
    Sbom(SbomArgs),
    /// Check a package's signed attestations offline: the bytes served at OWNER/REPO/SLUG are
    /// the bytes uploaded, through every signed copy and move, each gate passed. Exit 1 names
    /// the failing step.
    Verify(VerifyArgs),
    /// The site's attestation keys: print the public keys, or rotate the signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Retention rules of a repository: keep the newest N per name, delete older than D
    /// days, by query; scheduled rounds, `run` now, `run --dry-run` to list what would go.
    #[command(subcommand)]
    Retention(RetentionCommand),
}

#[derive(Debug, Args)]
pub(crate) struct UpstreamArgs {
    /// Package format of the upstream (a registered format that has upstreams: see
    /// docs/upstreams.md).
    pub(crate) format: String,
    #[command(subcommand)]
    pub(crate) command: UpstreamCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UpstreamCommand {
    /// Add an upstream to OWNER/REPO.
    Create {
        repo: String,
        #[command(flatten)]
        fields: UpstreamFields,
    },
    /// Change upstream ID of OWNER/REPO in place: give it whole, as for create (options
    /// left out take their defaults; a password left out keeps the stored one). Its cached
    /// index pages are dropped; packages cached from it stay.
    Update {
        /// OWNER/REPO.
        repo: String,
        /// The upstream's id (`gantry upstream FORMAT ls`).
        id: i64,
        #[command(flatten)]
        fields: UpstreamFields,
    },
    /// List OWNER/REPO's upstreams.
    Ls { repo: String },
    /// Remove an upstream by id.
    Delete { repo: String, id: i64 },
}

/// An upstream as `create` and `update` send it.
#[derive(Debug, Args)]
pub(crate) struct UpstreamFields {
    /// A name unique in the repository.
    #[arg(long)]
    pub(crate) name: String,
    /// The upstream's base URL, as the format's page under docs/formats/ names it (for
    /// example a Python simple index root, an npm registry root, a cargo sparse index root
    /// without `sparse+`, a registry root for oci, the module proxy for go, an apt
    /// repository root holding dists/ and pool/ for deb).
    #[arg(long)]
    pub(crate) url: String,
    /// Lower numbers are tried first.
    #[arg(long, default_value_t = 1)]
    pub(crate) priority: i64,
    /// proxy: stream files through; cache: also store them as packages.
    #[arg(long, default_value = "cache", value_parser = ["proxy", "cache"])]
    pub(crate) mode: String,
    /// Basic-auth user name at the upstream.
    #[arg(long)]
    pub(crate) username: Option<String>,
    /// Basic-auth password or token at the upstream (stored, never shown).
    #[arg(long)]
    pub(crate) password: Option<String>,
    /// How long an index page read from the upstream is used before it is read again (and
    /// used however old while the upstream cannot be reached).
    #[arg(long, default_value_t = 300)]
    pub(crate) index_ttl_seconds: i64,
    /// For names that exist locally, serve only local versions (dependency confusion).
    #[arg(long)]
    pub(crate) local_names_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GANTRY_LISTEN")]
    pub(crate) listen: Option<String>,
    /// Directory for the embedded database, blobs and the admin token.
    #[arg(long, env = "GANTRY_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Metadata database: sqlite://PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "GANTRY_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Blob storage: a directory, file:///DIR, s3://BUCKET[/PREFIX] (AWS_* environment) or
    /// memory:.
    #[arg(long, env = "GANTRY_STORAGE_URL")]
    pub(crate) storage_url: Option<String>,
    /// Largest accepted upload in bytes (larger ones get 413).
    #[arg(long, env = "GANTRY_MAX_UPLOAD_SIZE")]
    pub(crate) max_upload_size: Option<u64>,
    /// URL clients reach this server at, used in links (default: from the Host header).
    #[arg(long, env = "GANTRY_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// In-process job workers (sync, webhooks); 0 leaves jobs to `gantry worker`.
    #[arg(long, env = "GANTRY_WORKERS")]
    pub(crate) workers: Option<usize>,
    /// Seconds a claimed job may go without a heartbeat before another worker takes it over.
    #[arg(long, env = "GANTRY_JOB_LEASE_SECONDS")]
    pub(crate) job_lease_seconds: Option<u64>,
    /// Seconds before each retry of a failed webhook delivery, e.g. 5,30,120,600,1800,3600.
    #[arg(long, env = "GANTRY_WEBHOOK_RETRY_SCHEDULE", value_delimiter = ',')]
    pub(crate) webhook_retry_schedule: Option<Vec<f64>>,
    /// Consecutive failed attempts after which a webhook is disabled (default 20).
    #[arg(long, env = "GANTRY_WEBHOOK_DISABLE_AFTER")]
    pub(crate) webhook_disable_after: Option<i64>,
    /// Timeout of one webhook delivery attempt in seconds (default 10).
    #[arg(long, env = "GANTRY_WEBHOOK_TIMEOUT_SECONDS")]
    pub(crate) webhook_timeout_seconds: Option<f64>,
    /// Networks (CIDR, comma-separated) webhooks and upstreams may not target; wins over
    /// --outbound-allow-networks. The cloud metadata address is always denied.
    #[arg(long, env = "GANTRY_WEBHOOK_DENY_NETWORKS", value_delimiter = ',')]
    pub(crate) webhook_deny_networks: Option<Vec<String>>,
    /// Private networks (CIDR, comma-separated) that webhooks and upstreams may target, e.g.
    /// 10.0.0.0/8 for an internal index. By default private, loopback, link-local and
    /// unique-local addresses are refused.
    #[arg(long, env = "GANTRY_OUTBOUND_ALLOW_NETWORKS", value_delimiter = ',')]
    pub(crate) outbound_allow_networks: Option<Vec<String>>,
    /// Proxies (CIDR, comma-separated) whose X-Forwarded-For names the client address.
    #[arg(long, env = "GANTRY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub(crate) trusted_proxies: Option<Vec<String>>,
    /// Failed authentications per address (IPv6: per /64) within the window before bad tokens
    /// and logins get 429 (default 10); valid tokens are never refused.
    #[arg(long, env = "GANTRY_AUTH_FAILURE_LIMIT")]
    pub(crate) auth_failure_limit: Option<u32>,
    /// The window of --auth-failure-limit in seconds (default 60).
    #[arg(long, env = "GANTRY_AUTH_FAILURE_WINDOW_SECONDS")]
    pub(crate) auth_failure_window_seconds: Option<u64>,
    /// Base URL of OSV bundles laid out as <Ecosystem>/all.zip, imported periodically.
    #[arg(long, env = "GANTRY_VULNDB_URL")]
    pub(crate) vulndb_url: Option<String>,
    /// Seconds between syncs of --vulndb-url (default 86400).
    #[arg(long, env = "GANTRY_VULNDB_SYNC_INTERVAL_SECONDS")]
    pub(crate) vulndb_sync_interval_seconds: Option<u64>,
    /// Seconds a connection has, from when it is ready for a request, to send all of the
    /// request's headers (default 30).
    #[arg(long, env = "GANTRY_HEADER_TIMEOUT_SECONDS")]
    pub(crate) header_timeout_seconds: Option<u64>,
    /// Seconds a connection may stay silent while no request is being handled (default 60).
    #[arg(long, env = "GANTRY_IDLE_TIMEOUT_SECONDS")]
    pub(crate) idle_timeout_seconds: Option<u64>,
    /// Seconds a request or response body may go without progress (default 60).
    #[arg(long, env = "GANTRY_BODY_TIMEOUT_SECONDS")]
    pub(crate) body_timeout_seconds: Option<u64>,
    /// Connections served at once; more wait in the listen backlog (default 4096).
    #[arg(long, env = "GANTRY_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// Seconds one request body (an upload) may take in all (default 86400); temporary upload
    /// files older than this are removed at start and hourly.
    #[arg(long, env = "GANTRY_UPLOAD_TIMEOUT_SECONDS")]
    pub(crate) upload_timeout_seconds: Option<u64>,
    /// Log lines as text (coloured only on a terminal; NO_COLOR turns colour off) or as one
    /// JSON object per line, for log shippers.
    #[arg(long, env = "GANTRY_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// TOML file with any of: listen, data_dir, database_url, storage_url, max_upload_size,
    /// public_url, workers, job_lease_seconds, webhook_retry_schedule, webhook_disable_after,
    /// webhook_timeout_seconds, webhook_deny_networks, outbound_allow_networks,
    /// header_timeout_seconds, idle_timeout_seconds, body_timeout_seconds, max_connections,
    /// upload_timeout_seconds.
    /// Flags and environment variables win.
    #[arg(long, env = "GANTRY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Token to save; read from standard input when neither this nor --username is given.
    #[arg(
        long = "api-key",
        visible_alias = "token-value",
        conflicts_with = "username"
    )]
    pub(crate) api_key: Option<String>,
    /// Log in as this user: the password is read from standard input (or GANTRY_PASSWORD)
    /// and exchanged for a new token.
    #[arg(long)]
    pub(crate) username: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReposCommand {
    /// Create a repository (private unless --public).
    Create {
        /// OWNER/REPO
        repo: String,
        #[arg(long)]
        public: bool,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a namespace's repositories.
    Ls { owner: String },
    /// Show a repository.
    Get { repo: String },
    /// Change a repository's description, visibility, address rules or operation minimums.
    Update {
        repo: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "private")]
        public: bool,
        #[arg(long)]
        private: bool,
        /// Comma-separated CIDR networks allowed to reach the packages ("" allows all).
        #[arg(long)]
        ip_allowlist: Option<String>,
        /// Comma-separated CIDR networks refused.
        #[arg(long)]
        ip_denylist: Option<String>,
        /// OPERATION=PRIVILEGE, e.g. push=admin (repeatable); replaces the minimums.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// true: a push that would point an existing tag (an OCI image tag) at other content
        /// is refused; false: tags move (the default).
        #[arg(long, value_name = "true|false")]
        immutable_tags: Option<bool>,
        /// true: a native deploy of a release that is already published (a Maven `mvn
        /// deploy` of the same version) replaces it; false: refused with 409 (the default).
        #[arg(long, value_name = "true|false")]
        allow_republish: Option<bool>,
    },
    /// Delete a repository (refused while it holds packages unless --force).
    Delete {
        repo: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Package format, e.g. raw.
    pub(crate) format: String,
    /// OWNER/REPO
    pub(crate) repo: String,
    /// The file to upload, or a directory the format packs first (go: a module directory,
    /// packed into a module zip by the go command's rules; give --version); for oci,
    /// LAYOUT_DIR:TAG.
    pub(crate) file: PathBuf,
    /// Package name (go: the module path, when the directory has no go.mod).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Package version (go: e.g. v1.2.3).
    #[arg(long)]
    pub(crate) version: Option<String>,
    /// Stored filename (default: the file's own name).
    #[arg(long)]
    pub(crate) filename: Option<String>,
    /// Comma-separated tags.
    #[arg(long, value_delimiter = ',')]
    pub(crate) tags: Vec<String>,
    /// Replace an existing package with the same name, version and filename.
    #[arg(long)]
    pub(crate) republish: bool,
    /// For maven: the POM deployed with FILE (it names the package; FILE may be the POM
    /// itself for a `pom` packaging).
    #[arg(long)]
    pub(crate) pom: Option<PathBuf>,
    /// For deb: the distribution(s) the package is listed in (e.g. bookworm; repeat or
    /// separate with commas; default: stable).
    #[arg(long = "distribution", value_delimiter = ',')]
    pub(crate) distributions: Vec<String>,
    /// For deb: the component(s) it is listed in (e.g. main; default: main).
    #[arg(long = "component", value_delimiter = ',')]
    pub(crate) components: Vec<String>,
    #[command(flatten)]
    pub(crate) wait: SyncWait,
}

// Shared by the verbs that start a sync and wait for it (no doc comment: clap would show
// it as the verb's about).
#[derive(Debug, Args)]
pub(crate) struct SyncWait {
    /// Return without waiting for sync to finish.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Resync a failed package up to this many times while waiting.
    #[arg(long, default_value_t = 3)]
    pub(crate) sync_attempts: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LsCommand {
    /// List packages of a repository.
    Pkgs {
        /// OWNER/REPO
        repo: String,
        /// Query, e.g. "name:app version:1.0 tag:tested".
        #[arg(short = 'q', long)]
        query: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: i64,
        #[arg(long, default_value_t = 30)]
        page_size: i64,
    },
    /// List repositories of a namespace.
    Repos { owner: String },
}

#[derive(Debug, Args)]
pub(crate) struct BulkPromoteArgs {
    /// OWNER/REPO the packages are in.
    pub(crate) source: String,
    /// REPO in the same namespace, or OWNER/REPO.
    pub(crate) destination: String,
    /// Select packages by query, e.g. "name:app tag:tested".
    #[arg(short = 'q', long, conflicts_with = "slugs")]
    pub(crate) query: Option<String>,
    /// Select packages by slug_perm.
    pub(crate) slugs: Vec<String>,
    /// Move instead of copy.
    #[arg(long = "move")]
    pub(crate) move_: bool,
    /// Show what would be promoted and what would block, changing nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Replace packages with the same identity in the destination.
    #[arg(long)]
    pub(crate) republish: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PackageRef {
    /// OWNER/REPO/SLUG
    pub(crate) package: String,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// OWNER/REPO/SLUG
    pub(crate) package: String,
    /// REPO in the same namespace, or OWNER/REPO.
    pub(crate) destination: String,
    /// Replace a package with the same identity in the destination.
    #[arg(long)]
    pub(crate) republish: bool,
    #[command(flatten)]
    pub(crate) wait: SyncWait,
}

#[derive(Debug, Subcommand)]
pub(crate) enum QuarantineCommand {
    /// Quarantine OWNER/REPO/SLUG.
    Add {
        package: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Release OWNER/REPO/SLUG from quarantine.
    Remove {
        package: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ResyncArgs {
    /// OWNER/REPO/SLUG
    pub(crate) package: String,
    /// Resync again up to this many times in all while it keeps failing.
    #[arg(long, default_value_t = 3)]
    pub(crate) sync_attempts: u32,
    /// Return without waiting for sync to finish.
    #[arg(long)]
    pub(crate) no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Print every route the server answers (method and path template) as JSON; runs locally.
    Routes,
    /// List queued, running and dead jobs.
    Jobs {
        /// Comma-separated states: queued, running, dead.
        #[arg(long)]
        state: Option<String>,
    },
    /// Remove blobs no package (deleted ones included), upload or format table refers to,
    /// last written before the grace period; safe while uploads run. Site admins only.
    Gc {
        /// Keep blobs last written less than this many seconds ago, whatever refers to them:
        /// the longest an upload may take from storing its bytes to recording its package.
        #[arg(long, default_value_t = 3600)]
        grace_seconds: u64,
        /// Report what would be removed without removing anything.
        #[arg(long)]
        dry_run: bool,
        /// First purge packages deleted more than this many days ago (files, tags and
        /// findings; events stay), so their blobs can go. Without it deleted packages stay
        /// restorable and keep their blobs.
        #[arg(long)]
        purge_deleted_after_days: Option<u64>,
    },
    /// Check that every referenced blob exists and re-hashes to its recorded digests, and
    /// that every stored blob is referenced; exits 1 when it finds a problem. Site admins only.
    Fsck {
        /// Unreferenced blobs written less than this many seconds ago are uploads in flight,
        /// not problems.
        #[arg(long, default_value_t = 3600)]
        grace_seconds: u64,
        /// Remove the unreferenced blobs found (as `gantry admin gc` would). Missing or
        /// damaged blobs are only reported, with the packages that hold them.
        #[arg(long)]
        repair: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_grammar_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
