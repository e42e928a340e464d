//! The RubyGems web API: `gem push` (`POST /api/v1/gems`, the `.gem` as the body) and
//! `gem yank` (`DELETE /api/v1/gems/yank`, a form with `gem_name`, `version` and
//! `platform`). The API key `gem` sends in `Authorization` is a Gantry token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use gantry_formats::Declared;
use gantry_protocol::error::Closing;
use gantry_protocol::extract::{op, Repo, UploadTo};
use gantry_protocol::ingest::{ingest, Upload};

use super::{text, FORMAT};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pure::{platform_of, qualifier};

/// Largest yank form.
const MAX_FORM: usize = 16 * 1024;

/// `POST /{owner}/{repo}/rubygems/api/v1/gems`: `gem push`.
pub(crate) async fn push(
    UploadTo { app, caller, repo }: UploadTo<op::Push>,
    request: axum::extract::Request,
) -> Result<Response, Closing> {
    let format = app
        .formats
        .get(FORMAT)
        .ok_or_else(|| AppError::internal("rubygems format missing"))?;
    let content_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let declared = Declared {
        filename: "pushed.gem".into(),
        ..Declared::default()
    };
    let mut upload = Upload::inline(declared, false);
    upload.content_length = content_length;
    let repo = repo.into_row();
    let body = request.into_body().into_data_stream();
    let ingested = ingest(&app, &caller, &repo, format, upload, body).await?;
    let p = &ingested.package;
    tracing::info!(repository = %repo.slug(), gem = %p.name, version = %p.version, "gem pushed");
    Ok(text(
        StatusCode::OK,
        format!(
            "Successfully registered gem: {} ({}) in {}",
            p.name,
            p.version,
            repo.slug()
        ),
    ))
}

/// The fields of a yank, from the form body or the query.
fn yank_fields(query: Option<&str>, body: &[u8]) -> (String, String, String) {
    let (mut name, mut version, mut platform) = (String::new(), String::new(), String::new());
    let pairs = url::form_urlencoded::parse(body)
        .chain(url::form_urlencoded::parse(query.unwrap_or("").as_bytes()));
    for (key, value) in pairs {
        match key.as_ref() {
            "gem_name" if name.is_empty() => name = value.into_owned(),
            "version" if version.is_empty() => version = value.into_owned(),
            "platform" if platform.is_empty() => platform = value.into_owned(),
            _ => {}
        }
    }
    (name, version, platform)
}

/// `DELETE /{owner}/{repo}/rubygems/api/v1/gems/yank`: `gem yank NAME -v VERSION
/// [--platform P]`, Gantry's yank: the version leaves the indexes, its file stays for
/// whoever names it.
pub(crate) async fn yank(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    repo: Repo<op::Yank>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    if body.len() > MAX_FORM {
        return Err(AppError::PayloadTooLarge(
            "the yank form is too large".into(),
        ));
    }
    let (name, version, platform) = yank_fields(uri.query(), &body);
    if name.is_empty() || version.is_empty() {
        return Err(AppError::BadRequest(
            "a yank names the gem (gem_name) and its version".into(),
        ));
    }
    let platform = if platform.is_empty() {
        "ruby".to_owned()
    } else {
        platform
    };
    let package = app
        .db
        .find_live_package(repo.id, FORMAT, &name, &version, qualifier(&platform))
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "gem {} ({}{}) not found in {}",
                crate::archive::quote(&name),
                crate::archive::quote(&version),
                if platform == "ruby" {
                    String::new()
                } else {
                    format!("-{}", crate::archive::quote(platform_of(&platform)))
                },
                repo.slug()
            ))
        })?;
    let event = caller.event(gantry_core::EventType::PackageYanked);
    app.db
        .set_yanked(&package, true, Some("yanked with gem yank"), &event)
        .await?;
    Ok(text(
        StatusCode::OK,
        format!(
            "Successfully yanked gem: {} ({})",
            package.name, package.version
        ),
    ))
}
