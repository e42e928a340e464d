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
