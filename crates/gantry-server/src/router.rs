//! The one router: REST API (documented by OpenAPI), native protocols, health and metrics.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api;
use crate::app::App;
use crate::error::AppError;
use crate::metrics;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gantry",
        description = "Self-hosted multi-format package repository with gated, atomic, auditable promotion. \
Authenticate with `Authorization: Bearer <token>`. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    tags(
        (name = "repositories", description = "Repositories under a namespace"),
        (name = "packages", description = "Upload, list, promote and delete packages"),
        (name = "tokens", description = "API tokens"),
        (name = "webhooks", description = "Webhooks per repository and their deliveries"),
        (name = "admin", description = "Site administration"),
        (name = "security", description = "Vulnerability database, scans and summaries"),
        (name = "upstreams", description = "Remote repositories a repository proxies or caches"),
        (name = "policies", description = "Rego policies, the decision log, and promotion rules"),
        (name = "access", description = "Users, teams, service accounts, privileges, audit log"),
        (name = "system", description = "Health and metrics"),
    )
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::system::healthz))
        .routes(routes!(api::system::readyz))
        .routes(routes!(api::maintenance::gc))
        .routes(routes!(api::maintenance::fsck))
        .routes(routes!(api::system::metrics))
        .routes(routes!(api::system::whoami))
        .routes(routes!(api::tokens::create, api::tokens::list))
        .routes(routes!(api::repos::create, api::repos::list))
        .routes(routes!(
            api::repos::get,
            api::repos::update,
            api::repos::delete
        ))
        .routes(routes!(api::upload::upload))
        .routes(routes!(api::packages::list))
        .routes(routes!(api::packages::get, api::packages::delete))
        .routes(routes!(api::packages::status))
        .routes(routes!(api::packages::events))
        .routes(routes!(api::security::vulnerabilities))
        .routes(routes!(api::security::scan))
        .routes(routes!(api::security::status))
        .routes(routes!(api::security::import))
        .routes(routes!(api::security::repo_summary))
        .routes(routes!(api::security::namespace_summary))
        .routes(routes!(api::packages::copy))
        .routes(routes!(api::packages::move_))
        .routes(routes!(api::packages::restore))
        .routes(routes!(api::packages::resync))
        .routes(routes!(api::packages::yank))
        .routes(routes!(api::promotions::promote))
        .routes(routes!(api::packages::quarantine))
        .routes(routes!(api::webhooks::create, api::webhooks::list))
        .routes(routes!(
            api::webhooks::get,
            api::webhooks::update,
            api::webhooks::delete
        ))
        .routes(routes!(api::webhooks::ping))
        .routes(routes!(api::webhooks::deliveries))
        .routes(routes!(api::webhooks::redeliver))
        .routes(routes!(api::system::jobs))
        .routes(routes!(api::tokens::revoke))
        .routes(routes!(
            api::tokens::create_entitlement,
            api::tokens::list_entitlements
        ))
        .routes(routes!(
            api::access_control::create_user,
            api::access_control::list_users
        ))
        .routes(routes!(api::access_control::login))
        .routes(routes!(
            api::access_control::create_team,
            api::access_control::list_teams
        ))
        .routes(routes!(
            api::access_control::add_member,
            api::access_control::remove_member
        ))
        .routes(routes!(
            api::access_control::create_service_account,
            api::access_control::list_service_accounts
        ))
        .routes(routes!(
            api::access_control::list_privileges,
            api::access_control::set_privilege,
            api::access_control::revoke_privilege
        ))
        .routes(routes!(api::audit::audit))
        .routes(routes!(api::upstreams::create, api::upstreams::list))
        .routes(routes!(
            api::upstreams::get,
            api::upstreams::update,
            api::upstreams::delete
        ))
        .routes(routes!(api::policies::create, api::policies::list))
        .routes(routes!(api::decisions::decisions))
        .routes(routes!(
            api::policies::get,
            api::policies::update,
            api::policies::delete
        ))
        .routes(routes!(api::policies::simulate))
        .routes(routes!(api::rules::create_rule, api::rules::list_rules))
        .routes(routes!(api::rules::update_rule, api::rules::delete_rule))
        .routes(routes!(api::exceptions::list_namespace))
        .routes(routes!(api::exceptions::create, api::exceptions::list_repo))
        .routes(routes!(api::exceptions::delete))
        .routes(routes!(api::exceptions::openvex))
        .routes(routes!(api::policies::tags))
        .routes(routes!(api::sbom::package))
        .routes(routes!(api::sbom::repository))
        .routes(routes!(api::attestations::list))
        .routes(routes!(api::attestations::keys))
        .routes(routes!(api::attestations::rotate))
        .routes(routes!(api::signing::list))
        .routes(routes!(api::signing::rotate))
        .routes(routes!(api::retention::create, api::retention::list))
        .routes(routes!(api::retention::delete))
        .routes(routes!(api::retention::run))
}

/// The OpenAPI document of the REST API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    document_common_errors(&mut doc);
    doc
}

/// Error answers any operation can give, whatever its handler does: a malformed path, query
/// or body (400), a bad or expired token (401), an address outside a repository's allowlist
/// or a missing privilege (403), something that is not there or not visible (404), too many
/// failed authentications (429), and for operations with a body, one that does not fit its
/// schema (422). Each is documented on every operation that does not
/// document it already, so the document matches what clients really get.
fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    const COMMON: &[(&str, &str)] = &[
        ("400", "the request is malformed"),
        ("401", "the credentials are invalid or expired"),
        (
            "403",
            "the caller may not do this, or its address is not allowed",
        ),
        ("404", "not found, or not visible to the caller"),
        ("429", "too many failed authentications from this address"),
    ];
    for item in doc.paths.paths.values_mut() {
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let with_body: &[(&str, &str)] = if operation.request_body.is_some() {
                &[("422", "the body does not fit the operation's schema")]
            } else {
                &[]
            };
            for (status, description) in COMMON.iter().chain(with_body) {
                if operation.responses.responses.contains_key(*status) {
                    continue;
                }
                let response = ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .insert((*status).to_owned(), response.into());
            }
        }
    }
}

/// Every route the server answers: (method, path template), REST, native and the web
/// interface's.
pub fn route_table() -> Vec<(String, String)> {
    crate::formats::install();
    let doc = serde_json::to_value(openapi()).unwrap_or_default();
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .into_iter()
                .flatten()
                .filter(|(method, _)| {
                    matches!(
                        method.as_str(),
                        "get" | "post" | "put" | "patch" | "delete" | "head"
                    )
                })
                .map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect();
    routes.push(("GET".into(), "/api/v1/openapi.json".into()));
    let (_, native) = crate::plugin::plugins().routes();
    routes.extend(native.into_iter().map(|(m, p)| (m.to_owned(), p)));
    routes.extend(
        gantry_web::route_table()
            .into_iter()
            .map(|(m, p)| (m.to_owned(), p.to_owned())),
    );
    routes.sort();
    routes
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed("method not allowed on this route".into())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal("handler panicked".into()).into_response()
}

pub fn build_router(app: Arc<App>) -> Router {
    crate::formats::install();
    let (api, mut openapi) = api_router().split_for_parts();
    document_common_errors(&mut openapi);
    let openapi = Arc::new(openapi);
    let core: Router = api
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = Arc::clone(&openapi);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(crate::plugin::plugins().routes().0)
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            metrics::track,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            crate::audit::record_denials,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            gantry_protocol::caches::invalidate_after_writes,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&app));
    // The web interface acts through this same router, in process: its pages can do only
    // what the API lets the signed-in caller do.
    gantry_web::router(app, core.clone())
        .fallback_service(core)
        .layer(middleware::from_fn(crate::middleware::security_headers))
        .layer(middleware::from_fn(crate::drain::drain_unread_bodies))
        .layer(CatchPanicLayer::custom(panic_response))
}
