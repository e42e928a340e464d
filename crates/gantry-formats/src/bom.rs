//! What a format tells an SBOM about one of its packages beyond its identity and files: the
//! licence and the dependencies its metadata declares. Formats read these from the metadata
//! they stored at sync, so an SBOM needs no archive access.

/// A package's declared licence and dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BomFacts {
    /// The licence as the metadata states it: an SPDX expression, a legacy short name, or
    /// free text. The server normalises it to SPDX where it can.
    pub license: Option<String>,
    pub dependencies: Vec<DeclaredDependency>,
}

/// One dependency as the package declares it: a name and a requirement, not a resolved
/// version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredDependency {
    pub name: String,
    /// The version requirement as written (`>=0.23`, `^1.2`); empty when there is none.
    pub requirement: String,
    /// Needed only with an extra, a feature or on request (optional and peer dependencies).
    pub optional: bool,
}

impl DeclaredDependency {
    pub fn new(name: &str, requirement: &str, optional: bool) -> Self {
        Self {
            name: name.to_owned(),
            requirement: requirement.trim().to_owned(),
            optional,
        }
    }
}

/// Dependencies listed in an SBOM at most per package (metadata is bounded at sync already;
/// this keeps one document's size predictable).
pub const MAX_BOM_DEPENDENCIES: usize = 2_000;
