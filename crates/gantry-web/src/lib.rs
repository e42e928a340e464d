//! Gantry's web interface: server-rendered pages under `/ui/` (maud templates, one small
//! stylesheet, a little optional JavaScript), embedded in the binary.
//!
//! The pages hold no rules of their own. Every read and every action is a request to the REST
//! API's own router, made in process with the signed-in caller attached (see [`api`]), so a
//! page can show and do exactly what the API allows that caller: the same privileges, the
//! same private-repository answers, the same promotion gate. What the interface adds is the
//! browser's side of security: sessions in the database ([`session`], [`store`]), CSRF
//! tokens on every form (also in [`session`]) and a strict content security policy ([`layout`]).

mod api;
mod assets;
mod error;
mod form;
mod layout;
mod pages;
mod routes;
mod session;
mod store;
mod view;

use std::sync::Arc;

use axum::response::Redirect;
use axum::Router;
use gantry_protocol::app::App;

use routes::Routes;
pub use store::{sweep_expired as sweep_expired_sessions, MIGRATIONS};

/// What every page handler reaches: the application and the API it acts through.
pub(crate) struct Web {
    pub(crate) app: Arc<App>,
    pub(crate) api: api::Api,
}

pub(crate) type WebState = Arc<Web>;

/// The web interface's routes (`/` and `/ui/…`). `api` is the server's router without
/// them: the pages' requests go there, in process.
pub fn router(app: Arc<App>, api: Router) -> Router {
    let web = Arc::new(Web {
        app,
        api: api::Api::new(api),
    });
    routes().router.with_state(web)
}

/// Every route of the interface: (method, path template).
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().table
}

fn routes() -> Routes {
    use pages::*;
    Routes::new()
        .get("/", || async { Redirect::to("/ui/") })
        .get("/ui", || async { Redirect::to("/ui/") })
        .get("/ui/", home::page)
        .get("/ui/-/static/{file}", assets::serve)
        .page("/ui/-/sign-in", sign_in::form, sign_in::submit)
        .post("/ui/-/sign-out", sign_in::sign_out)
        .get("/ui/-/go", home::go)
        .page("/ui/-/tokens", tokens::page, tokens::create)
        .page("/ui/-/users", access::users, access::create_user)
        .post("/ui/-/tokens/{id}/revoke", tokens::revoke)
        .page("/ui/{owner}", namespace::page, namespace::create_repo)
        .get("/ui/{owner}/-/security", security::namespace)
        .get("/ui/{owner}/-/audit", audit::page)
        .get("/ui/{owner}/-/access", access::page)
        .post("/ui/{owner}/-/access/{action}", access::act)
        .page("/ui/{owner}/-/policies", policies::list, policies::create)
        .page(
            "/ui/{owner}/-/policies/{name}",
            policies::page,
            policies::submit,
        )
        .get("/ui/{owner}/{repo}/-/automation", automation::page)
        .post("/ui/{owner}/{repo}/-/automation/{what}", automation::act)
        .get(
            "/ui/{owner}/{repo}/-/automation/{what}/{id}",
            automation_edit::page,
        )
        .post(
            "/ui/{owner}/{repo}/-/automation/{what}/{id}/{action}",
            automation::change,
        )
        .get("/ui/{owner}/{repo}", repo::page)
        .page(
            "/ui/{owner}/{repo}/-/settings",
            settings::page,
            settings::save,
        )
        .get("/ui/{owner}/{repo}/-/retention", retention::page)
        .post("/ui/{owner}/{repo}/-/retention/{action}", retention::act)
        .post(
            "/ui/{owner}/{repo}/-/retention/{id}/delete",
            retention::delete,
        )
        .page(
            "/ui/{owner}/{repo}/-/exceptions",
            exceptions::page,
            exceptions::create,
        )
        .post(
            "/ui/{owner}/{repo}/-/exceptions/{id}/delete",
            exceptions::delete,
        )
        .page(
            "/ui/{owner}/{repo}/-/entitlements",
            entitlements::page,
            entitlements::create,
        )
        .post(
            "/ui/{owner}/{repo}/-/entitlements/{id}/revoke",
            entitlements::revoke,
        )
        .get("/ui/{owner}/{repo}/-/security", security::repository)
        .upload("/ui/{owner}/{repo}/-/upload", upload::form, upload::submit)
        .post("/ui/{owner}/{repo}/-/promote", promote::bulk)
        .page(
            "/ui/{owner}/{repo}/-/webhooks",
            webhooks::page,
            webhooks::create,
        )
        .get("/ui/{owner}/{repo}/-/webhooks/{id}", webhooks::detail)
        .post("/ui/{owner}/{repo}/-/webhooks/{id}/ping", webhooks::ping)
        .post(
            "/ui/{owner}/{repo}/-/webhooks/{id}/deliveries/{delivery}/redeliver",
            webhooks::redeliver,
        )
        .get("/ui/{owner}/{repo}/{slug}", package::page)
        .post("/ui/{owner}/{repo}/{slug}/{action}", actions::act)
}
