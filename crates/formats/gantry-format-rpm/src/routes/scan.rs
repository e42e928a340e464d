//! What the scan job matches of an RPM: the package itself, under each imported Red Hat-style
//! ecosystem (`Red Hat:enterprise_linux:9::appstream`) with advisories naming it — narrowed to
//! the major release its dist tag names (`.el9`), when it names one. With no such advisories
//! imported at all, RPMs are `not_supported`.

use gantry_db::PackageRow;
use gantry_protocol::plugin::Component;

use crate::app::App;
use crate::error::AppResult;
use crate::queries::RpmAdvisoryQueries;

pub(super) async fn unsupported(app: &App) -> AppResult<Option<String>> {
    Ok((!app.db.rpm_advisories_imported().await?)
        .then(|| "no advisories of an RPM distribution (OSV `Red Hat:…`) are imported".to_owned()))
}

/// The major release a dist tag names: `3.el9_2` → `9`.
fn el_release(release: &str) -> Option<&str> {
    let at = release.find("el")? + 2;
    let digits = release[at..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(&release[at..], |end| &release[at..at + end]);
    (!digits.is_empty()).then_some(digits)
}

/// Whether an ecosystem (`Red Hat:enterprise_linux:9::appstream`) is of major release `major`.
fn ecosystem_release_is(ecosystem: &str, major: &str) -> bool {
    ecosystem.split(':').skip(2).take(1).any(|v| {
        v == major
            || v.strip_prefix(major)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

pub(super) async fn components(app: &App, package: &PackageRow) -> AppResult<Vec<Component>> {
    let ecosystems = app.db.rpm_ecosystems_naming(&package.name).await?;
    let release = package
        .version
        .rsplit_once('-')
        .map(|(_, r)| r)
        .unwrap_or("");
    let major = el_release(release);
    Ok(ecosystems
        .into_iter()
        .filter(|e| major.is_none_or(|m| ecosystem_release_is(e, m)))
        .map(|ecosystem| Component {
            ecosystem,
            name: package.name.clone(),
            version: package.version.clone(),
            location: serde_json::json!({ "package": package.filename }),
        })
        .collect())
}

/// Live RPMs an advisory import changed matches for.
pub(super) async fn touched(
    app: &App,
    touched: &[(String, String)],
) -> AppResult<Vec<(i64, String)>> {
    let mut names: Vec<&str> = touched
        .iter()
        .filter(|(ecosystem, _)| ecosystem.starts_with("Red Hat:"))
        .map(|(_, name)| name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(app.db.rpm_packages_named(&names).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_tags_pick_their_release() {
        assert_eq!(el_release("3.el9_2"), Some("9"));
        assert_eq!(el_release("1"), None);
        assert!(ecosystem_release_is(
            "Red Hat:enterprise_linux:9::appstream",
            "9"
        ));
        assert!(ecosystem_release_is("Red Hat:rhel_eus:9.2::baseos", "9"));
        assert!(!ecosystem_release_is(
            "Red Hat:enterprise_linux:8::appstream",
            "9"
        ));
        assert!(!ecosystem_release_is(
            "Red Hat:enterprise_linux:10::appstream",
            "1"
        ));
    }
}
