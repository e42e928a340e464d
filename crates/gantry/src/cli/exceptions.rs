//! Grammar of `gantry vulnerabilities`: a package's findings, and exceptions (VEX).

use clap::{Args, Subcommand};

/// `gantry vulnerabilities OWNER/REPO/SLUG` lists findings; its subcommands manage
/// exceptions.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct VulnerabilitiesArgs {
    #[command(subcommand)]
    pub(crate) action: Option<ExceptionsCommand>,
    /// OWNER/REPO/SLUG
    #[arg(required = true)]
    pub(crate) package: Option<String>,
    /// Comma-separated severities to show, e.g. high,critical.
    #[arg(long)]
    pub(crate) severity: Option<String>,
    /// Only advisories with a fixed version.
    #[arg(long)]
    pub(crate) fixable: bool,
    /// Also list findings excepted as not_affected or fixed (they do not count).
    #[arg(long)]
    pub(crate) include_excepted: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExceptionsCommand {
    /// Mark ADVISORY as not affecting a package (TARGET = OWNER/REPO/SLUG), every package of
    /// a name (TARGET = OWNER/REPO with --name, optionally --versions) or a whole repository
    /// (TARGET = OWNER/REPO with --repo). Needs admin on the repository. not_affected and
    /// fixed take the finding out of the counts, max_severity, gates and rules until the
    /// exception expires or is withdrawn; under_investigation only records it.
    Except(ExceptArgs),
    /// List the exceptions of OWNER or OWNER/REPO.
    Exceptions { scope: String },
    /// Withdraw exception ID of OWNER/REPO: its findings count again.
    Withdraw { repo: String, id: i64 },
    /// Print the active exceptions of OWNER/REPO as an OpenVEX document.
    Openvex { repo: String },
}

#[derive(Debug, Args)]
pub(crate) struct ExceptArgs {
    /// OWNER/REPO/SLUG, or OWNER/REPO with --name or --repo.
    pub(crate) target: String,
    /// The advisory id (the finding's id or any of its aliases).
    pub(crate) advisory: String,
    /// OpenVEX status: not_affected, fixed or under_investigation.
    #[arg(long)]
    pub(crate) status: String,
    /// With not_affected: component_not_present, vulnerable_code_not_present,
    /// vulnerable_code_not_in_execute_path,
    /// vulnerable_code_cannot_be_controlled_by_adversary or inline_mitigations_already_exist.
    #[arg(long)]
    pub(crate) justification: Option<String>,
    /// Why the advisory does not affect the package (free text).
    #[arg(long)]
    pub(crate) impact: Option<String>,
    /// When the exception lapses: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub(crate) expires: Option<String>,
    /// Every package of this name in OWNER/REPO.
    #[arg(long, conflicts_with = "repo")]
    pub(crate) name: Option<String>,
    /// With --name: a version range such as ">=2.0,<2.11".
    #[arg(long, requires = "name")]
    pub(crate) versions: Option<String>,
    /// The whole repository OWNER/REPO.
    #[arg(long)]
    pub(crate) repo: bool,
}
