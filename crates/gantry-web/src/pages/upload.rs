//! The upload form. The file streams from the browser through to the API's upload route
//! (never held whole in memory); with JavaScript the page shows a progress bar.

use axum::body::Body;
use axum::extract::Multipart;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use gantry_core::Package;
use maud::html;
use serde_json::json;

use crate::api::enc;
use crate::context::Ctx;
use crate::error::UiError;
use crate::place::RepoAt;
use crate::view::{csrf_field, package_path, redirect};

pub(crate) async fn form(cx: Ctx<RepoAt>) -> Result<Response, UiError> {
    // Reading the repository first answers 404 for what the caller may not see.
    cx.repository().await?;
    let here = cx.at.ui("");
    // The formats come from the registered plugins: none is named here, none preselected.
    let formats = gantry_protocol::plugin::plugins().with_file_upload();
    let body = html! {
        form #upload-form.panel method="post" action={(here) "/-/upload"} enctype="multipart/form-data" {
            (csrf_field(&cx.viewer))
            div.fields {
                label { "Format"
                    select name="format" required {
                        option value="" { "choose a format" }
                        @for f in &formats { option value=(f) { (f) } }
                    }
                }
                label { "Name (when the file does not say)" input name="name"; }
                label { "Version (when the file does not say)" input name="version"; }
                label { "Tags (comma-separated)" input name="tags"; }
                label { "File" input type="file" name="file" required; }
                button type="submit" { "Upload" }
            }
            progress #upload-progress max="100" value="0" hidden aria-label="Upload progress" {}
            p #upload-status role="status" {}
        }
        p.muted { "Fields before the file are read first; the file streams to the repository as it arrives." }
    };
    Ok(cx.page("Upload a package", body))
}

fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .is_some_and(|v| v == "fetch")
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) async fn submit(
    cx: Ctx<RepoAt>,
    headers: axum::http::HeaderMap,
    multipart: Multipart,
) -> Result<Response, UiError> {
    let fetch = wants_json(&headers);
    match upload(&cx, multipart).await {
        Ok(package) => {
            let (owner, repo) = (cx.at.owner(), cx.at.repo());
            let to = format!(
                "{}?notice=uploaded",
                package_path(owner, repo, &package.slug_perm)
            );
            Ok(if fetch {
                json_answer(StatusCode::OK, &json!({"location": to}))
            } else {
                redirect(&to)
            })
        }
        Err(err) if fetch => Ok(json_answer(
            err.status(),
            &json!({"error": err.to_string()}),
        )),
        Err(err) => Err(err),
    }
}

async fn upload(cx: &Ctx<RepoAt>, mut multipart: Multipart) -> Result<Package, UiError> {
    let viewer = &cx.viewer;
    let bad = |e: axum::extract::multipart::MultipartError| UiError::BadRequest(e.body_text());
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let Some(field) = multipart.next_field().await.map_err(bad)? else {
            return Err(UiError::BadRequest("the form has no file".into()));
        };
        let name = field.name().unwrap_or("").to_owned();
        if name != "file" {
            if fields.len() >= 16 {
                return Err(UiError::BadRequest("too many form fields".into()));
            }
            let value = field.text().await.map_err(bad)?;
            fields.push((name, value.chars().take(1024).collect()));
            continue;
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        viewer.check_csrf(get("csrf").as_deref())?;
        let filename = field
            .file_name()
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_owned())
            .filter(|f| !f.is_empty())
            .ok_or_else(|| UiError::BadRequest("choose a file".into()))?;
        let format = get("format").ok_or_else(|| UiError::BadRequest("choose a format".into()))?;
        let mut path = format!(
            "{}/upload/{}?filename={}",
            cx.at.api("packages"),
            enc(&format),
            enc(&filename)
        );
        for key in ["name", "version", "tags"] {
            if let Some(value) = get(key) {
                path.push_str(&format!("&{key}={}", enc(&value)));
            }
        }
        // The field borrows the form; a channel hands its chunks to the API's body as they
        // arrive, while the API reads them.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let body = Body::from_stream(tokio_stream_from(rx));
        let mut field = field;
        let feed = async move {
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        };
        let call = cx.web.api.send(
            viewer,
            Method::POST,
            &path,
            Some("application/octet-stream"),
            body,
        );
        let ((), answer) = tokio::join!(feed, call);
        return answer?.json();
    }
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
