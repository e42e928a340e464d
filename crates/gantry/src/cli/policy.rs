//! Grammar of the verbs that gate and describe packages: Rego policies, promotion rules,
//! tags, the vulnerability database and security summaries.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Create a policy in OWNER from a Rego file (`package gantry`) or a built-in example;
    /// refused with the compiler's message when it does not compile.
    Create(PolicyCreateArgs),
    /// List the built-in example policies, or print one's source (to save and adapt it).
    Examples { name: Option<String> },
    /// List OWNER's policies in evaluation order.
    Ls { owner: String },
    /// Show OWNER/POLICY with its source.
    Show { policy: String },
    /// Change OWNER/POLICY: a new source (a new version), enable/disable, precedence.
    Update(PolicyUpdateArgs),
    /// Delete OWNER/POLICY (its decisions stay in the log).
    Delete { policy: String },
    /// Evaluate OWNER/POLICY over existing packages without acting.
    Simulate(PolicySimulateArgs),
    /// The decision log of OWNER, or of OWNER/POLICY, newest first.
    Decisions {
        scope: String,
        /// Only decisions about this package.
        #[arg(long)]
        slug: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "example"])))]
pub(crate) struct PolicyCreateArgs {
    pub(crate) owner: String,
    /// The policy's name (default: the example's name).
    #[arg(long, required_unless_present = "example")]
    pub(crate) name: Option<String>,
    /// The Rego module.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// A built-in example (see `gantry policy examples`), e.g. severity-threshold.
    #[arg(long)]
    pub(crate) example: Option<String>,
    /// Create it disabled.
    #[arg(long)]
    pub(crate) disabled: bool,
    /// Lower numbers are evaluated first.
    #[arg(long, default_value_t = 100)]
    pub(crate) precedence: i64,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyUpdateArgs {
    pub(crate) policy: String,
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    #[arg(long, conflicts_with = "disable")]
    pub(crate) enable: bool,
    #[arg(long)]
    pub(crate) disable: bool,
    #[arg(long)]
    pub(crate) precedence: Option<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct PolicySimulateArgs {
    pub(crate) policy: String,
    /// Which packages, e.g. "name:app" (all when omitted).
    #[arg(short = 'q', long, default_value = "")]
    pub(crate) query: String,
    /// Only this repository's packages (REPO or OWNER/REPO); every readable repository
    /// of OWNER when omitted.
    #[arg(long)]
    pub(crate) repo: Option<String>,
    /// Evaluate as a promotion into this repository.
    #[arg(long)]
    pub(crate) destination: Option<String>,
    /// Try this Rego file instead of the stored source.
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Create a rule on OWNER/REPO: when a package there is scanned (or synced) and matches
    /// the condition, copy (or move) it to the destination through the policy gate.
    Create {
        repo: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: RuleFields,
    },
    /// Change rule OWNER/REPO/NAME in place: give it whole, as for create (options left out
    /// take their defaults).
    Update {
        rule: String,
        #[command(flatten)]
        fields: RuleFields,
    },
    /// List OWNER/REPO's rules.
    Ls { repo: String },
    /// Delete OWNER/REPO/NAME.
    Delete { rule: String },
}

/// A rule as `create` and `update` send it (the name aside).
#[derive(Debug, Args)]
pub(crate) struct RuleFields {
    /// package.security_scanned or package.synced.
    #[arg(long, default_value = "package.security_scanned")]
    pub(crate) on: String,
    /// Shorthand condition, e.g. "max_severity < high and tag == tested".
    #[arg(long, conflicts_with = "rego_file")]
    pub(crate) condition: Option<String>,
    /// A Rego module defining `promote` instead of a shorthand condition.
    #[arg(long)]
    pub(crate) rego_file: Option<PathBuf>,
    /// copy or move.
    #[arg(long, default_value = "copy")]
    pub(crate) action: String,
    /// REPO in the same namespace, or OWNER/REPO.
    #[arg(long)]
    pub(crate) destination: String,
    /// Create it disabled.
    #[arg(long)]
    pub(crate) disabled: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TagsCommand {
    /// Add tags to OWNER/REPO/SLUG.
    Add { package: String, tags: Vec<String> },
    /// Remove tags from OWNER/REPO/SLUG.
    Remove { package: String, tags: Vec<String> },
}

#[derive(Debug, Subcommand)]
pub(crate) enum VulndbCommand {
    /// Import OSV records from PATH: a directory of JSON records, a zip of them, or a tree of
    /// <Ecosystem>/all.zip bundles. Each zip or record is uploaded to the server.
    Import { path: PathBuf },
    /// Record counts per ecosystem and the newest `modified`.
    Status,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecurityCommand {
    /// Scan figures of OWNER or OWNER/REPO, and with --packages (or a filter) the packages
    /// behind them.
    Summary {
        scope: String,
        /// List the packages behind the counts.
        #[arg(long)]
        packages: bool,
        /// Only packages whose max severity is one of these, e.g. high,critical (lists them).
        #[arg(long)]
        severity: Option<String>,
        /// Only packages with a vulnerability that has a fixed version (lists them).
        #[arg(long)]
        fixable: bool,
    },
}
