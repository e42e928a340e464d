use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::sync::Arc;

/// What a client said about an upload. Formats decide how far to trust it.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub name: Option<String>,
    pub version: Option<String>,
    pub filename: String,
    /// Client-supplied checksums (hex), verified during processing when present.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    /// Further facts the uploader states that the format asked for (a Debian package's
    /// `distribution` and `component`): upload query parameters named by
    /// [`Format::upload_attributes`], at most [`MAX_ATTRIBUTES`], each value at most
    /// [`MAX_ATTRIBUTE_LEN`] bytes. Kept with the package, so a resync sees them again.
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Most attributes one upload may state.
pub const MAX_ATTRIBUTES: usize = 8;
/// Longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_LEN: usize = 512;

/// The identity that makes a package unique within a repository:
/// (format, normalized name, version, qualifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Display name.
    pub name: String,
    /// Name used for lookups and uniqueness (e.g. PEP 503-normalised for Python).
    pub normalized_name: String,
    pub version: String,
    /// Distinguishes packages of one name and version (a raw filename, a wheel tag, an OCI
    /// tag); empty when the format has none.
    pub qualifier: String,
}

/// A small file derived from an artifact and stored beside it (e.g. a wheel's `METADATA`,
/// served as `<wheel>.metadata` per PEP 658).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// The result of processing an artifact.
#[derive(Debug, Clone)]
pub struct Processed {
    pub identity: Identity,
    pub filename: String,
    pub content_type: String,
    /// Format-specific metadata shown as the package's `metadata`.
    pub metadata: serde_json::Value,
    /// Derived files to store with the package.
    pub extra_files: Vec<ExtraFile>,
}

/// Longest version any format accepts. npm's own semver stops at 256 characters; nothing real
/// comes near, and a version is stored, indexed and echoed in every listing.
pub const MAX_VERSION_LEN: usize = 256;

/// Refuses a version longer than [`MAX_VERSION_LEN`] before it is parsed or quoted.
pub fn check_version_len(version: &str) -> Result<(), FormatError> {
    if version.len() > MAX_VERSION_LEN {
        return Err(FormatError::Invalid(format!(
            "version '{}' is longer than {MAX_VERSION_LEN} characters",
            gantry_core::names::quote_prefix(version, 64)
        )));
    }
    Ok(())
}

/// Anything processing can read from: a file of the artifact.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An artifact handed to a format: its bytes and the digests computed at upload.
pub struct Artifact<'a> {
    pub content: &'a mut dyn ReadSeek,
    pub size: u64,
    pub md5: &'a str,
    pub sha1: &'a str,
    pub sha256: &'a str,
    pub sha512: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The request is incomplete or malformed (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// A client-supplied checksum does not match the bytes received (HTTP 422).
    #[error("{algorithm} checksum mismatch: declared {declared}, computed {computed}")]
    ChecksumMismatch {
        algorithm: &'static str,
        declared: String,
        computed: String,
    },
    /// Reading the artifact failed.
    #[error("reading the artifact failed: {0}")]
    Io(String),
}

impl From<std::io::Error> for FormatError {
    fn from(e: std::io::Error) -> Self {
        FormatError::Io(e.to_string())
    }
}

/// Where a package's file lives, for building its download path.
#[derive(Debug, Clone, Copy)]
pub struct FileLocation<'a> {
    pub namespace: &'a str,
    pub repository: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub slug_perm: &'a str,
    pub filename: &'a str,
}

impl FileLocation<'_> {
    /// `/{namespace}/{repository}/{format}/files/{slug_perm}/{filename}`: where formats whose
    /// clients take URLs from an index serve files.
    pub fn default_path(&self, format: &str) -> String {
        format!(
            "/{}/{}/{format}/files/{}/{}",
            self.namespace,
            self.repository,
            self.slug_perm,
            encode_segment(self.filename)
        )
    }
}

/// Characters left as they are in a URL path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+');

/// `segment` percent-encoded for a URL path.
pub fn encode_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// What the rest of Gantry needs to know about a format without calling into it: its names
/// and the templates of its install command and download path. A format declares one
/// `static` of these instead of a method each.
#[derive(Debug)]
pub struct FormatInfo {
    /// The format's id as used in URLs, the CLI and package JSON (`raw`, `python`, …).
    pub id: &'static str,
    /// The package-URL type of the format's packages (`pkg:<type>/…`), for SBOMs.
    pub purl_type: &'static str,
    /// The OSV ecosystem whose advisories apply, if any.
    pub vulnerability_ecosystem: Option<&'static str>,
    /// How a user installs one version with the format's own client, for install snippets:
    /// `{url}` is the repository's URL (`http://host/OWNER/REPO`), `{host}` the same without
    /// its scheme, `{name}` and `{version}` the package's.
    pub install: &'static str,
    /// Where the format's native protocol serves a file, from the server's root:
    /// `{owner}`, `{repo}`, `{slug}` and the path-segment-encoded `{name}`, `{version}` and
    /// `{filename}`. `None`: `/{owner}/{repo}/{id}/files/{slug}/{filename}`, where formats
    /// whose clients take URLs from an index serve files.
    pub download: Option<&'static str>,
    /// Reads the licence and declared dependencies from the package `metadata` the format
    /// stored at sync, for SBOMs; `None`: the metadata names neither (or the format
    /// overrides [`Format::bom_facts`]).
    pub bom_facts: Option<fn(&serde_json::Value) -> crate::BomFacts>,
}

impl FormatInfo {
    /// The install command for `name` `version` from the repository at `repository_url`.
    pub fn install_hint(&self, repository_url: &str, name: &str, version: &str) -> String {
        let host = repository_url
            .split_once("://")
            .map_or(repository_url, |(_, rest)| rest);
        self.install
            .replace("{url}", repository_url)
            .replace("{host}", host)
            .replace("{name}", name)
            .replace("{version}", version)
    }

    /// The download path of `file`.
    pub fn download_path(&self, file: &FileLocation<'_>) -> String {
        match self.download {
            Some(template) => template
                .replace("{owner}", file.namespace)
                .replace("{repo}", file.repository)
                .replace("{slug}", file.slug_perm)
                .replace("{name}", &encode_segment(file.name))
                .replace("{version}", &encode_segment(file.version))
                .replace("{filename}", &encode_segment(file.filename)),
            None => file.default_path(self.id),
        }
    }
}

/// One package format.
pub trait Format: Send + Sync + 'static {
    /// The format's names and templates.
    fn info(&self) -> &'static FormatInfo;

    /// The format's id as used in URLs, the CLI and package JSON (`raw`, `python`, …).
    fn id(&self) -> &'static str {
        self.info().id
    }

    /// The identity of an upload from what the client declared, before its bytes are read.
    /// Formats whose identity lives inside the artifact may return `None`.
    fn declared_identity(&self, declared: &Declared) -> Result<Option<Identity>, FormatError>;

    /// The upload query parameters, beyond the common ones, that this format reads into
    /// [`Declared::attributes`] (none by default; others are ignored).
    fn upload_attributes(&self) -> &'static [&'static str] {
        &[]
    }

    /// Sync: checks the checksums the client declared against the stored bytes, then lets
    /// the format read the artifact ([`Format::parse`]). Formats implement `parse`, so no
    /// format can forget the checksums.
    fn process(
        &self,
        declared: &Declared,
        artifact: Artifact<'_>,
    ) -> Result<Processed, FormatError> {
        verify_declared_checksums(declared, &artifact)?;
        self.parse(declared, artifact)
    }

    /// Validates the artifact and extracts identity and metadata.
    fn parse(&self, declared: &Declared, artifact: Artifact<'_>) -> Result<Processed, FormatError>;

    /// The OSV ecosystem whose advisories apply, if any.
    fn vulnerability_ecosystem(&self) -> Option<&'static str> {
        self.info().vulnerability_ecosystem
    }

    /// The package-URL type of the format's packages (`pkg:<type>/…`), for SBOMs.
    fn purl_type(&self) -> &'static str {
        self.info().purl_type
    }

    /// A package name (the normalised one, or a declared dependency's) as a package URL
    /// writes it after `pkg:<type>/`: with the purl namespace where the type has one
    /// (Maven's `group/artifact`, Debian's `debian/name`). By default the name itself.
    fn purl_name(&self, name: &str) -> String {
        name.to_owned()
    }

    /// The licence and declared dependencies in the package `metadata` this format stored
    /// at sync, for SBOMs: by [`FormatInfo::bom_facts`], none without it.
    fn bom_facts(&self, metadata: &serde_json::Value) -> crate::BomFacts {
        self.info()
            .bom_facts
            .map(|facts| facts(metadata))
            .unwrap_or_default()
    }

    /// How a user installs `name` `version` from the repository at `repository_url`
    /// (`http://host/OWNER/REPO`) with the format's own client, for install snippets.
    fn install_hint(&self, repository_url: &str, name: &str, version: &str) -> String {
        self.info().install_hint(repository_url, name, version)
    }

    /// The path (from the server's root) where the format's native protocol serves a file.
    fn download_path(&self, file: &FileLocation<'_>) -> String {
        self.info().download_path(file)
    }

    /// Packs a directory into the artifact the format uploads (for `gantry push FORMAT REPO
    /// DIR`), written to `out`; returns what to declare with it. `None`: the format takes
    /// files only.
    fn pack_directory(
        &self,
        dir: &std::path::Path,
        declared: &Declared,
        out: &mut std::fs::File,
    ) -> Option<Result<Declared, FormatError>> {
        let _ = (dir, declared, out);
        None
    }
}

/// A [`FormatError::Invalid`] saying `msg`: what a client sent breaks the format's rules.
pub fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

/// Refuses an uploaded file name that could name a path or is longer than 255 bytes;
/// `expected` says what the format wants (`NAME-VERSION.crate`).
pub fn check_filename(filename: &str, expected: &str) -> Result<(), FormatError> {
    if filename.is_empty() || filename.contains(['/', '\\']) || filename.len() > 255 {
        return Err(FormatError::Invalid(format!(
            "'{}' is not a valid file name ({expected})",
            gantry_core::names::quote_prefix(filename, 255)
        )));
    }
    Ok(())
}

/// Checks client-supplied checksums against the computed ones.
pub fn verify_declared_checksums(
    declared: &Declared,
    artifact: &Artifact<'_>,
) -> Result<(), FormatError> {
    let pairs = [
        ("md5", &declared.md5, artifact.md5),
        ("sha1", &declared.sha1, artifact.sha1),
        ("sha256", &declared.sha256, artifact.sha256),
        ("sha512", &declared.sha512, artifact.sha512),
    ];
    for (algorithm, declared, computed) in pairs {
        if let Some(declared) = declared {
            if !declared.eq_ignore_ascii_case(computed) {
                return Err(FormatError::ChecksumMismatch {
                    algorithm,
                    declared: declared.clone(),
                    computed: computed.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The formats a server knows, by id.
#[derive(Clone)]
pub struct Registry {
    formats: BTreeMap<&'static str, Arc<dyn Format>>,
}

impl Registry {
    /// A registry without formats.
    pub fn empty() -> Self {
        Self {
            formats: BTreeMap::new(),
        }
    }

    pub fn register(&mut self, format: Arc<dyn Format>) {
        self.formats.insert(format.id(), format);
    }

    pub fn get(&self, id: &str) -> Option<Arc<dyn Format>> {
        self.formats.get(id).cloned()
    }

    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.formats.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::{FileLocation, FormatInfo};

    static INFO: FormatInfo = FormatInfo {
        id: "demo",
        purl_type: "generic",
        vulnerability_ecosystem: None,
        install: "demo get {host} {name}=={version} # {url}",
        download: Some("/{owner}/{repo}/demo/{name}/{version}/{filename}"),
        bom_facts: None,
    };

    fn file<'a>(name: &'a str, filename: &'a str) -> FileLocation<'a> {
        FileLocation {
            namespace: "acme",
            repository: "dev",
            name,
            version: "1.0 beta",
            slug_perm: "s1",
            filename,
        }
    }

    /// Templates encode what came from an upload, so a name cannot add path segments.
    #[test]
    fn templates_fill_and_encode() {
        assert_eq!(
            INFO.download_path(&file("a/b", "x?.tgz")),
            "/acme/dev/demo/a%2Fb/1.0%20beta/x%3F.tgz"
        );
        assert_eq!(
            INFO.install_hint("http://h:8/acme/dev", "pkg", "2"),
            "demo get h:8/acme/dev pkg==2 # http://h:8/acme/dev"
        );
        let default = FormatInfo {
            download: None,
            ..INFO
        };
        assert_eq!(
            default.download_path(&file("n", "f.whl")),
            "/acme/dev/demo/files/s1/f.whl"
        );
    }
}
