//! A repository's packages: the query language, filters, pages, and a selection to promote.

use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use gantry_core::Package;
use maud::{html, Markup};
use serde::Deserialize;

use crate::api::enc;
use crate::context::Ctx;
use crate::error::UiError;
use crate::place::RepoAt;
use crate::view::{
    badge, csrf_field, formats, notice, package_path, repo_path, severity, size, when,
};
use crate::WebState;

const PAGE_SIZE: i64 = 50;
const STATES: &[&str] = &["available", "quarantined", "deleted"];
const SEVERITIES: &[&str] = &["none", "low", "medium", "high", "critical", "unknown"];

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    tag: String,
    page: Option<i64>,
    notice: Option<String>,
}

impl ListQuery {
    /// The filters as terms of the query language, joined to the typed query: the API
    /// parses and applies them, as it does for the CLI.
    fn api_query(&self) -> String {
        let mut terms: Vec<String> = Vec::new();
        if !self.q.trim().is_empty() {
            terms.push(self.q.trim().to_owned());
        }
        for (field, value) in [
            ("format", &self.format),
            ("state", &self.state),
            ("max_severity", &self.severity),
            ("tag", &self.tag),
        ] {
            if !value.trim().is_empty() {
                terms.push(format!("{field}:{}", value.trim()));
            }
        }
        terms.join(" ")
    }

    fn link(&self, owner: &str, repo: &str, page: i64) -> String {
        format!(
            "{}?q={}&format={}&state={}&severity={}&tag={}&page={page}",
            repo_path(owner, repo),
            enc(&self.q),
            enc(&self.format),
            enc(&self.state),
            enc(&self.severity),
            enc(&self.tag)
        )
    }
}

fn select(name: &str, label: &str, current: &str, options: &[&str]) -> Markup {
    html! {
        label { (label)
            select name=(name) {
                option value="" { "any" }
                @for option in options {
                    option value=(option) selected[*option == current] { (option) }
                }
            }
        }
    }
}

fn filters(web: &WebState, owner: &str, repo: &str, query: &ListQuery) -> Markup {
    let formats: Vec<&str> = web.app.formats.ids().collect();
    html! {
        form.panel method="get" action=(repo_path(owner, repo)) role="search" {
            div.fields {
                label { "Query"
                    input name="q" value=(query.q) placeholder="name:app version:1.0 tag:tested" size="30";
                }
                (select("format", "Format", &query.format, &formats))
                (select("state", "State", &query.state, STATES))
                (select("severity", "Severity", &query.severity, SEVERITIES))
                label { "Tag" input name="tag" value=(query.tag) size="10"; }
                button type="submit" { "Filter" }
            }
        }
    }
}

fn rows(owner: &str, repo: &str, packages: &[Package]) -> Markup {
    html! {
        div.scroll {
            table {
                thead { tr {
                    th scope="col" { input #select-all type="checkbox" hidden aria-label="Select all"; }
                    th scope="col" { "Package" } th scope="col" { "Version" } th scope="col" { "Format" }
                    th scope="col" { "State" } th scope="col" { "Severity" }
                    th.hide-narrow scope="col" { "Tags" } th.hide-narrow scope="col" { "Uploaded" }
                } }
                tbody {
                    @for p in packages {
                        tr {
                            td { input type="checkbox" name="slug" value=(p.slug_perm) aria-label={"Select " (p.name) " " (p.version)}; }
                            td { a href=(package_path(owner, repo, &p.slug_perm)) { (p.name) } }
                            td.mono { (p.version) }
                            td { (p.format) }
                            td { (badge("state", p.state.as_str())) " " (badge("sync", p.sync_status.as_str())) }
                            td { (severity(p.max_severity.map(|s| s.as_str()))) " " (p.num_vulnerabilities) }
                            td.hide-narrow { (p.tags.join(", ")) }
                            td.hide-narrow { (when(&p.uploaded_at)) }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) async fn page(
    cx: Ctx<RepoAt>,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let repository = cx.repository().await?;
    let (owner, repo) = (cx.at.owner(), cx.at.repo());
    let page = query.page.unwrap_or(1).max(1);
    let path = format!(
        "{}?query={}&page={page}&page_size={PAGE_SIZE}",
        cx.at.api("packages"),
        enc(&query.api_query())
    );
    let answer = cx.call(Method::GET, &path, None).await?;
    let count = answer.header_i64("x-pagination-count").unwrap_or(0);
    let pages = answer.header_i64("x-pagination-pagetotal").unwrap_or(1);
    let packages: Vec<Package> = answer.json()?;
    let here = cx.at.ui("");
    let body = html! {
        (notice(query.notice.as_deref()))
        @if !repository.description.is_empty() { p { (repository.description) } }
        p.muted { (repository.package_count) " packages, " (size(repository.size.unwrap_or(0)))
            @if repository.formats.as_ref().is_some_and(|f| !f.is_empty()) { ": " (formats(&repository)) } }
        p.actions {
            a.button href={(here) "/-/upload"} { "Upload" }
            a href={(here) "/-/security"} { "Security" }
            a href={(here) "/-/webhooks"} { "Webhooks" }
            a href={(here) "/-/automation"} { "Upstreams and rules" }
            a href={(here) "/-/retention"} { "Retention" }
            a href={(here) "/-/exceptions"} { "Exceptions" }
            // The API shows a repository's access settings to its admins only.
            @if repository.permissions.is_some() {
                a href={(here) "/-/entitlements"} { "Entitlements" }
                a href={(here) "/-/settings"} { "Settings" }
            }
            span.muted { @if repository.private { "private" } @else { "public" } }
        }
        (filters(&cx.web, owner, repo, &query))
        p.muted aria-live="polite" { (count) " packages match." }
        form method="post" action={(here) "/-/promote"} {
            (csrf_field(&cx.viewer))
            (rows(owner, repo, &packages))
            fieldset.panel {
                legend { "Promote the selected packages" }
                div.fields {
                    label { "Destination" input name="destination" required placeholder="staging or owner/repo"; }
                    label { "Mode" select name="mode" { option value="copy" { "copy" } option value="move" { "move" } } }
                    button type="submit" { "Check the gate" }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if page > 1 { a rel="prev" href=(query.link(owner, repo, page - 1)) { "← Newer" } }
            span { "Page " (page) " of " (pages.max(1)) }
            @if page < pages { a rel="next" href=(query.link(owner, repo, page + 1)) { "Older →" } }
        }
    };
    Ok(cx.page(&repository.slug, body))
}
