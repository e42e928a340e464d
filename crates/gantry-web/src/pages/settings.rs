//! A repository's settings (its admins only): description, visibility, immutable tags, the
//! address lists and the minimum privilege per operation. One `PATCH` of the repository.

use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::{json, Map, Value};

use crate::context::{Ctx, Flash, Submitted};
use crate::error::UiError;
use crate::form::Form;
use crate::place::RepoAt;
use crate::view::{csrf_field, redirect};

const PRIVILEGES: &[&str] = &["read", "write", "admin"];

pub(crate) async fn page(cx: Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    render(&cx, flash).await
}

async fn render(cx: &Ctx<RepoAt>, flash: Flash) -> Result<Response, UiError> {
    let r = cx.administered().await?;
    let lines = |list: &Option<Vec<String>>| list.as_deref().unwrap_or_default().join("\n");
    let permissions: Vec<(String, String)> = r
        .permissions
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let here = cx.at.ui("/-/settings");
    let viewer = &cx.viewer;
    let body = html! {
        (flash)
        form.panel method="post" action=(here) {
            (csrf_field(viewer))
            div.fields {
                label { "Description" input name="description" value=(r.description) maxlength="2000" size="40"; }
                label { "Visibility"
                    select name="visibility" {
                        option value="private" selected[r.private] { "private" }
                        option value="public" selected[!r.private] { "public" }
                    }
                }
                label.check { input type="checkbox" name="immutable_tags" value="1" checked[r.immutable_tags];
                    " Tags are immutable (a push that moves a tag is refused)" }
            }
            h2 { "Addresses" }
            p.muted { "CIDR networks, one a line. Empty allowlist: every address may reach the packages." }
            div.fields {
                label { "Allowlist" textarea name="ip_allowlist" rows="3" cols="30" { (lines(&r.ip_allowlist)) } }
                label { "Denylist" textarea name="ip_denylist" rows="3" cols="30" { (lines(&r.ip_denylist)) } }
            }
            h2 { "Minimum privilege per operation" }
            div.fields {
                @for (op, current) in &permissions {
                    label { (op)
                        select name={"perm." (op)} {
                            @for p in PRIVILEGES { option value=(p) selected[current == p] { (p) } }
                        }
                    }
                }
            }
            button type="submit" { "Save" }
        }
    };
    Ok(cx.page("Repository settings", body))
}

fn list(form: &Form, name: &str) -> Vec<String> {
    form.get(name)
        .unwrap_or("")
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as the API's update: every field the page shows.
fn update(form: &Form) -> Value {
    let permissions: Map<String, Value> = form
        .fields()
        .filter_map(|(k, v)| Some((k.strip_prefix("perm.")?.to_owned(), Value::from(v))))
        .collect();
    let mut body = json!({
        "description": form.get("description").unwrap_or(""),
        "private": form.get("visibility") != Some("public"),
        "immutable_tags": form.get("immutable_tags") == Some("1"),
        "ip_allowlist": list(form, "ip_allowlist"),
        "ip_denylist": list(form, "ip_denylist"),
    });
    if !permissions.is_empty() {
        body["permissions"] = Value::Object(permissions);
    }
    body
}

pub(crate) async fn save(Submitted { cx, form }: Submitted<RepoAt>) -> Result<Response, UiError> {
    let path = cx.at.api("repos");
    let body = update(&form);
    cx.send(Method::PATCH, &path, Some(&body), |f| render(&cx, f))
        .await?;
    Ok(redirect(&cx.at.ui("/-/settings?notice=saved")))
}
