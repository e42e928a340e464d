//! Software bills of materials: CycloneDX 1.5 JSON for one package or a whole repository.
//!
//! A package is a component with its purl (the format's purl type), its files' hashes and its
//! licence (normalised to an SPDX expression where the declared text allows). Its declared
//! dependencies are components of their own (a name and a requirement, not a resolved
//! version) linked from the dependency graph; for formats whose contents are scanned (images)
//! the packages found inside are components too. The stored findings become the document's
//! vulnerabilities, with any exception as the CycloneDX analysis. Nothing here names a
//! format: the format's `purl_type` and `bom_facts` say what differs.

use std::collections::BTreeMap;

use gantry_db::PackageRow;
use gantry_formats::BomFacts;
use serde_json::{json, Value};

use crate::app::App;
use crate::error::AppResult;
use crate::vex::purl;

/// The CycloneDX version documents are written in.
pub(crate) const SPEC_VERSION: &str = "1.5";
/// Packages a repository export lists at most; past it the document says it was cut.
pub(crate) const MAX_REPOSITORY_PACKAGES: usize = 10_000;

/// One package's share of a document: its component, the components it brings (declared
/// dependencies, contents), its dependency-graph entry and its vulnerabilities.
struct PackageBom {
    component: Value,
    extra: Vec<Value>,
    depends_on: Vec<String>,
    vulnerabilities: Vec<Value>,
}

/// The SBOM of one package.
pub(crate) async fn package_document(app: &App, package: &PackageRow) -> AppResult<Value> {
    let part = package_bom(app, package).await?;
    let mut doc = document(vec![gantry_property(
        "repository",
        &format!("{}/{}", package.namespace, package.repository_name),
    )]);
    doc["metadata"]["component"] = part.component.clone();
    doc["components"] = Value::Array(part.extra);
    doc["dependencies"] = json!([{ "ref": package.slug_perm, "dependsOn": part.depends_on }]);
    doc["vulnerabilities"] = Value::Array(part.vulnerabilities);
    Ok(doc)
}

/// The SBOM of the packages of a repository (every state but deleted, or those matching a
/// query), newest first, at most [`MAX_REPOSITORY_PACKAGES`].
pub(crate) async fn repository_document(
    app: &App,
    repo: &gantry_db::RepoRow,
    query: &gantry_core::PackageQuery,
) -> AppResult<Value> {
    const PAGE: i64 = 500;
    let mut packages = Vec::new();
    let mut truncated = false;
    for page in 1.. {
        let listed = app.db.list_packages(repo, query, page, PAGE).await?;
        let last = listed.packages.len() < usize::try_from(PAGE).unwrap_or(usize::MAX);
        packages.extend(listed.packages);
        if packages.len() >= MAX_REPOSITORY_PACKAGES {
            truncated = packages.len() > MAX_REPOSITORY_PACKAGES || !last;
            packages.truncate(MAX_REPOSITORY_PACKAGES);
            break;
        }
        if last {
            break;
        }
    }
    let mut properties = vec![gantry_property("repository", &repo.slug())];
    if truncated {
        properties.push(gantry_property(
            "truncated_at",
            &MAX_REPOSITORY_PACKAGES.to_string(),
        ));
    }
    let mut doc = document(properties);
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut vulnerabilities: BTreeMap<String, Value> = BTreeMap::new();
    for package in &packages {
        let part = package_bom(app, package).await?;
        components.push(part.component);
        components.extend(part.extra);
        dependencies.push(json!({ "ref": package.slug_perm, "dependsOn": part.depends_on }));
        // One entry per advisory, affecting every package it was found in.
        for v in part.vulnerabilities {
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            match vulnerabilities.get_mut(&id) {
                Some(known) => {
                    if let (Some(list), Some(more)) =
                        (known["affects"].as_array_mut(), v["affects"].as_array())
                    {
                        list.extend(more.iter().cloned());
                    }
                }
                None => {
                    vulnerabilities.insert(id, v);
                }
            }
        }
    }
    doc["components"] = Value::Array(components);
    doc["dependencies"] = Value::Array(dependencies);
    doc["vulnerabilities"] = Value::Array(vulnerabilities.into_values().collect());
    Ok(doc)
}

/// The document's frame: format, version, serial number, creation time and tool.
fn document(properties: Vec<Value>) -> Value {
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "version": 1,
        "metadata": {
            "timestamp": gantry_core::time::rfc3339(gantry_core::time::now_millis()),
            "tools": { "components": [{
                "type": "application",
                "name": "gantry",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "properties": properties,
        },
    })
}

fn gantry_property(name: &str, value: &str) -> Value {
    json!({ "name": format!("gantry:{name}"), "value": value })
}

async fn package_bom(app: &App, package: &PackageRow) -> AppResult<PackageBom> {
    let format = app.formats.get(package.format.as_str());
    let purl_type = format.as_ref().map_or("generic", |f| f.purl_type());
    let purl_name = |name: &str| {
        format
            .as_ref()
            .map_or_else(|| name.to_owned(), |f| f.purl_name(name))
    };
    let metadata: Value = serde_json::from_str(&package.metadata).unwrap_or(Value::Null);
    let facts = format
        .as_ref()
        .map_or_else(BomFacts::default, |f| f.bom_facts(&metadata));
    let by_contents = crate::plugin::plugins()
        .get(package.format.as_str())
        .and_then(|p| p.content_scan());
    let slug = &package.slug_perm;
    let mut component = json!({
        "type": if by_contents.is_some() { "container" } else { "library" },
        "bom-ref": slug,
        "name": package.name,
        "version": package.version,
        "purl": purl(purl_type, &purl_name(&package.normalized_name), &package.version),
        "hashes": hashes(package),
        "properties": [
            gantry_property("slug_perm", slug),
            gantry_property("repository", &format!("{}/{}", package.namespace, package.repository_name)),
            gantry_property("format", package.format.as_str()),
            gantry_property("state", package.state().as_str()),
        ],
    });
    if let Some(licenses) = facts.license.as_deref().and_then(licenses) {
        component["licenses"] = licenses;
    }
    let mut extra = Vec::new();
    let mut depends_on = Vec::new();
    let ecosystem = format
        .as_ref()
        .and_then(|f| f.vulnerability_ecosystem())
        .and_then(gantry_vuln::Ecosystem::parse);
    for dep in &facts.dependencies {
        let name = ecosystem.map_or_else(|| dep.name.clone(), |e| e.normalize_name(&dep.name));
        let bom_ref = format!("{slug}:dependency:{name}");
        if depends_on.contains(&bom_ref) {
            continue;
        }
        let mut properties = vec![gantry_property("requirement", &dep.requirement)];
        if dep.optional {
            properties.push(gantry_property("optional", "true"));
        }
        extra.push(json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": dep.name,
            "purl": unversioned_purl(purl_type, &purl_name(&name)),
            "scope": if dep.optional { "optional" } else { "required" },
            "properties": properties,
        }));
        depends_on.push(bom_ref);
    }
    let mut contents: BTreeMap<(String, String, String), String> = BTreeMap::new();
    if let Some(hooks) = by_contents {
        for c in (hooks.components)(app, package).await? {
            let key = (c.ecosystem.clone(), c.name.clone(), c.version.clone());
            if contents.contains_key(&key) {
                continue;
            }
            let bom_ref = format!("{slug}:contains:{}:{}@{}", c.ecosystem, c.name, c.version);
            let mut found = json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": c.name,
                "version": c.version,
                "properties": [gantry_property("ecosystem", &c.ecosystem)],
            });
            if let Some(e) = gantry_vuln::Ecosystem::parse(&c.ecosystem) {
                let (kind, namespace) = e.purl();
                let name = match namespace {
                    Some(ns) => format!("{ns}/{}", c.name),
                    None => contents_purl_name(app, &c.ecosystem, &c.name),
                };
                found["purl"] = json!(purl(kind, &name, &c.version));
            }
            extra.push(found);
            depends_on.push(bom_ref.clone());
            contents.insert(key, bom_ref);
        }
    }
    let vulnerabilities = vulnerabilities(app, package, &contents).await?;
    Ok(PackageBom {
        component,
        extra,
        depends_on,
        vulnerabilities,
    })
}

/// A contained package's name as its purl writes it: as the format whose advisories come
/// from the same ecosystem writes its own names (Maven's `group:artifact` → `group/artifact`).
fn contents_purl_name(app: &App, ecosystem: &str, name: &str) -> String {
    app.formats
        .ids()
        .filter_map(|id| app.formats.get(id))
        .find(|f| f.vulnerability_ecosystem() == Some(ecosystem))
        .map_or_else(|| name.to_owned(), |f| f.purl_name(name))
}

/// The primary file's hashes (the package's other files, such as derived metadata, are not
/// what a consumer installs).
fn hashes(package: &PackageRow) -> Value {
    let file = package
        .files
        .iter()
        .find(|f| f.sha256 == package.primary_sha256)
        .or_else(|| package.files.first());
    let Some(f) = file else {
        return json!([{ "alg": "SHA-256", "content": package.primary_sha256 }]);
    };
    let mut out = Vec::new();
    for (alg, content) in [
        ("MD5", &f.md5),
        ("SHA-1", &f.sha1),
        ("SHA-256", &f.sha256),
        ("SHA-512", &f.sha512),
    ] {
        if !content.is_empty() {
            out.push(json!({ "alg": alg, "content": content }));
        }
    }
    Value::Array(out)
}

/// The declared licence as CycloneDX `licenses`: an SPDX expression when the text is one
/// (after normalising legacy spellings such as `MIT/Apache-2.0` or `GPL-2.0+`), else the
/// text as a named licence.
pub(crate) fn licenses(declared: &str) -> Option<Value> {
    let declared = declared.trim();
    if declared.is_empty() {
        return None;
    }
    // Legacy spellings are fixed, but an imprecise name such as `BSD` is not guessed into
    // one particular licence: it stays a named licence.
    let mode = spdx::ParseMode {
        allow_imprecise_license_names: false,
        ..spdx::ParseMode::LAX
    };
    if spdx::Expression::parse_mode(declared, mode).is_err() {
        return Some(json!([{ "license": { "name": declared } }]));
    }
    let canonical = match spdx::Expression::canonicalize(declared) {
        Ok(Some(fixed)) => fixed,
        Ok(None) => declared.to_owned(),
        Err(_) => return Some(json!([{ "license": { "name": declared } }])),
    };
    if spdx::Expression::parse(&canonical).is_ok() {
        Some(json!([{ "expression": canonical }]))
    } else {
        Some(json!([{ "license": { "name": declared } }]))
    }
}

fn unversioned_purl(purl_type: &str, name: &str) -> String {
    let full = purl(purl_type, name, "");
    full.trim_end_matches('@').to_owned()
}

/// The stored findings as CycloneDX vulnerabilities affecting the package, or for image
/// findings, the contained packages they were found in.
async fn vulnerabilities(
    app: &App,
    package: &PackageRow,
    contents: &BTreeMap<(String, String, String), String>,
) -> AppResult<Vec<Value>> {
    let mut out = Vec::new();
    for row in app.db.package_findings(package.id).await? {
        let Ok(finding) = serde_json::from_str::<Value>(&row.finding) else {
            continue;
        };
        let mut affects: Vec<Value> = finding["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let key = (
                    c["ecosystem"].as_str()?.to_owned(),
                    c["name"].as_str()?.to_owned(),
                    c["version"].as_str()?.to_owned(),
                );
                contents.get(&key).map(|r| json!({ "ref": r }))
            })
            .collect();
        if affects.is_empty() {
            affects.push(json!({ "ref": package.slug_perm }));
        }
        let mut v = json!({
            "id": row.advisory_id,
            "source": { "name": "OSV" },
            "ratings": [{ "severity": rating(&row.severity) }],
            "affects": affects,
        });
        if let Some(aliases) = finding["aliases"].as_array().filter(|a| !a.is_empty()) {
            v["references"] = aliases
                .iter()
                .filter_map(Value::as_str)
                .map(|a| json!({ "id": a, "source": { "name": "OSV" } }))
                .collect();
        }
        if let Some(summary) = finding["summary"].as_str().filter(|s| !s.is_empty()) {
            v["description"] = json!(summary);
        }
        if let Some(source) = finding["severity_source"].as_str() {
            v["properties"] = json!([gantry_property("severity_source", source)]);
        }
        if let Some(fixed) = finding["fixed_versions"]
            .as_array()
            .filter(|f| !f.is_empty())
        {
            let list: Vec<&str> = fixed.iter().filter_map(Value::as_str).collect();
            v["recommendation"] = json!(format!("upgrade to {}", list.join(" or ")));
        }
        if let Some(analysis) = analysis(&finding["exception"]) {
            v["analysis"] = analysis;
        }
        out.push(v);
    }
    Ok(out)
}

/// A finding's severity in CycloneDX's words (`info` has no counterpart in Gantry).
fn rating(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "high" => "high",
        "medium" => "medium",
        "low" => "low",
        "none" => "none",
        _ => "unknown",
    }
}

/// An exception as a CycloneDX analysis: OpenVEX statuses and justifications in CycloneDX's
/// vocabulary.
fn analysis(exception: &Value) -> Option<Value> {
    let state = match exception["status"].as_str()? {
        "not_affected" => "not_affected",
        "fixed" => "resolved",
        "under_investigation" => "in_triage",
        _ => return None,
    };
    let mut out = json!({ "state": state });
    let justification = match exception["justification"].as_str() {
        Some("component_not_present" | "vulnerable_code_not_present") => Some("code_not_present"),
        Some("vulnerable_code_not_in_execute_path") => Some("code_not_reachable"),
        Some("vulnerable_code_cannot_be_controlled_by_adversary") => Some("requires_environment"),
        Some("inline_mitigations_already_exist") => Some("protected_by_mitigating_control"),
        _ => None,
    };
    if let Some(j) = justification {
        out["justification"] = json!(j);
    }
    if let Some(detail) = exception["impact_statement"]
        .as_str()
        .filter(|d| !d.is_empty())
    {
        out["detail"] = json!(detail);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{analysis, licenses, unversioned_purl};
    use serde_json::json;

    #[test]
    fn licences_are_normalised_to_spdx() {
        assert_eq!(
            licenses("MIT/Apache-2.0"),
            Some(json!([{ "expression": "MIT OR Apache-2.0" }]))
        );
        assert_eq!(
            licenses("BSD-3-Clause"),
            Some(json!([{ "expression": "BSD-3-Clause" }]))
        );
        assert_eq!(
            licenses("BSD"),
            Some(json!([{ "license": { "name": "BSD" } }]))
        );
        assert_eq!(
            licenses("Proprietary, ask us"),
            Some(json!([{ "license": { "name": "Proprietary, ask us" } }]))
        );
        assert_eq!(licenses("  "), None);
    }

    #[test]
    fn exceptions_become_analyses() {
        let a = analysis(&json!({"status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path", "impact_statement": "unused"}));
        assert_eq!(
            a,
            Some(
                json!({"state": "not_affected", "justification": "code_not_reachable", "detail": "unused"})
            )
        );
        assert_eq!(analysis(&json!(null)), None);
        assert_eq!(unversioned_purl("npm", "@acme/x"), "pkg:npm/%40acme/x");
    }
}
