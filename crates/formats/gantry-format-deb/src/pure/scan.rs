//! What a `.deb` is matched as: OSV's Debian advisories name *source* packages per release
//! (`Debian:12`), so a binary package is matched by its `Source` (name and version, when the
//! control file gives them) in each Debian release its distributions name.

use super::control::Control;

/// The Debian release of a distribution name (codename or number), if it is one.
pub fn debian_release(distribution: &str) -> Option<&'static str> {
    const RELEASES: &[(&str, &str)] = &[
        ("buster", "10"),
        ("bullseye", "11"),
        ("bookworm", "12"),
        ("trixie", "13"),
        ("forky", "14"),
    ];
    RELEASES
        .iter()
        .find(|(code, number)| *code == distribution || *number == distribution)
        .map(|(_, number)| *number)
}

/// The source package's name and version: `Source: name (version)` or `Source: name`
/// (then the binary's version), or the binary's own.
pub fn source(control: &Control) -> (String, String) {
    let version = control.version().to_owned();
    match control.get("Source").map(str::trim) {
        Some(source) if !source.is_empty() => match source.split_once('(') {
            Some((name, rest)) => (
                name.trim().to_owned(),
                rest.trim_end_matches(')').trim().to_owned(),
            ),
            None => (source.to_owned(), version),
        },
        _ => (control.package().to_owned(), version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_sources() {
        assert_eq!(debian_release("bookworm"), Some("12"));
        assert_eq!(debian_release("12"), Some("12"));
        assert_eq!(debian_release("stable"), None);
        let control = |extra: &str| Control {
            fields: vec![
                ("Package".into(), "libssl3".into()),
                ("Version".into(), "3.0.11-1".into()),
                ("Source".into(), extra.into()),
            ],
        };
        assert_eq!(
            source(&control("openssl")),
            ("openssl".into(), "3.0.11-1".into())
        );
        assert_eq!(
            source(&control("openssl (3.0.11-2)")),
            ("openssl".into(), "3.0.11-2".into())
        );
        assert_eq!(source(&control("")), ("libssl3".into(), "3.0.11-1".into()));
    }
}
