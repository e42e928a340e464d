//! Changing an upstream or a promotion rule in place: its form, filled in from the API (or,
//! after a refusal, from what was sent), saved with one `PUT` of the whole of it.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use super::automation::{api, Item};
use crate::api::enc;
use crate::context::{Ctx, Flash};
use crate::error::UiError;
use crate::form::Form;
use crate::place::RepoAt;
use crate::view::csrf_field;

pub(crate) async fn page(
    cx: Ctx<RepoAt>,
    Path(Item { what, id }): Path<Item>,
) -> Result<Response, UiError> {
    render(&cx, &what, &id, None, Flash::Nothing).await
}

/// What the form shows: the stored item as the API returns it, with a sent form's fields
/// over it.
fn values(stored: &Value, sent: Option<&Form>) -> impl Fn(&str) -> String {
    let stored = stored.clone();
    let sent: Vec<(String, String)> = sent
        .map(|f| {
            f.fields()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    move |key: &str| {
        if let Some((_, v)) = sent.iter().find(|(k, _)| k == key) {
            return v.clone();
        }
        match &stored[key] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

fn select(name: &str, label: &str, current: &str, options: &[&str]) -> Markup {
    html! {
        label { (label)
            select name=(name) { @for o in options { option value=(o) selected[*o == current] { (o) } } }
        }
    }
}

fn upstream_form(v: &dyn Fn(&str) -> String, stored: &Value) -> Markup {
    let formats = gantry_protocol::plugin::plugins().with_upstreams();
    html! {
        div.fields {
            (select("format", "Format", &v("format"), &formats))
            label { "Name" input name="name" required value=(v("name")); }
            label { "URL" input type="url" name="url" required size="40" value=(v("url")); }
            (select("mode", "Mode", &v("mode"), &["cache", "proxy"]))
            label { "Priority" input type="number" name="priority" min="0" max="1000" value=(v("priority")); }
            label { "Index pages fresh for (seconds)" input type="number" name="index_ttl_seconds" min="0" value=(v("index_ttl_seconds")); }
            label { "User name" input name="username" autocomplete="off" value=(v("username")); }
            label { "Password"
                input type="password" name="password" autocomplete="new-password"
                    placeholder=[stored["has_password"].as_bool().unwrap_or(false).then_some("unchanged")]; }
            label.check { input type="checkbox" name="local_names_only" value="1" checked[v("local_names_only") == "true" || v("local_names_only") == "1"];
                " Names that exist here are served from here only" }
        }
    }
}

fn rule_form(v: &dyn Fn(&str) -> String, stored: &Value) -> Markup {
    let rego = match &stored["condition"] {
        Value::Object(o) => o
            .get("rego")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    };
    let rego = if v("rego").is_empty() {
        rego
    } else {
        v("rego")
    };
    let shorthand = stored["condition"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let shorthand = if v("condition").is_empty() {
        shorthand
    } else {
        v("condition")
    };
    let enabled = v("enabled");
    html! {
        div.fields {
            label { "Name" input name="name" required value=(v("name")); }
            (select("on", "On", &v("on"), &["package.security_scanned", "package.synced"]))
            label { "Condition" input name="condition" size="28" value=(shorthand) placeholder="max_severity < high"; }
            (select("action", "Action", &v("action"), &["copy", "move"]))
            label { "Destination" input name="destination" required value=(v("destination")); }
            label.check { input type="checkbox" name="enabled" value="1" checked[enabled == "true" || enabled == "1"]; " Enabled" }
            // An unchecked box sends nothing: this says the form had one.
            input type="hidden" name="enabled" value="0";
        }
        label.block { "Rego module (defines " code { "promote" } "; replaces the shorthand above when given)"
            textarea name="rego" rows="10" cols="70" spellcheck="false" { (rego) } }
    }
}

/// The form of the upstream or rule `id` (`what` says which), filled in from `sent` when
/// it is shown again after a refusal.
pub(crate) async fn render(
    cx: &Ctx<RepoAt>,
    what: &str,
    id: &str,
    sent: Option<&Form>,
    flash: Flash,
) -> Result<Response, UiError> {
    let base = api(&cx.at, what);
    let (stored, title): (Value, &str) = match what {
        "upstreams" => (
            cx.get(&format!("{base}/{}", enc(id))).await?,
            "Change an upstream",
        ),
        "rules" => {
            let rules: Vec<Value> = cx.get(&base).await?;
            let rule = rules
                .into_iter()
                .find(|r| r["name"].as_str() == Some(id))
                .ok_or_else(|| UiError::Api {
                    status: StatusCode::NOT_FOUND,
                    message: format!("rule {id} not found in {}", cx.at),
                })?;
            (rule, "Change a promotion rule")
        }
        _ => return Err(UiError::BadRequest("unknown form".into())),
    };
    let v = values(&stored, sent);
    let back = cx.at.ui("/-/automation");
    let body = html! {
        (flash)
        form.panel method="post" action={(back) "/" (what) "/" (enc(id)) "/save"} {
            (csrf_field(&cx.viewer))
            @if what == "upstreams" { (upstream_form(&v, &stored)) } @else { (rule_form(&v, &stored)) }
            button type="submit" { "Save" }
            " " a href=(back) { "Cancel" }
        }
    };
    Ok(cx.page_under(title, &[("Upstreams and rules", back.clone())], body))
}
