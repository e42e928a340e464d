//! What the scan job matches of a `.deb`: its source package in each Debian release its
//! distributions name (`bookworm` → `Debian:12`). A package listed in no Debian release, or
//! any package while no `Debian:*` advisories are imported, is `not_supported`: there is
//! nothing it could be matched against, which is not the same as "no vulnerabilities".

use gantry_db::PackageRow;
use gantry_protocol::app::App;
use gantry_protocol::error::AppResult;
use gantry_protocol::plugin::Component;

use crate::queries::DebAdvisoryQueries;

fn metadata(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_default()
}

/// The source package (name, version) of a stored `.deb`'s metadata.
fn source(metadata: &serde_json::Value) -> (String, String) {
    let control = crate::pure::Control {
        fields: metadata["control"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
            .collect(),
    };
    crate::pure::scan::source(&control)
}

/// The Debian releases (`12`) the package's distributions name.
fn releases(metadata: &serde_json::Value) -> Vec<&'static str> {
    let mut releases: Vec<&str> = metadata["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| crate::pure::scan::debian_release(l["distribution"].as_str()?))
        .collect();
    releases.sort_unstable();
    releases.dedup();
    releases
}

pub(super) async fn unsupported(app: &App, package: &PackageRow) -> AppResult<Option<String>> {
    if releases(&metadata(&package.metadata)).is_empty() {
        return Ok(Some(
            "listed in no Debian release's distribution (bookworm, trixie, 12 …)".to_owned(),
        ));
    }
    Ok((!app.db.debian_advisories_imported().await?)
        .then(|| "no Debian advisories (OSV `Debian:…`) are imported".to_owned()))
}

/// The package's source in each Debian release it is listed for.
pub(super) fn components(package: &PackageRow) -> Vec<Component> {
    let metadata = metadata(&package.metadata);
    let (name, version) = source(&metadata);
    releases(&metadata)
        .into_iter()
        .map(|release| Component {
            ecosystem: format!("Debian:{release}"),
            name: name.clone(),
            version: version.clone(),
            location: serde_json::json!({"package": package.name, "version": package.version}),
        })
        .collect()
}

/// Live `.deb`s listed in a Debian release whose source package an advisory import touched
/// (in that release's ecosystem).
pub(super) async fn touched(
    app: &App,
    touched: &[(String, String)],
) -> AppResult<Vec<(i64, String)>> {
    let touched: std::collections::HashSet<(&str, &str)> = touched
        .iter()
        .filter_map(|(ecosystem, name)| Some((ecosystem.strip_prefix("Debian:")?, name.as_str())))
        .collect();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let debs = app.db.live_debs().await?;
    Ok(debs
        .into_iter()
        .filter(|deb| {
            let metadata = metadata(&deb.metadata);
            let (name, _) = source(&metadata);
            releases(&metadata)
                .into_iter()
                .any(|release| touched.contains(&(release, name.as_str())))
        })
        .map(|deb| (deb.id, deb.slug_perm))
        .collect())
}
