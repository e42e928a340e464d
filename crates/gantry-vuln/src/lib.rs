//! OSV advisories for Gantry: record parsing, per-ecosystem version ordering, matching
//! and severity.
//!
//! # Parsing
//!
//! [`parse_advisory`] reads one OSV JSON record (at most [`MAX_RECORD_BYTES`]) into an
//! [`Advisory`] and computes its [`Severity`]: the highest CVSS v3/v4 vector in
//! `severity[]` (record or package level), else the highest `database_specific.severity`
//! rating (`MODERATE` is medium), else a bare non-vector score, else `Unknown` (which
//! [`Severity::rank`] treats as critical).
//!
//! # Matching
//!
//! [`match_advisory`] follows the evaluation algorithm of the OSV schema:
//!
//! 1. A withdrawn advisory never matches.
//! 2. An `affected[]` entry applies when its ecosystem (ignoring a `:suffix`) is the
//!    package's and its name equals the package name once both are normalised by
//!    [`Ecosystem::normalize_name`] (PEP 503 for PyPI, lower case for NuGet and
//!    Packagist, exact otherwise).
//! 3. The version is affected by an entry if it appears in `versions[]` (as written, or
//!    equal under the ecosystem's ordering, so PyPI `1.0` matches `1.0.0`), or if it lies
//!    in one of the entry's `ECOSYSTEM` or `SEMVER` ranges. For a range the events are
//!    sorted by version (`introduced: "0"` first; a stable sort keeps record order for
//!    equal versions) and walked: `introduced <= v` sets "vulnerable", `fixed <= v`
//!    clears it, `last_affected < v` clears it. When the range has `limit` events, `v`
//!    must also be below one of them (`"*"` is unbounded). `GIT` ranges (commit hashes)
//!    cannot be evaluated here and are skipped without affecting the other ranges or the
//!    `versions[]` list; `ecosystem_specific` data (such as Go's `custom_ranges`) is not
//!    part of the algorithm and is ignored.
//! 4. If a range needs the package version and it does not parse for the ecosystem, or
//!    a bound of the range does not parse, that range is indeterminate. The advisory's
//!    result is `Affected` if any entry says so, else `Indeterminate` if any range was,
//!    else `NotAffected`.
//!
//! `ECOSYSTEM` ranges are ordered by the ecosystem's rules ([`compare`]): PEP 440 (PyPI),
//! SemVer 2.0 (npm, leniently allowing `v`/`=`; crates.io, strictly; Go, with optional
//! `v`, pseudo-versions as pre-releases and `+incompatible` ignored), Maven's
//! `ComparableVersion`, RubyGems' `Gem::Version`, NuGet's four-part SemVer, Composer's
//! normalised versions, dpkg's versions (Debian) and apk's (Alpine). A distribution's
//! advisories are per release (`Debian:12`): [`match_advisory_in`] takes the release.
//! `SEMVER` ranges use SemVer 2.0 precedence in every ecosystem.

mod advisory;
mod aliases;
mod ecosystem;
mod matching;
mod severity;
mod version;

pub use advisory::{parse_advisory, Advisory, Affected, Event, Range, RangeKind, MAX_RECORD_BYTES};
pub use aliases::merge_aliases;
pub use ecosystem::Ecosystem;
pub use matching::{match_advisory, match_advisory_in, Finding, MatchResult, Matcher};
pub use severity::{Severity, SeverityBasis};
pub use version::compare;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VulnError {
    /// The record is larger than [`MAX_RECORD_BYTES`].
    #[error("advisory record is {size} bytes, more than the {limit} allowed")]
    TooLarge { size: usize, limit: usize },
    /// Not JSON, or not shaped like an OSV record.
    #[error("advisory record is not valid OSV JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of the right shape with a value the schema does not allow.
    #[error("invalid advisory record: {0}")]
    Invalid(String),
}
