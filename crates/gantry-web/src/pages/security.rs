//! The security page of a namespace or repository: counts by severity, a chart of scan
//! results over time (SVG drawn here from the recorded `package.security_scanned` events),
//! and the failing packages with how many findings have a fixed version.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use gantry_core::Event;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::api::enc;
use crate::context::Ctx;
use crate::error::UiError;
use crate::layout;
use crate::place::{OwnerAt, RepoAt};
use crate::view::{package_link, severity};

const LEVELS: &[(&str, &str)] = &[
    ("none", "#2e7d32"),
    ("low", "#1d5fbf"),
    ("medium", "#b7791f"),
    ("high", "#c2410c"),
    ("critical", "#9b1c1c"),
    ("unknown", "#5b21b6"),
];
/// Days the chart covers.
const DAYS: i64 = 30;

#[derive(Deserialize, Default)]
pub(crate) struct SecurityQuery {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    fixable: String,
}

pub(crate) async fn namespace(
    cx: Ctx<OwnerAt>,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, UiError> {
    render(&cx, (cx.at.owner(), None), &query).await
}

pub(crate) async fn repository(
    cx: Ctx<RepoAt>,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, UiError> {
    render(&cx, (cx.at.owner(), Some(cx.at.repo())), &query).await
}

/// The page of the namespace `owner`, or of its repository `repo`; both under the
/// namespace's breadcrumb.
async fn render<P: Sync>(
    cx: &Ctx<P>,
    (owner, repo): (&str, Option<&str>),
    query: &SecurityQuery,
) -> Result<Response, UiError> {
    let scope = match repo {
        Some(r) => format!("{}/{}", enc(owner), enc(r)),
        None => enc(owner),
    };
    let fixable = query.fixable == "1";
    let mut path = format!("/api/v1/security/{scope}/summary?packages=true&fixable={fixable}");
    if !query.severity.is_empty() {
        path.push_str(&format!("&severity={}", enc(&query.severity)));
    }
    let summary: Value = cx.get(&path).await?;
    let chart = chart_events(cx, owner, repo).await?;
    let here = format!("/ui/{scope}/-/security");
    let body = html! {
        (counts(&summary))
        h2 { "Scans over the last " (DAYS) " days" }
        @match &chart {
            Some(events) => (svg_chart(events)),
            None => p.muted { "The chart is read from the audit log, which needs the admin privilege on " (owner) "." },
        }
        h2 { "Packages" }
        form.panel method="get" action=(here) role="search" {
            div.fields {
                label { "Severity"
                    select name="severity" {
                        option value="" { "any" }
                        @for (level, _) in LEVELS { option value=(level) selected[query.severity == *level] { (level) } }
                        option value="high,critical" selected[query.severity == "high,critical"] { "high or critical" }
                    }
                }
                label { "Only fixable" input type="checkbox" name="fixable" value="1" checked[fixable]; }
                button type="submit" { "Filter" }
            }
        }
        (packages(&summary))
    };
    let title = format!("Security of {}", summary["scope"].as_str().unwrap_or(owner));
    let crumbs = [(owner, format!("/ui/{}", enc(owner)))];
    Ok(layout::page(&cx.viewer, &title, &crumbs, body))
}

fn counts(summary: &Value) -> Markup {
    let by = &summary["by_max_severity"];
    html! {
        ul.cards aria-label="Counts" {
            li.card { span.n { (summary["packages"].as_i64().unwrap_or(0)) } "packages" }
            li.card { span.n { (summary["pass"].as_i64().unwrap_or(0)) } "pass" }
            li.card { span.n { (summary["fail"].as_i64().unwrap_or(0)) } "with vulnerabilities" }
            @for (level, _) in LEVELS {
                li.card { span.n { (by[*level].as_i64().unwrap_or(0)) } (severity(Some(level))) }
            }
        }
    }
}

fn packages(summary: &Value) -> Markup {
    let empty = Vec::new();
    let list = summary["package_list"].as_array().unwrap_or(&empty);
    html! {
        @if list.is_empty() { p.muted { "No packages match." } } @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Package" } th scope="col" { "Repository" } th scope="col" { "Severity" }
                    th scope="col" { "Vulnerabilities" } th scope="col" { "Fixable" } } }
                tbody { @for p in list { tr {
                    td { a href=(package_link(p["repository"].as_str().unwrap_or(""), p["slug_perm"].as_str().unwrap_or(""))) {
                        (p["name"].as_str().unwrap_or("")) " " (p["version"].as_str().unwrap_or("")) } }
                    td { (p["repository"].as_str().unwrap_or("")) }
                    td { (severity(p["max_severity"].as_str())) }
                    td { (p["num_vulnerabilities"].as_i64().unwrap_or(0)) }
                    td { @match p["fixable_vulnerabilities"].as_i64() { Some(n) => (n), None => span.muted { "—" } } }
                } } }
            } }
            @if summary["package_list_truncated"].as_bool() == Some(true) { p.muted { "Only the first 1,000 are listed." } }
        }
    }
}

/// The scan events of the last [`DAYS`] days, or `None` when the caller may not read the
/// audit log (the API answers 403 or 404).
async fn chart_events<P: Sync>(
    cx: &Ctx<P>,
    owner: &str,
    repo: Option<&str>,
) -> Result<Option<Vec<Event>>, UiError> {
    let since = gantry_core::time::rfc3339(gantry_core::time::now_millis() - DAYS * 86_400_000);
    let path = format!(
        "/api/v1/audit/{}?event=package.security_scanned&limit=1000&since={}",
        enc(owner),
        enc(&since)
    );
    let answer = cx.call(Method::GET, &path, None).await?;
    if !answer.status.is_success() {
        return Ok(None);
    }
    let mut events: Vec<Event> = answer.json()?;
    if let Some(repo) = repo {
        let slug = format!("{owner}/{repo}");
        events.retain(|e| e.repository.as_deref() == Some(slug.as_str()));
    }
    Ok(Some(events))
}

/// Stacked bars: per day, how many scans ended at each highest severity.
fn svg_chart(events: &[Event]) -> Markup {
    let mut days: BTreeMap<String, BTreeMap<&str, i64>> = BTreeMap::new();
    let today = gantry_core::time::now_millis();
    for back in (0..DAYS).rev() {
        let day = gantry_core::time::rfc3339(today - back * 86_400_000);
        days.insert(day.get(..10).unwrap_or("").to_owned(), BTreeMap::new());
    }
    for e in events {
        let day = e.occurred_at.get(..10).unwrap_or("");
        let level = e.context["max_severity"].as_str().unwrap_or("none");
        let level = LEVELS
            .iter()
            .map(|(l, _)| *l)
            .find(|l| *l == level)
            .unwrap_or("unknown");
        if let Some(counts) = days.get_mut(day) {
            *counts.entry(level).or_default() += 1;
        }
    }
    let peak = days
        .values()
        .map(|c| c.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, left, bottom) = (720_i64, 220_i64, 36_i64, 24_i64);
    let bar = (width - left) / DAYS;
    let total: i64 = days.values().flat_map(|c| c.values()).sum();
    let label =
        format!("Scans per day over {DAYS} days: {total} in all, at most {peak} in one day");
    html! {
        svg.chart viewBox={"0 0 " (width) " " (height + 30)} role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            line x1=(left) y1=(height - bottom) x2=(width) y2=(height - bottom) stroke="#57606a" {}
            text x="2" y="14" font-size="11" fill="#1b1f24" { (peak) }
            text x="2" y=(height - bottom) font-size="11" fill="#1b1f24" { "0" }
            @for (i, (day, counts)) in days.iter().enumerate() {
                @let x = left + i64::try_from(i).unwrap_or(0) * bar;
                @let mut y = height - bottom;
                @for (level, colour) in LEVELS {
                    @let n = counts.get(level).copied().unwrap_or(0);
                    @if n > 0 {
                        @let h = n * (height - bottom - 10) / peak;
                        @let top = { y -= h; y };
                        rect x=(x + 1) y=(top) width=(bar - 2) height=(h) fill=(colour) {
                            title { (day) ": " (n) " " (level) }
                        }
                    }
                }
                @if i % 7 == 0 {
                    text x=(x) y=(height - 6) font-size="10" fill="#1b1f24" { (day.get(5..).unwrap_or("")) }
                }
            }
            @for (i, (level, colour)) in LEVELS.iter().enumerate() {
                @let x = left + i64::try_from(i).unwrap_or(0) * 110;
                rect x=(x) y=(height + 10) width="12" height="12" fill=(colour) {}
                text x=(x + 16) y=(height + 21) font-size="12" fill="#1b1f24" { (level) }
            }
        }
    }
}
