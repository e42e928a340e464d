//! Records every denied request in the audit log.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use gantry_core::EventType;
use gantry_db::NewEvent;

use crate::app::App;
use crate::error::DeniedResponse;

pub(crate) async fn record_denials(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(denied) = response.extensions().get::<DeniedResponse>() {
        let mut event = NewEvent::new(EventType::RequestDenied, &denied.denial.actor);
        event.namespace = denied.denial.namespace.clone();
        event.source_address = denied.denial.address.clone();
        event.context = serde_json::json!({
            "method": method,
            "path": path.chars().take(512).collect::<String>(),
            "status": response.status().as_u16(),
            "reason": denied.reason,
        });
        if let Err(e) = app.db.record_event(&event).await {
            tracing::warn!(error = %e, "recording a denied request failed");
        }
    }
    response
}
