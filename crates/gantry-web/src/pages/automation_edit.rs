//! Changing an upstream or a promotion rule in place: its form, filled in from the API (or,
//! after a refusal, from what was sent), saved with one `PUT` of the whole of it.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use crate::api::enc;
use crate::error::UiError;
use crate::form::Form;
use crate::layout;
use crate::session::Viewer;
use crate::view::{csrf_field, error_box, repo_path};
use crate::WebState;

pub(crate) async fn page(
    State(web): State<WebState>,
    viewer: Viewer,
    Path((owner, repo, what, id)): Path<(String, String, String, String)>,
) -> Result<Response, UiError> {
    render(&web, &viewer, &owner, &repo, &what, &id, None, None).await
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

#[expect(clippy::too_many_arguments, reason = "one page's whole context")]
pub(crate) async fn render(
    web: &WebState,
    viewer: &Viewer,
    owner: &str,
    repo: &str,
    what: &str,
    id: &str,
    sent: Option<&Form>,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let base = format!("/api/v1/repos/{}/{}/{what}", enc(owner), enc(repo));
    let (stored, title): (Value, &str) = match what {
        "upstreams" => (
            web.api.get(viewer, &format!("{base}/{}", enc(id))).await?,
            "Change an upstream",
        ),
        "rules" => {
            let rules: Vec<Value> = web.api.get(viewer, &base).await?;
            let rule = rules
                .into_iter()
                .find(|r| r["name"].as_str() == Some(id))
                .ok_or_else(|| UiError::Api {
                    status: axum::http::StatusCode::NOT_FOUND,
                    message: format!("rule {id} not found in {owner}/{repo}"),
                })?;
            (rule, "Change a promotion rule")
        }
        _ => return Err(UiError::BadRequest("unknown form".into())),
    };
    let v = values(&stored, sent);
    let back = format!("{}/-/automation", repo_path(owner, repo));
    let body = html! {
        (error_box(error))
        form.panel method="post" action={(back) "/" (what) "/" (enc(id)) "/save"} {
            (csrf_field(viewer))
            @if what == "upstreams" { (upstream_form(&v, &stored)) } @else { (rule_form(&v, &stored)) }
            button type="submit" { "Save" }
            " " a href=(back) { "Cancel" }
        }
    };
    let crumbs = [
        (owner, format!("/ui/{}", enc(owner))),
        (repo, repo_path(owner, repo)),
        ("Upstreams and rules", back.clone()),
    ];
    Ok(layout::page(viewer, title, &crumbs, body))
}
