//! What every page handler works with: the application, who asks, and where ([`Ctx`]); what
//! a page shows above its content ([`Flash`]); and the one way a form's request goes to the
//! API, its refusal showing the form's page again ([`Ctx::send`]).

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gantry_core::Repository;
use maud::{html, Markup, Render};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{enc, Answer};
use crate::error::UiError;
use crate::form::{Form, Posted};
use crate::layout;
use crate::place::{Crumb, Place, RepoAt};
use crate::session::Viewer;
use crate::view::{error_box, notice, redirect, NoticeQuery};
use crate::WebState;

/// A page's request: the application, the viewer, and the place (`P`) its path names.
pub(crate) struct Ctx<P> {
    pub(crate) web: WebState,
    pub(crate) viewer: Viewer,
    pub(crate) at: P,
}

/// The viewer first, then the place, as the pages always read them (a bad token answers
/// before a malformed name).
impl<P> FromRequestParts<WebState> for Ctx<P>
where
    P: FromRequestParts<WebState, Rejection = UiError> + Send,
{
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, web: &WebState) -> Result<Self, UiError> {
        let viewer = Viewer::from_request_parts(parts, web).await?;
        let at = P::from_request_parts(parts, web).await?;
        Ok(Self {
            web: Arc::clone(web),
            viewer,
            at,
        })
    }
}

/// A form sent to a page at `P`, with its sender's CSRF token checked (see [`Posted`]).
pub(crate) struct Submitted<P> {
    pub(crate) cx: Ctx<P>,
    pub(crate) form: Form,
}

impl<P> FromRequest<WebState> for Submitted<P>
where
    P: FromRequestParts<WebState, Rejection = UiError> + Send,
{
    type Rejection = UiError;

    async fn from_request(request: Request, web: &WebState) -> Result<Self, UiError> {
        let (mut parts, body) = request.into_parts();
        // A form without its token is refused before anything else is read.
        let Posted { viewer, form } = Posted::read(&mut parts, body, web).await?;
        let at = P::from_request_parts(&mut parts, web).await?;
        let cx = Ctx {
            web: Arc::clone(web),
            viewer,
            at,
        };
        Ok(Self { cx, form })
    }
}

impl<P> Ctx<P> {
    /// GETs `path` from the API as the viewer and reads its JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, UiError> {
        self.web.api.get(&self.viewer, path).await
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, UiError> {
        self.web.api.call(&self.viewer, method, path, body).await
    }

    /// Sends a form's request to the API as the viewer. On a refusal the form's page is shown
    /// again (`again`, given the API's message) with the API's status, so that scripts see
    /// what people see; when the page itself cannot be shown to this viewer, the refusal
    /// alone. Either way it comes back as the error, which ends the handler.
    pub(crate) async fn send<F, Fut>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        again: F,
    ) -> Result<Answer, UiError>
    where
        F: FnOnce(Flash) -> Fut,
        Fut: Future<Output = Result<Response, UiError>>,
    {
        let answer = self.call(method, path, body).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        match again(Flash::Error(answer.message())).await {
            Ok(mut page) => {
                *page.status_mut() = answer.status;
                Err(UiError::Shown(Box::new(page)))
            }
            Err(_) => Err(UiError::from_answer(&answer)),
        }
    }
}

impl<P: Place> Ctx<P> {
    /// The whole page, under the place's breadcrumbs and then `more`.
    pub(crate) fn page_under(&self, title: &str, more: &[Crumb<'_>], body: Markup) -> Response {
        let mut crumbs = self.at.crumbs();
        crumbs.extend(more.iter().cloned());
        layout::page(&self.viewer, title, &crumbs, body)
    }

    /// The whole page, under the place's breadcrumbs.
    pub(crate) fn page(&self, title: &str, body: Markup) -> Response {
        self.page_under(title, &[], body)
    }
}

impl Ctx<RepoAt> {
    /// The repository as the viewer may see it (404 for what they may not).
    pub(crate) async fn repository(&self) -> Result<Repository, UiError> {
        self.get(&self.at.api("repos")).await
    }

    /// Whether the viewer administers the repository (the API shows its access settings to
    /// its admins only).
    pub(crate) async fn administers(&self) -> Result<bool, UiError> {
        Ok(self.repository().await?.permissions.is_some())
    }

    /// Deletes one item of the repository's lists (`{api}/{id}`), then back to its page
    /// (`page`, under the repository) with a notice; a refusal shows the page again.
    pub(crate) async fn delete_item<F, Fut>(
        &self,
        api: &str,
        id: &str,
        page: &str,
        again: F,
    ) -> Result<Response, UiError>
    where
        F: FnOnce(Flash) -> Fut,
        Fut: Future<Output = Result<Response, UiError>>,
    {
        let path = format!("{api}/{}", enc(id));
        self.send(Method::DELETE, &path, None, again).await?;
        Ok(redirect(
            &self.at.ui(&format!("{page}?notice=deleted-item")),
        ))
    }

    /// The repository as its admin sees it: the API shows the access settings to admins
    /// only, so a viewer who gets none is not one.
    pub(crate) async fn administered(&self) -> Result<Repository, UiError> {
        let repository = self.repository().await?;
        if repository.permissions.is_none() {
            return Err(UiError::Api {
                status: StatusCode::FORBIDDEN,
                message: format!("this page needs the admin privilege on {}", self.at),
            });
        }
        Ok(repository)
    }
}

/// What a page shows above its content: nothing, a notice a redirect asked for (by code),
/// the API's refusal of a form, or what an action produced (a new secret, a run's result).
pub(crate) enum Flash {
    Nothing,
    Notice(String),
    Error(String),
    Shown(Markup),
}

impl From<NoticeQuery> for Flash {
    fn from(query: NoticeQuery) -> Self {
        query.notice.map_or(Flash::Nothing, Flash::Notice)
    }
}

/// A page's `?notice=CODE`.
impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = <Query<NoticeQuery> as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<NoticeQuery>::from_request_parts(parts, state).await?;
        Ok(query.into())
    }
}

impl Render for Flash {
    fn render(&self) -> Markup {
        match self {
            Flash::Nothing => html! {},
            Flash::Notice(code) => notice(Some(code)),
            Flash::Error(message) => error_box(Some(message)),
            Flash::Shown(markup) => markup.clone(),
        }
    }
}
