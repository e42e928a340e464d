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
}

impl Ecosystem {
    /// Every supported ecosystem.
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

    /// Reads an OSV ecosystem string (`"PyPI"`, `"npm"`, `"crates.io"`, `"Go"`,
    /// `"Maven"`, `"RubyGems"`, `"NuGet"`, `"Packagist"`; case as OSV writes it). A
    /// `:suffix` (as in `"Maven:https://repo.example"`) is ignored. `None` for any other
    /// ecosystem.
    pub fn parse(osv_name: &str) -> Option<Self> {
        let base = osv_name.split(':').next().unwrap_or(osv_name).trim();
        Self::ALL.into_iter().find(|e| e.as_str() == base)
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
            | Ecosystem::RubyGems => name.to_owned(),
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
        assert_eq!(Ecosystem::parse("Debian:11"), None);
        assert_eq!(Ecosystem::parse("Debian"), None);
        assert_eq!(Ecosystem::parse("pypi"), None);
        assert_eq!(Ecosystem::parse(""), None);
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
