//! A package: metadata, files with checksums, the install command of its format, the
//! provenance timeline, vulnerabilities, tags, and its actions.

use axum::extract::Path;
use axum::response::Response;
use gantry_core::{Event, Package, SyncStatus};
use maud::{html, Markup};
use serde_json::Value;

use crate::context::{Ctx, Flash};
use crate::error::UiError;
use crate::place::{RepoAt, Slug};
use crate::view::{badge, package_link, package_path, severity, size, when};
use crate::WebState;

/// The API's base URL as it wrote it into the package's own link.
fn base_url(package: &Package) -> &str {
    package
        .self_url
        .split_once("/api/v1/")
        .map_or("", |(base, _)| base)
}

fn install(web: &WebState, owner: &str, repo: &str, p: &Package) -> Markup {
    let Some(format) = web.app.formats.get(&p.format) else {
        return html! {};
    };
    let url = format!("{}/{owner}/{repo}", base_url(p));
    let hint = format.install_hint(&url, &p.name, &p.version);
    html! {
        h2 { "Install" }
        div.copy {
            pre #install { code { (hint) } }
            button.secondary type="button" data-copy="install" hidden { "Copy" }
        }
    }
}

fn metadata(p: &Package) -> Markup {
    html! {
        dl.meta {
            dt { "Format" } dd { (p.format) }
            dt { "State" } dd { (badge("state", p.state.as_str()))
                @if let Some(reason) = &p.status_reason { " " span.muted { (reason) } } }
            dt { "Processing" } dd { (badge("sync", p.sync_status.as_str())) }
            dt { "Scan" } dd { (badge("scan", p.security_scan_status.as_str())) " "
                (severity(p.max_severity.map(|s| s.as_str()))) " "
                (p.num_vulnerabilities) " vulnerabilities" }
            dt { "Tags" } dd { @if p.tags.is_empty() { span.muted { "none" } } @else { (p.tags.join(", ")) } }
            dt { "Size" } dd { (size(p.size)) }
            dt { "Uploaded" } dd { (when(&p.uploaded_at)) " by " (p.uploader) }
            dt { "Origin" } dd { (p.origin_repository)
                @if let Some(o) = &p.origin_package {
                    " (copy of " a href=(package_link(&o.repository, &o.slug_perm)) { (o.slug_perm) } ")"
                } }
            dt { "Permanent id" } dd.mono { (p.slug_perm) }
            @if p.is_yanked { dt { "Yanked" } dd { (p.yank_reason.clone().unwrap_or_default()) } }
        }
    }
}

fn files(p: &Package) -> Markup {
    html! {
        h2 { "Files" }
        div.scroll { table {
            thead { tr { th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "Checksums" } } }
            tbody { @for f in &p.files { tr {
                td { a href=(f.download_url) { (f.filename) } }
                td { (size(f.size)) }
                td.mono {
                    "sha256 " (f.checksum_sha256) br;
                    "sha512 " (f.checksum_sha512) br;
                    "sha1 " (f.checksum_sha1) br;
                    "md5 " (f.checksum_md5)
                }
            } } }
        } }
    }
}

/// What an event's context adds to its line: reasons, severities, tags.
fn detail(e: &Event) -> Markup {
    let c = &e.context;
    let text = |key: &str| c[key].as_str().map(str::to_owned);
    let list = |key: &str| {
        c[key].as_array().map(|a| {
            a.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    html! {
        @if let Some(s) = text("max_severity") { " max severity " (severity(Some(&s))) }
        @if let Some(r) = list("reasons").filter(|r| !r.is_empty()) { br; span { "Reasons: " (r) } }
        @if let Some(r) = text("reason") { br; span.muted { (r) } }
        @if let Some(t) = list("tags").filter(|t| !t.is_empty()) { br; span { "Tags: " (t) } }
    }
}

fn timeline(events: &[Event]) -> Markup {
    html! {
        h2 #provenance { "Provenance" }
        ol.timeline {
            @for e in events { li {
                strong { (e.event) } " · " (when(&e.occurred_at)) " · " (e.actor)
                @if let (Some(from), Some(to)) = (&e.source_repository, &e.destination_repository) {
                    br; span { (from) " → " (to) }
                }
                @if let Some(sha) = &e.checksum_sha256 { br; span.mono.muted { "sha256 " (sha) } }
                (detail(e))
            } }
        }
    }
}

fn link_if_web(url: &str) -> Markup {
    html! {
        @if url.starts_with("https://") || url.starts_with("http://") {
            a href=(url) rel="noreferrer noopener" { (url) }
        } @else { (url) }
    }
}

fn vulnerabilities(report: &Value) -> Markup {
    let empty = Vec::new();
    let list = report["vulnerabilities"].as_array().unwrap_or(&empty);
    let strings = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    html! {
        h2 #vulnerabilities { "Vulnerabilities" }
        @if let Some(reason) = report["scan_reason"].as_str() { p.muted { (reason) } }
        @if list.is_empty() { p.muted { "No known vulnerabilities." } } @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Advisory" } th scope="col" { "Severity" } th scope="col" { "Affected" }
                    th scope="col" { "Fixed in" } th.hide-narrow scope="col" { "Summary and links" } } }
                tbody { @for v in list { tr {
                    td.mono.advisory { (v["advisory_id"].as_str().unwrap_or("")) br;
                        span.muted { (strings(&v["aliases"]).join(", ")) } }
                    td { (severity(v["severity"].as_str())) }
                    td.mono.versions { (strings(&v["affected_ranges"]).join("; ")) }
                    td.mono.versions { (strings(&v["fixed_versions"]).join(", ")) }
                    td.hide-narrow { (v["summary"].as_str().unwrap_or(""))
                        @for r in strings(&v["references"]).iter().take(3) { br; (link_if_web(r)) } }
                } } }
            } }
        }
    }
}

pub(crate) async fn page(
    cx: Ctx<RepoAt>,
    Path(Slug { slug }): Path<Slug>,
    flash: Flash,
) -> Result<Response, UiError> {
    let api = super::actions::api(&cx.at, &slug);
    let package: Package = cx.get(&api).await?;
    let events: Vec<Event> = cx.get(&format!("{api}/events")).await?;
    let report: Value = cx.get(&format!("{api}/vulnerabilities")).await?;
    let (owner, repo) = (cx.at.owner(), cx.at.repo());
    let settling = matches!(
        package.sync_status,
        SyncStatus::AwaitingSync | SyncStatus::Syncing
    ) || matches!(
        package.security_scan_status.as_str(),
        "awaiting_scan" | "scanning"
    );
    let body = html! {
        (flash)
        @if settling { p.muted data-live="1" role="status" { "Processing… this page refreshes itself." } }
        (metadata(&package))
        (install(&cx.web, owner, repo, &package))
        (super::actions::panel(&cx.viewer, owner, repo, &package))
        (files(&package))
        (vulnerabilities(&report))
        (timeline(&events))
    };
    let title = format!("{} {}", package.name, package.version);
    let here = package_path(owner, repo, &slug);
    Ok(cx.page_under(&title, &[(&package.name, here)], body))
}
