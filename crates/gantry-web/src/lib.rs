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
mod context;
mod error;
mod form;
mod layout;
mod pages;
mod place;
mod routes;
mod session;
mod store;
mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
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

/// A namespace page's path: `/ui/{owner}` and what follows.
macro_rules! ns {
    ($tail:literal) => {
        concat!("/ui/{owner}", $tail)
    };
}

/// A repository page's path: `/ui/{owner}/{repo}` and what follows.
macro_rules! repo {
    ($tail:literal) => {
        concat!("/ui/{owner}/{repo}", $tail)
    };
}

fn routes() -> Routes {
    use pages::*;
    // The upload's body limit is the API upload route's, applied there to the streamed file.
    let upload_submit = upload::submit.layer(DefaultBodyLimit::disable());
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
        .page(ns!(""), namespace::page, namespace::create_repo)
        .get(ns!("/-/security"), security::namespace)
        .get(ns!("/-/audit"), audit::page)
        .get(ns!("/-/access"), access::page)
        .post(ns!("/-/access/{action}"), access::act)
        .page(ns!("/-/policies"), policies::list, policies::create)
        .page(ns!("/-/policies/{name}"), policies::page, policies::submit)
        .get(repo!("/-/automation"), automation::page)
        .post(repo!("/-/automation/{what}"), automation::act)
        .get(repo!("/-/automation/{what}/{id}"), automation_edit::page)
        .post(
            repo!("/-/automation/{what}/{id}/{action}"),
            automation::change,
        )
        .get(repo!(""), repo::page)
        .page(repo!("/-/settings"), settings::page, settings::save)
        .get(repo!("/-/retention"), retention::page)
        .post(repo!("/-/retention/{action}"), retention::act)
        .post(repo!("/-/retention/{id}/delete"), retention::delete)
        .page(repo!("/-/exceptions"), exceptions::page, exceptions::create)
        .post(repo!("/-/exceptions/{id}/delete"), exceptions::delete)
        .page(
            repo!("/-/entitlements"),
            entitlements::page,
            entitlements::create,
        )
        .post(repo!("/-/entitlements/{id}/revoke"), entitlements::revoke)
        .get(repo!("/-/security"), security::repository)
        .page(repo!("/-/upload"), upload::form, upload_submit)
        .post(repo!("/-/promote"), promote::bulk)
        .page(repo!("/-/webhooks"), webhooks::page, webhooks::create)
        .get(repo!("/-/webhooks/{id}"), webhooks::detail)
        .post(repo!("/-/webhooks/{id}/ping"), webhooks::ping)
        .post(
            repo!("/-/webhooks/{id}/deliveries/{delivery}/redeliver"),
            webhooks::redeliver,
        )
        .get(repo!("/{slug}"), package::page)
        .post(repo!("/{slug}/{action}"), actions::act)
}
