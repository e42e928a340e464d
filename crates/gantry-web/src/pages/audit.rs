//! A namespace's audit log: every mutation and denied request, newest first, with filters
//! and paging back by event id.

use axum::extract::Query;
use axum::response::Response;
use gantry_core::Event;
use maud::html;
use serde::Deserialize;

use crate::api::enc;
use crate::context::Ctx;
use crate::error::UiError;
use crate::place::OwnerAt;
use crate::view::when;

const PAGE: usize = 100;

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    event: String,
    before: Option<i64>,
}

pub(crate) async fn page(
    cx: Ctx<OwnerAt>,
    Query(query): Query<AuditQuery>,
) -> Result<Response, UiError> {
    let mut path = format!(
        "{}?limit={PAGE}&actor={}&event={}",
        cx.at.api("audit"),
        enc(&query.actor),
        enc(&query.event)
    );
    if let Some(before) = query.before {
        path.push_str(&format!("&before={before}"));
    }
    let events: Vec<Event> = cx.get(&path).await?;
    let here = cx.at.ui("/-/audit");
    let body = html! {
        form.panel method="get" action=(here) role="search" {
            div.fields {
                label { "Actor" input name="actor" value=(query.actor); }
                label { "Event" input name="event" value=(query.event) placeholder="package.moved"; }
                button type="submit" { "Filter" }
            }
        }
        div.scroll { table {
            thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Actor" }
                th scope="col" { "Where" } th.hide-narrow scope="col" { "Address" } } }
            tbody { @for e in &events { tr {
                td { (when(&e.occurred_at)) }
                td { (e.event) }
                td { (e.actor) }
                td { (e.repository.clone().unwrap_or_default())
                    @if let (Some(from), Some(to)) = (&e.source_repository, &e.destination_repository) { br; (from) " → " (to) } }
                td.hide-narrow { (e.source_address.clone().unwrap_or_default()) }
            } } }
        } }
        @if events.len() == PAGE {
            @if let Some(last) = events.last() {
                p { a href={(here) "?actor=" (enc(&query.actor)) "&event=" (enc(&query.event)) "&before=" (last.id)} { "Older →" } }
            }
        }
    };
    let title = format!("Audit log of {}", cx.at.owner());
    Ok(cx.page(&title, body))
}
