use super::{MatchResult, Matcher};
use crate::{parse_advisory, Advisory, Ecosystem, Severity};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A record with one entry for `ecosystem`/`name` holding `ranges` (JSON) and
/// `versions` (JSON), plus extra top-level fields.
fn record(
    ecosystem: &str,
    name: &str,
    ranges: &str,
    versions: &str,
    extra: &str,
) -> Result<Advisory, crate::VulnError> {
    let json = format!(
        r#"{{"id":"TEST-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-0"],"summary":"sum",
               "references":[{{"type":"WEB","url":"https://example.invalid/x"}}],{extra}
               "affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"{name}"}},
               "ranges":{ranges},"versions":{versions}}}]}}"#
    );
    parse_advisory(json.as_bytes())
}

/// [`super::match_advisory`], checked against the prepared path (rescans in batches), which
/// must agree with it exactly: every test below runs both.
fn match_advisory(a: &Advisory, eco: Ecosystem, name: &str, version: &str) -> MatchResult {
    let result = super::match_advisory(a, eco, name, version);
    let matcher = Matcher::new(vec![a.clone()], eco, None, name);
    let prepared = matcher
        .match_version(version)
        .into_iter()
        .next()
        .map_or(MatchResult::NotAffected, |(_, r)| r);
    assert_eq!(prepared, result, "{} {name} {version}", a.id);
    result
}

fn outcome(a: &Advisory, eco: Ecosystem, name: &str, version: &str) -> &'static str {
    match match_advisory(a, eco, name, version) {
        MatchResult::Affected(_) => "affected",
        MatchResult::NotAffected => "not",
        MatchResult::Indeterminate(_) => "indeterminate",
    }
}

fn check(a: &Advisory, eco: Ecosystem, name: &str, cases: &[(&str, &str)]) {
    for (version, want) in cases {
        assert_eq!(
            outcome(a, eco, name, version),
            *want,
            "{} {name} {version}",
            eco.as_str()
        );
    }
}

#[test]
fn introduced_fixed() -> TestResult {
    let a = record(
        "npm",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"fixed":"1.2.3"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &a,
        Ecosystem::Npm,
        "pkg",
        &[
            ("0.9.9", "not"),
            ("1.0.0-rc.1", "not"),
            ("1.0.0", "affected"),
            ("v1.2.2", "affected"),
            ("1.2.3-beta.1", "affected"),
            ("1.2.3", "not"),
            ("2.0.0", "not"),
            ("not-a-version", "indeterminate"),
        ],
    );
    assert_eq!(outcome(&a, Ecosystem::Npm, "other", "1.0.0"), "not");
    assert_eq!(outcome(&a, Ecosystem::PyPI, "pkg", "1.0.0"), "not");
    let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Npm, "pkg", "1.1.0") else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.advisory_id, "TEST-1");
    assert_eq!(f.aliases, ["CVE-0"]);
    assert_eq!(f.summary.as_deref(), Some("sum"));
    assert_eq!(f.affected_ranges, [">=1.0.0, <1.2.3"]);
    assert_eq!(f.fixed_versions, ["1.2.3"]);
    assert_eq!(f.references, ["https://example.invalid/x"]);
    assert_eq!(f.severity, Severity::Unknown);
    Ok(())
}

#[test]
fn introduced_zero_is_below_everything() -> TestResult {
    let a = record(
        "PyPI",
        "Foo_Bar",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &a,
        Ecosystem::PyPI,
        "foo-bar",
        &[
            ("0.dev1", "affected"),
            ("0", "affected"),
            ("1.9.post1", "affected"),
            ("2.0rc1", "affected"),
            ("2.0", "not"),
            ("2.0.0", "not"),
            ("2.0+local", "not"),
        ],
    );
    check(&a, Ecosystem::PyPI, "FOO.bar", &[("1.0", "affected")]);
    let c = record(
        "crates.io",
        "smallvec",
        r#"[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"},{"fixed":"0.6.14"},{"introduced":"1.0.0"},{"fixed":"1.6.1"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &c,
        Ecosystem::CratesIo,
        "smallvec",
        &[
            ("0.0.0-alpha", "affected"),
            ("0.6.13", "affected"),
            ("0.6.14", "not"),
            ("0.9.0", "not"),
            ("1.0.0", "affected"),
            ("1.6.0", "affected"),
            ("1.6.1", "not"),
        ],
    );
    let MatchResult::Affected(f) = match_advisory(&c, Ecosystem::CratesIo, "smallvec", "1.6.0")
    else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.affected_ranges, ["<0.6.14 || >=1.0.0, <1.6.1"]);
    assert_eq!(f.fixed_versions, ["0.6.14", "1.6.1"]);
    // Case matters for crates.io names.
    assert_eq!(outcome(&c, Ecosystem::CratesIo, "SmallVec", "1.6.0"), "not");
    Ok(())
}

#[test]
fn last_affected() -> TestResult {
    let a = record(
        "Maven",
        "com.h2database:h2",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.1.214"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &a,
        Ecosystem::Maven,
        "com.h2database:h2",
        &[
            ("1.4.200", "affected"),
            ("2.1.214", "affected"),
            ("2.1.214.0", "affected"),
            ("2.1.215", "not"),
            ("2.2.220", "not"),
        ],
    );
    let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Maven, "com.h2database:h2", "2.0")
    else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.affected_ranges, ["<=2.1.214"]);
    assert!(f.fixed_versions.is_empty());
    Ok(())
}

#[test]
fn limit() -> TestResult {
    let a = record(
        "Go",
        "example.com/m",
        r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"2.0.0"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &a,
        Ecosystem::Go,
        "example.com/m",
        &[
            ("v0.9.0", "not"),
            ("v1.0.0", "affected"),
            ("v1.9.9", "affected"),
            ("v2.0.0-pre", "affected"),
            ("v2.0.0", "not"),
            ("v3.0.0", "not"),
        ],
    );
    let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Go, "example.com/m", "v1.5.0")
    else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.affected_ranges, [">=1.0.0, <2.0.0"]);
    // A fixed event still closes the range below the limit; "*" is no limit.
    let b = record(
        "Go",
        "example.com/m",
        r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.5.0"},{"limit":"2.0.0"}]},
           {"type":"SEMVER","events":[{"introduced":"3.0.0"},{"limit":"*"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &b,
        Ecosystem::Go,
        "example.com/m",
        &[
            ("1.4.0", "affected"),
            ("1.5.0", "not"),
            ("2.5.0", "not"),
            ("3.0.0", "affected"),
            ("v9.0.0+incompatible", "affected"),
        ],
    );
    Ok(())
}

#[test]
fn unsorted_and_repeated_events() -> TestResult {
    let a = record(
        "RubyGems",
        "rack",
        r#"[{"type":"ECOSYSTEM","events":[{"fixed":"2.2.6.3"},{"introduced":"2.0.0"},{"fixed":"2.1.4.3"},{"introduced":"2.2.0"},{"introduced":"0"},{"fixed":"1.6.14"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &a,
        Ecosystem::RubyGems,
        "rack",
        &[
            ("1.6.13", "affected"),
            ("1.6.14", "not"),
            ("2.0.0.beta1", "not"),
            ("2.0.0", "affected"),
            ("2.1.4.3", "not"),
            ("2.2.0", "affected"),
            ("2.2.6.2", "affected"),
            ("2.2.6.3", "not"),
            ("3.0.0", "not"),
        ],
    );
    Ok(())
}

#[test]
fn git_ranges_are_skipped() -> TestResult {
    let git_only = record(
        "PyPI",
        "pkg",
        r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"0123456789abcdef0123456789abcdef01234567"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &git_only,
        Ecosystem::PyPI,
        "pkg",
        &[("1.0", "not"), ("garbage!", "not")],
    );
    // The versions list still counts with only a GIT range.
    let git_and_versions = record(
        "PyPI",
        "pkg",
        r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"0123456789abcdef0123456789abcdef01234567"}]}]"#,
        r#"["1.0", "1.1"]"#,
        "",
    )?;
    check(
        &git_and_versions,
        Ecosystem::PyPI,
        "pkg",
        &[
            ("1.0", "affected"),
            ("1.0.0", "affected"),
            ("1.1", "affected"),
            ("1.2", "not"),
        ],
    );
    let MatchResult::Affected(f) = match_advisory(&git_and_versions, Ecosystem::PyPI, "pkg", "1.1")
    else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.affected_ranges, ["=1.1"]);
    assert!(
        f.fixed_versions.is_empty(),
        "commit hashes are not fixed versions"
    );
    // A GIT range first does not hide the ECOSYSTEM range after it.
    let git_first = record(
        "PyPI",
        "pkg",
        r#"[{"type":"GIT","repo":"https://example.invalid/r","events":[{"introduced":"0"},{"fixed":"abc"}]},
           {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]}]"#,
        r#"["1.0"]"#,
        "",
    )?;
    check(
        &git_first,
        Ecosystem::PyPI,
        "pkg",
        &[("1.0", "affected"), ("1.4", "affected"), ("1.5", "not")],
    );
    let MatchResult::Affected(f) = match_advisory(&git_first, Ecosystem::PyPI, "pkg", "1.4") else {
        return Err("expected a finding".into());
    };
    assert_eq!(
        (f.affected_ranges.as_slice(), f.fixed_versions.as_slice()),
        (
            ["<1.5".to_owned()].as_slice(),
            ["1.5".to_owned()].as_slice()
        )
    );
    Ok(())
}

#[test]
fn withdrawn_never_matches() -> TestResult {
    let a = record(
        "NuGet",
        "Some.Package",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
        r#"["1.0.0"]"#,
        r#""withdrawn":"2024-02-01T00:00:00Z","#,
    )?;
    assert!(a.is_withdrawn());
    check(
        &a,
        Ecosystem::NuGet,
        "some.package",
        &[("1.0.0", "not"), ("2.0.0", "not"), ("bad", "not")],
    );
    Ok(())
}

#[test]
fn versions_list_and_name_rules() -> TestResult {
    let a = record(
        "NuGet",
        "Some.Package",
        "[]",
        r#"["1.0", "7.0.0-Preview"]"#,
        "",
    )?;
    check(
        &a,
        Ecosystem::NuGet,
        "SOME.PACKAGE",
        &[
            ("1.0", "affected"),
            ("1.0.0.0", "affected"),
            ("7.0.0-preview", "affected"),
            ("1.0.1", "not"),
            ("what?", "not"),
        ],
    );
    let b = record(
        "Packagist",
        "Vendor/Pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"2.0.0"},{"fixed":"2.4.1"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &b,
        Ecosystem::Packagist,
        "vendor/pkg",
        &[
            ("v2.4.0", "affected"),
            ("2.4.1-RC1", "affected"),
            ("2.4.1", "not"),
            ("2.0.0-beta", "not"),
        ],
    );
    // An ecosystem suffix on the entry is ignored.
    let c = record(
        "Maven:https://repo.example",
        "g:a",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.2.20.RELEASE"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &c,
        Ecosystem::Maven,
        "g:a",
        &[
            ("5.2.19.RELEASE", "affected"),
            ("5.2.20", "not"),
            ("5.2.20-SNAPSHOT", "affected"),
        ],
    );
    Ok(())
}

#[test]
fn indeterminate_rules() -> TestResult {
    // A bound that does not parse makes the range indeterminate ...
    let a = record(
        "PyPI",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]}]"#,
        "[]",
        "",
    )?;
    match match_advisory(&a, Ecosystem::PyPI, "pkg", "1.0") {
        MatchResult::Indeterminate(reason) => assert!(reason.contains("a3"), "{reason}"),
        other => return Err(format!("expected indeterminate, got {other:?}").into()),
    }
    // ... unless other evidence says affected: the versions list,
    let b = record(
        "PyPI",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]}]"#,
        r#"["1.0"]"#,
        "",
    )?;
    check(
        &b,
        Ecosystem::PyPI,
        "pkg",
        &[
            ("1.0", "affected"),
            ("1.0.0", "affected"),
            ("2.0", "indeterminate"),
        ],
    );
    // ... or another range.
    let c = record(
        "PyPI",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"a3"}]},
           {"type":"ECOSYSTEM","events":[{"introduced":"3.0"},{"fixed":"3.2"}]}]"#,
        "[]",
        "",
    )?;
    check(
        &c,
        Ecosystem::PyPI,
        "pkg",
        &[("3.1", "affected"), ("3.2", "indeterminate")],
    );
    // An unparseable package version: indeterminate when a range must be evaluated,
    // but a listed string still matches exactly.
    let d = record(
        "npm",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]"#,
        r#"["weird-1"]"#,
        "",
    )?;
    check(
        &d,
        Ecosystem::Npm,
        "pkg",
        &[
            ("weird-1", "affected"),
            ("weird-2", "indeterminate"),
            ("1.0.0", "affected"),
            ("2.0.0", "not"),
        ],
    );
    match match_advisory(&d, Ecosystem::Npm, "pkg", "weird-2") {
        MatchResult::Indeterminate(reason) => assert!(reason.contains("weird-2"), "{reason}"),
        other => return Err(format!("expected indeterminate, got {other:?}").into()),
    }
    Ok(())
}

#[test]
fn severity_is_carried() -> TestResult {
    let a = record(
        "npm",
        "pkg",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
        "[]",
        r#""database_specific":{"severity":"MODERATE"},"#,
    )?;
    let MatchResult::Affected(f) = match_advisory(&a, Ecosystem::Npm, "pkg", "0.0.1") else {
        return Err("expected a finding".into());
    };
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.affected_ranges, [">=0"]);
    Ok(())
}

#[test]
fn distribution_advisories_apply_to_their_release_only() -> TestResult {
    let a = record(
        "Debian:12",
        "openssl",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]"#,
        "[]",
        "",
    )?;
    let in_release = |release, version| match super::match_advisory_in(
        &a,
        Ecosystem::Debian,
        Some(release),
        "openssl",
        version,
    ) {
        MatchResult::Affected(_) => "affected",
        MatchResult::NotAffected => "not",
        MatchResult::Indeterminate(_) => "indeterminate",
    };
    assert_eq!(in_release("12", "3.0.11-1~deb12u2"), "affected");
    assert_eq!(in_release("12", "3.0.13-1~deb12u1"), "not");
    assert_eq!(in_release("12", "3.0.13-1"), "not");
    assert_eq!(in_release("11", "3.0.11-1~deb12u2"), "not");
    assert_eq!(in_release("12", "not a version"), "indeterminate");
    let alpine = record(
        "Alpine:v3.18",
        "openssl",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.4-r6"}]}]"#,
        "[]",
        "",
    )?;
    let check_alpine = |release, version| {
        matches!(
            super::match_advisory_in(
                &alpine,
                Ecosystem::Alpine,
                Some(release),
                "openssl",
                version
            ),
            MatchResult::Affected(_)
        )
    };
    assert!(check_alpine("v3.18", "3.1.4-r5"));
    assert!(check_alpine("v3.18", "3.1.4_rc1-r9"));
    assert!(!check_alpine("v3.18", "3.1.4-r6"));
    assert!(!check_alpine("v3.17", "3.1.4-r5"));
    Ok(())
}
