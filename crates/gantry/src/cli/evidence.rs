//! Grammar of the evidence verbs: SBOMs, attestation verification, retention rules.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct SbomArgs {
    /// OWNER/REPO/SLUG for one package, or OWNER/REPO for every package of a repository.
    pub(crate) target: String,
    /// With OWNER/REPO: only the packages matching this query (e.g. `name:app`).
    #[arg(short = 'q', long)]
    pub(crate) query: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// OWNER/REPO/SLUG: the package whose chain is checked (e.g. in production).
    pub(crate) package: String,
    /// Trust only the public keys in FILE (as `gantry keys ls` or `GET /api/v1/keys` print
    /// them) instead of the keys the server publishes.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Print the site's public attestation keys as JSON (save them for `verify --key`).
    Ls,
    /// Retire the active signing key and make a new one (site admins). What the old key
    /// signed still verifies.
    Rotate,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RetentionCommand {
    /// Add a retention rule to OWNER/REPO (scheduled rounds apply it; `run` applies it now).
    Create {
        repo: String,
        #[arg(long)]
        name: String,
        /// Keep the newest N uploads of each package name.
        #[arg(long)]
        keep_last: Option<i64>,
        /// Delete packages uploaded more than D days ago (with --keep-last: only those
        /// beyond the newest N).
        #[arg(long)]
        older_than_days: Option<i64>,
        /// Only packages matching this query (e.g. `tag:nightly`).
        #[arg(short = 'q', long, default_value = "")]
        query: String,
        /// Also delete packages that have a live copy in another repository.
        #[arg(long)]
        include_promoted: bool,
    },
    /// List OWNER/REPO's retention rules.
    Ls { repo: String },
    /// Remove retention rule ID of OWNER/REPO.
    Delete { repo: String, id: i64 },
    /// Apply OWNER/REPO's retention rules now (soft deletes), or list what would go.
    Run {
        repo: String,
        #[arg(long)]
        dry_run: bool,
    },
}
