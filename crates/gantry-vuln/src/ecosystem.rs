//! The package ecosystems whose versions this crate can order.

use std::fmt;

/// An OSV ecosystem with a version ordering implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    PyPI,
    Npm,
    CratesIo,
    Go,
    Maven,
    RubyGems,
    NuGet,
    Packagist,
    /// Debian releases (`Debian:12`): dpkg versions of source packages.
    Debian,
    /// Alpine branches (`Alpine:v3.18`): apk versions of origin packages.
    Alpine,
    /// Red Hat products (`Red Hat:enterprise_linux:9::appstream`): rpm versions.
    RedHat,
}

impl Ecosystem {
    /// Every supported language ecosystem (the ones with a bundle of their own in the OSV
    /// data; the distributions are in [`Ecosystem::DISTRIBUTIONS`]).
    pub const ALL: [Ecosystem; 8] = [
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::CratesIo,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::NuGet,
        Ecosystem::Packagist,
    ];

    /// The Linux distributions, whose OSV ecosystem names carry a release
    /// (`Debian:12`, `Alpine:v3.18`) that is part of the identity of an advisory's package.
    pub const DISTRIBUTIONS: [Ecosystem; 3] =
        [Ecosystem::Debian, Ecosystem::Alpine, Ecosystem::RedHat];

    /// Reads an OSV ecosystem string (`"PyPI"`, `"npm"`, `"crates.io"`, `"Go"`,
    /// `"Maven"`, `"RubyGems"`, `"NuGet"`, `"Packagist"`, `"Debian"`, `"Alpine"`; case as OSV
    /// writes it). A `:suffix` (as in `"Maven:https://repo.example"`, or a distribution's
    /// release) is ignored here; see [`Ecosystem::key`]. `None` for any other ecosystem.
    pub fn parse(osv_name: &str) -> Option<Self> {
        let base = osv_name.split(':').next().unwrap_or(osv_name).trim();
        Self::ALL
            .into_iter()
            .chain(Self::DISTRIBUTIONS)
            .find(|e| e.as_str() == base)
    }

    /// Whether the ecosystem's `:suffix` names a release that advisories are specific to.
    pub fn has_release(self) -> bool {
        Self::DISTRIBUTIONS.contains(&self)
    }

    /// The name under which advisories for `osv_name` are stored and looked up: the
    /// ecosystem with its release for a distribution (`"Debian:12"`: an advisory for
    /// Debian 11 says nothing about Debian 12), the bare ecosystem otherwise (`"Maven"` for
    /// `"Maven:https://repo.example"`). `None` for an unknown ecosystem, or a distribution
    /// without a release.
    pub fn key(osv_name: &str) -> Option<String> {
        let eco = Self::parse(osv_name)?;
        if !eco.has_release() {
            return Some(eco.as_str().to_owned());
        }
        let release = osv_name.split_once(':')?.1.trim();
        (!release.is_empty()).then(|| format!("{}:{release}", eco.as_str()))
    }

    /// The OSV name of the ecosystem.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::RedHat => "Red Hat",
        }
    }

    /// The package-URL type of the ecosystem's packages, and for distributions the purl
    /// namespace (`pkg:deb/debian/…`, `pkg:apk/alpine/…`).
    pub fn purl(self) -> (&'static str, Option<&'static str>) {
        match self {
            Ecosystem::PyPI => ("pypi", None),
            Ecosystem::Npm => ("npm", None),
            Ecosystem::CratesIo => ("cargo", None),
            Ecosystem::Go => ("golang", None),
            Ecosystem::Maven => ("maven", None),
            Ecosystem::RubyGems => ("gem", None),
            Ecosystem::NuGet => ("nuget", None),
            Ecosystem::Packagist => ("composer", None),
            Ecosystem::Debian => ("deb", Some("debian")),
            Ecosystem::Alpine => ("apk", Some("alpine")),
            Ecosystem::RedHat => ("rpm", Some("redhat")),
        }
    }

    /// The id prefix of the ecosystem's own advisory database, whose id a finding is
    /// reported under when aliases of one another are merged (`PYSEC-`, `RUSTSEC-`, `GO-`).
    pub fn database_prefix(self) -> Option<&'static str> {
        match self {
            Ecosystem::PyPI => Some("PYSEC-"),
            Ecosystem::CratesIo => Some("RUSTSEC-"),
            Ecosystem::Go => Some("GO-"),
            _ => None,
        }
    }

    /// The form of a package name under which two names denote the same package.
    ///
    /// PyPI: PEP 503 (lower case, runs of `-`, `_`, `.` become one `-`). NuGet and
    /// Packagist: lower case (both are case-insensitive). Every other ecosystem compares
    /// names exactly as written (npm scoped names keep `@scope/`, Maven keeps
    /// `group:artifact`, crates.io and Go are case-sensitive in OSV); surrounding blanks
    /// are removed everywhere.
    pub fn normalize_name(self, name: &str) -> String {
        let name = name.trim();
        match self {
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut in_separator = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        if !in_separator {
                            out.push('-');
                        }
                        in_separator = true;
                    } else {
                        out.extend(c.to_lowercase());
                        in_separator = false;
                    }
                }
                out
            }
            Ecosystem::NuGet | Ecosystem::Packagist => name.to_lowercase(),
            Ecosystem::Npm
            | Ecosystem::CratesIo
            | Ecosystem::Go
            | Ecosystem::Maven
            | Ecosystem::RubyGems
            | Ecosystem::Debian
            | Ecosystem::Alpine
            | Ecosystem::RedHat => name.to_owned(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Ecosystem;

    #[test]
    fn parse_names() {
        for e in Ecosystem::ALL {
            assert_eq!(Ecosystem::parse(e.as_str()), Some(e));
        }
        assert_eq!(Ecosystem::parse("crates.io"), Some(Ecosystem::CratesIo));
        assert_eq!(Ecosystem::parse("npm"), Some(Ecosystem::Npm));
        assert_eq!(
            Ecosystem::parse("Maven:https://repo.example"),
            Some(Ecosystem::Maven)
        );
        assert_eq!(Ecosystem::parse("Debian:11"), Some(Ecosystem::Debian));
        assert_eq!(Ecosystem::parse("Alpine:v3.18"), Some(Ecosystem::Alpine));
        assert_eq!(Ecosystem::parse("Ubuntu:22.04:LTS"), None);
        assert_eq!(Ecosystem::parse("pypi"), None);
        assert_eq!(Ecosystem::parse(""), None);
    }

    #[test]
    fn keys() {
        let cases = [
            ("Debian:12", Some("Debian:12")),
            ("Alpine:v3.18", Some("Alpine:v3.18")),
            ("Debian", None),
            ("Debian:", None),
            ("Maven:https://repo.example", Some("Maven")),
            ("PyPI", Some("PyPI")),
            ("Ubuntu:22.04", None),
            (
                "Red Hat:enterprise_linux:9::appstream",
                Some("Red Hat:enterprise_linux:9::appstream"),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(Ecosystem::key(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn normalize() {
        let cases = [
            (Ecosystem::PyPI, "Jinja2", "jinja2"),
            (Ecosystem::PyPI, "typing_extensions", "typing-extensions"),
            (Ecosystem::PyPI, "zope.interface", "zope-interface"),
            (Ecosystem::PyPI, "Foo-_.Bar", "foo-bar"),
            (Ecosystem::PyPI, "PyYAML", "pyyaml"),
            (Ecosystem::NuGet, "Newtonsoft.Json", "newtonsoft.json"),
            (
                Ecosystem::Packagist,
                "Symfony/Http-Kernel",
                "symfony/http-kernel",
            ),
            (
                Ecosystem::Npm,
                "@babel/helper-plugin-utils",
                "@babel/helper-plugin-utils",
            ),
            (Ecosystem::CratesIo, "serde_json", "serde_json"),
            (Ecosystem::Maven, "org.Foo:Bar", "org.Foo:Bar"),
            (Ecosystem::Go, "github.com/Foo/bar", "github.com/Foo/bar"),
        ];
        for (e, name, want) in cases {
            assert_eq!(e.normalize_name(name), want, "{e} {name}");
        }
    }
}
