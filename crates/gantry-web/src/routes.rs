//! The interface's routes, recorded as they are added: the same list builds the router and
//! the route table (`gantry admin routes`, the access matrix, the docs check), so the table
//! cannot drift from what the server answers.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::WebState;

pub(crate) struct Routes {
    pub(crate) router: Router<WebState>,
    pub(crate) table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub(crate) fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(
        mut self,
        path: &'static str,
        methods: &[&'static str],
        route: MethodRouter<WebState>,
    ) -> Self {
        self.table.extend(methods.iter().map(|m| (*m, path)));
        self.router = self.router.route(path, route);
        self
    }

    /// A page.
    pub(crate) fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, WebState>,
        T: 'static,
    {
        self.add(path, &["GET"], get(handler))
    }

    /// A form's action.
    pub(crate) fn post<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, WebState>,
        T: 'static,
    {
        self.add(path, &["POST"], post(handler))
    }

    /// A page and the action of its form.
    pub(crate) fn page<G, TG, P, TP>(self, path: &'static str, page: G, action: P) -> Self
    where
        G: Handler<TG, WebState>,
        TG: 'static,
        P: Handler<TP, WebState>,
        TP: 'static,
    {
        self.add(path, &["GET", "POST"], get(page).post(action))
    }

    /// A page whose form sends a file: the body limit is the API upload route's, applied
    /// there to the streamed file.
    pub(crate) fn upload<G, TG, P, TP>(self, path: &'static str, page: G, action: P) -> Self
    where
        G: Handler<TG, WebState>,
        TG: 'static,
        P: Handler<TP, WebState>,
        TP: 'static,
    {
        self.add(
            path,
            &["GET", "POST"],
            get(page).post(action).layer(DefaultBodyLimit::disable()),
        )
    }
}
