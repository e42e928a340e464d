//! The legacy upload API that twine, poetry and uv publish with.

use super::*;
use gantry_protocol::error::Closing;
use gantry_protocol::extract::UploadTo;

/// `POST /{owner}/{repo}/python/`: the legacy upload API that twine, poetry and uv publish
/// use (multipart form, `:action=file_upload`, the file in `content`).
pub(crate) async fn upload(
    UploadTo { app, caller, repo }: UploadTo<op::Push>,
    request: axum::extract::Request,
) -> Result<Response, Closing> {
    let (app, caller) = (&app, &caller);
    let repo: RepoRow = repo.into_row();
    let mut multipart = <Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
        .await
        .map_err(|e| {
            AppError::BadRequest(format!(
                "expected a multipart upload form: {}",
                e.body_text()
            ))
        })?;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut form_bytes = 0usize;
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("malformed upload form: {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "content" {
            let filename = field
                .file_name()
                .map(str::to_owned)
                .ok_or_else(|| AppError::BadRequest("the content field has no filename".into()))?;
            let get = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            if get(":action").is_some_and(|a| a != "file_upload") {
                return Err(
                    AppError::BadRequest("only :action=file_upload is supported".into()).into(),
                );
            }
            let declared = Declared {
                name: get("name"),
                version: get("version"),
                filename,
                md5: get("md5_digest"),
                sha1: None,
                sha256: get("sha256_digest"),
                sha512: None,
                attributes: Default::default(),
            };
            let format = app
                .formats
                .get(FORMAT)
                .ok_or_else(|| AppError::internal("python format missing"))?;
            let outcome = ingest(
                app,
                caller,
                &repo,
                format,
                Upload::inline(declared, true),
                field,
            )
            .await
            .map_err(|e| match e {
                // A form that disagrees with the file is a bad request, checksums included.
                AppError::Unprocessable(m) => AppError::BadRequest(m),
                other => other,
            })?;
            // twine wants 200 for a new file and for an identical re-upload alike.
            return Ok((
                StatusCode::OK,
                axum::Json(serde_json::json!({
                    "ok": true,
                    "created": outcome.created,
                    "slug_perm": outcome.package.slug_perm,
                })),
            )
                .into_response());
        }
        if fields.len() >= MAX_FORM_FIELDS {
            return Err(
                AppError::BadRequest(format!("more than {MAX_FORM_FIELDS} form fields")).into(),
            );
        }
        let value = field.text().await.map_err(bad)?;
        form_bytes += name.len() + value.len();
        if form_bytes > MAX_FORM_BYTES {
            return Err(AppError::PayloadTooLarge("the form fields are too large".into()).into());
        }
        fields.push((name, value));
    }
    Err(AppError::BadRequest("the upload has no content field".into()).into())
}
