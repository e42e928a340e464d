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
