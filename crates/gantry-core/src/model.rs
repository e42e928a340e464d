//! The JSON shapes of the REST Contract (`DESIGN.md` §5) and the enums they carry.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// How a stored value is read back (the database layer decodes columns with it).
        impl TryFrom<String> for $name {
            type Error = UnknownValue;

            fn try_from(text: String) -> Result<Self, UnknownValue> {
                Self::parse(&text).ok_or(UnknownValue {
                    kind: stringify!($name),
                    value: text,
                })
            }
        }
    };
}

/// A stored or sent value that names no variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

string_enum!(
    /// Processing state of a package after upload.
    SyncStatus {
        AwaitingSync => "awaiting_sync",
        Syncing => "syncing",
        Completed => "completed",
        Failed => "failed",
    }
);

string_enum!(
    /// Availability of a package.
    PackageState {
        Available => "available",
        Quarantined => "quarantined",
        Deleted => "deleted",
    }
);

string_enum!(
    /// Vulnerability scan status.
    ScanStatus {
        NotScanned => "not_scanned",
        AwaitingScan => "awaiting_scan",
        Scanning => "scanning",
        NoVulnerabilities => "no_vulnerabilities",
        VulnerabilitiesFound => "vulnerabilities_found",
        Indeterminate => "indeterminate",
        NotSupported => "not_supported",
        ScanFailed => "scan_failed",
    }
);

string_enum!(
    /// Highest severity among a package's vulnerabilities.
    Severity {
        None => "none",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
        Unknown => "unknown",
    }
);

string_enum!(
    /// A token's privilege on its scope. Ordered: `read < write < admin`.
    Privilege {
        Read => "read",
        Write => "write",
        Admin => "admin",
    }
);

impl Privilege {
    fn rank(self) -> u8 {
        match self {
            Privilege::Read => 1,
            Privilege::Write => 2,
            Privilege::Admin => 3,
        }
    }

    /// True when a holder of `self` may do what needs `needed`.
    pub fn covers(self, needed: Privilege) -> bool {
        self.rank() >= needed.rank()
    }
}

string_enum!(
    /// Kinds of events: the provenance trail, the audit log and the webhook feed.
    EventType {
        PackageCreated => "package.created",
        PackageSyncing => "package.syncing",
        PackageSynced => "package.synced",
        PackageFailed => "package.failed",
        PackageSecurityScanned => "package.security_scanned",
        PackageQuarantined => "package.quarantined",
        PackageReleased => "package.released",
        PackageCopied => "package.copied",
        PackageMoved => "package.moved",
        PackageDeleted => "package.deleted",
        PackageRestored => "package.restored",
        PackageTagsUpdated => "package.tags_updated",
        PackageYanked => "package.yanked",
        PackageUnyanked => "package.unyanked",
        PackagePolicyViolated => "package.policy_violated",
        RepositoryCreated => "repository.created",
        RepositoryUpdated => "repository.updated",
        RepositoryDeleted => "repository.deleted",
        TokenCreated => "token.created",
        TokenRevoked => "token.revoked",
        PrincipalCreated => "principal.created",
        TeamMemberAdded => "team.member_added",
        TeamMemberRemoved => "team.member_removed",
        PrivilegeGranted => "privilege.granted",
        PrivilegeRevoked => "privilege.revoked",
        WebhookCreated => "webhook.created",
        WebhookUpdated => "webhook.updated",
        WebhookDeleted => "webhook.deleted",
        UpstreamCreated => "upstream.created",
        UpstreamDeleted => "upstream.deleted",
        UpstreamUpdated => "upstream.updated",
        PolicyCreated => "policy.created",
        PolicyUpdated => "policy.updated",
        PolicyDeleted => "policy.deleted",
        RuleCreated => "rule.created",
        RuleDeleted => "rule.deleted",
        RuleUpdated => "rule.updated",
        VulnerabilityExceptionCreated => "vulnerability_exception.created",
        VulnerabilityExceptionDeleted => "vulnerability_exception.deleted",
        VulnerabilityExceptionExpired => "vulnerability_exception.expired",
        SigningKeyRotated => "signing_key.rotated",
        RetentionRuleCreated => "retention_rule.created",
        RetentionRuleDeleted => "retention_rule.deleted",
        UserLoggedIn => "user.logged_in",
        RequestDenied => "request.denied",
        Ping => "ping",
    }
);

/// A repository as the REST API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Repository {
    /// `OWNER/REPO`.
    pub slug: String,
    pub namespace: String,
    pub name: String,
    pub description: String,
    pub private: bool,
    /// Packages in the repository that are not deleted.
    pub package_count: i64,
    /// Bytes of the artifacts of the packages that are not deleted (listings and reads of a
    /// repository carry it; kept as packages come and go, never summed per request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Packages that are not deleted, and their bytes, per format (formats with none left
    /// out), largest count first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<FormatTotals>>,
    pub created_at: String,
    pub updated_at: String,
    /// CIDR networks allowed to reach the repository's packages (empty: all). Shown to admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    /// CIDR networks refused. Shown to admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_denylist: Option<Vec<String>>,
    /// Minimum privilege per operation, with defaults filled in. Shown to admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<serde_json::Value>,
    /// Whether an existing tag (an OCI image tag) may not be pointed at other content: a push
    /// that would move it is refused with 409.
    #[serde(default)]
    pub immutable_tags: bool,
    /// Whether a native deploy of a release that is already published (a Maven `mvn deploy`
    /// of the same version) replaces it instead of being refused with 409.
    #[serde(default)]
    pub allow_republish: bool,
}

/// A repository's live packages of one format and their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FormatTotals {
    pub format: String,
    pub package_count: i64,
    pub size: i64,
}

/// One file of a package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageFile {
    pub filename: String,
    pub size: i64,
    pub checksum_md5: String,
    pub checksum_sha1: String,
    pub checksum_sha256: String,
    pub checksum_sha512: String,
    pub content_type: String,
    /// Where the native protocol serves this file.
    pub download_url: String,
}

/// The package a copy was made from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OriginPackage {
    pub slug_perm: String,
    pub repository: String,
}

/// A package as the REST API, the CLI's `-F json` and webhook payloads show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Package {
    pub slug_perm: String,
    pub format: String,
    pub name: String,
    pub version: String,
    /// `OWNER/REPO` the package is in now.
    pub repository: String,
    /// `OWNER/REPO` the package (or the package it was copied from) was first uploaded to.
    pub origin_repository: String,
    /// For a copy: the package it was copied from.
    pub origin_package: Option<OriginPackage>,
    pub sync_status: SyncStatus,
    /// 0–100.
    pub sync_progress: i64,
    pub state: PackageState,
    pub status_reason: Option<String>,
    /// Total size of the package's files in bytes.
    pub size: i64,
    /// Checksums of the package's primary file.
    pub checksum_md5: String,
    pub checksum_sha1: String,
    pub checksum_sha256: String,
    pub checksum_sha512: String,
    pub filename: String,
    pub files: Vec<PackageFile>,
    pub tags: Vec<String>,
    pub uploader: String,
    pub uploaded_at: String,
    pub updated_at: String,
    pub security_scan_status: ScanStatus,
    pub max_severity: Option<Severity>,
    pub num_vulnerabilities: i64,
    pub vulnerability_scan_results_url: String,
    /// `upload`, or `upstream` for a package cached from an upstream.
    pub source: String,
    /// The upstream a cached package came from.
    pub upstream: Option<String>,
    /// Yanked files stay installable by exact pin but resolvers skip them.
    pub is_yanked: bool,
    pub yank_reason: Option<String>,
    /// Format-specific metadata extracted during sync.
    pub metadata: serde_json::Value,
    /// API URL of this package.
    pub self_url: String,
}

/// Changes to a repository (`PATCH /api/v1/repos/{owner}/{repo}`); `None` leaves a field as
/// it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRepository {
    pub description: Option<String>,
    pub private: Option<bool>,
    pub ip_allowlist: Option<Vec<String>>,
    pub ip_denylist: Option<Vec<String>>,
    /// Replaces the per-operation minimums (operations left out get their defaults).
    pub permissions: Option<serde_json::Value>,
    /// Refuse (409) a push that would point an existing tag at other content.
    pub immutable_tags: Option<bool>,
    /// Let a native deploy of a published release (a Maven `mvn deploy` of the same
    /// version) replace it.
    pub allow_republish: Option<bool>,
}

/// One event in a package's provenance trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub event: String,
    pub occurred_at: String,
    /// Who did it: a token's description, `admin`, or `anonymous`.
    pub actor: String,
    /// The package this event belongs to.
    pub slug_perm: Option<String>,
    /// `OWNER/REPO` where the package was when the event happened.
    pub repository: Option<String>,
    pub source_repository: Option<String>,
    pub destination_repository: Option<String>,
    pub checksum_sha256: Option<String>,
    /// The client address of the request that caused the event, when there was one.
    pub source_address: Option<String>,
    /// Event-specific detail.
    pub context: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_their_text() {
        for s in EventType::ALL {
            assert_eq!(EventType::parse(s.as_str()), Some(*s));
        }
        assert_eq!(
            serde_json::to_string(&SyncStatus::AwaitingSync)
                .ok()
                .as_deref(),
            Some("\"awaiting_sync\"")
        );
    }

    #[test]
    fn privileges_are_ordered() {
        assert!(Privilege::Admin.covers(Privilege::Write));
        assert!(Privilege::Write.covers(Privilege::Read));
        assert!(!Privilege::Read.covers(Privilege::Write));
        assert!(!Privilege::Write.covers(Privilege::Admin));
    }
}
