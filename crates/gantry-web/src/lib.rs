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
mod session;
mod store;
mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use gantry_protocol::app::App;

pub use store::MIGRATIONS;

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
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::home::page))
        .route("/ui/-/static/{file}", get(assets::serve))
        .route(
            "/ui/-/sign-in",
            get(pages::sign_in::form).post(pages::sign_in::submit),
        )
        .route("/ui/-/sign-out", post(pages::sign_in::sign_out))
        .route("/ui/-/go", get(pages::home::go))
        .route(
            "/ui/-/tokens",
            get(pages::tokens::page).post(pages::tokens::create),
        )
        .route("/ui/-/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route(
            "/ui/{owner}",
            get(pages::namespace::page).post(pages::namespace::create_repo),
        )
        .route("/ui/{owner}/-/security", get(pages::security::namespace))
        .route("/ui/{owner}/-/audit", get(pages::audit::page))
        .route(
            "/ui/{owner}/-/policies",
            get(pages::policies::list).post(pages::policies::create),
        )
        .route(
            "/ui/{owner}/-/policies/{name}",
            get(pages::policies::page).post(pages::policies::submit),
        )
        .route(
            "/ui/{owner}/{repo}/-/automation",
            get(pages::automation::page),
        )
        .route(
            "/ui/{owner}/{repo}/-/automation/{what}",
            post(pages::automation::act),
        )
        .route(
            "/ui/{owner}/{repo}/-/automation/{what}/{id}/delete",
            post(pages::automation::delete),
        )
        .route("/ui/{owner}/{repo}", get(pages::repo::page))
        .route(
            "/ui/{owner}/{repo}/-/security",
            get(pages::security::repository),
        )
        .route(
            "/ui/{owner}/{repo}/-/upload",
            // The API's upload route applies its own limits to the streamed file.
            get(pages::upload::form)
                .post(pages::upload::submit)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/ui/{owner}/{repo}/-/promote", post(pages::promote::bulk))
        .route(
            "/ui/{owner}/{repo}/-/webhooks",
            get(pages::webhooks::page).post(pages::webhooks::create),
        )
        .route(
            "/ui/{owner}/{repo}/-/webhooks/{id}",
            get(pages::webhooks::detail),
        )
        .route(
            "/ui/{owner}/{repo}/-/webhooks/{id}/ping",
            post(pages::webhooks::ping),
        )
        .route(
            "/ui/{owner}/{repo}/-/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(pages::webhooks::redeliver),
        )
        .route("/ui/{owner}/{repo}/{slug}", get(pages::package::page))
        .route(
            "/ui/{owner}/{repo}/{slug}/{action}",
            post(pages::actions::act),
        )
        .with_state(web)
}
